"""Replicate: a prediction on an official model (``black-forest-labs/flux-schnell`` by default).

``POST /v1/models/<owner>/<name>/predictions`` with ``Prefer: wait`` (``owner/name:version`` uses
``POST /v1/predictions``), then ``urls.get`` is polled until the status is ``succeeded``, ``failed``
or ``canceled``; ``output`` (a URL or a list of URLs) is downloaded. Errors are
``{"title", "detail", "status"}``. Key: ``REPLICATE_API_TOKEN``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mimo2codex.secret import Secret
from mimo2codex.skills.engines.base import EngineOptions, ImageJob, env_value, error_message
from mimo2codex.skills.failure import MissingKey, ServiceError
from mimo2codex.skills.http_client import HttpClient, HttpResponse

NAME = "replicate"
KEY_ENV = "REPLICATE_API_TOKEN"
URL_ENV = "MIMO2CODEX_REPLICATE_URL"
DEFAULT_URL = "https://api.replicate.com/v1"
DEFAULT_MODEL = "black-forest-labs/flux-schnell"
#: image-to-image: FLUX Kontext takes the reference as ``input_image``
REFERENCE_MODEL = "black-forest-labs/flux-kontext-pro"
ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
TERMINAL = {"succeeded", "failed", "canceled"}


def configured(env: Mapping[str, str], options: EngineOptions) -> bool:
    return env_value(env, KEY_ENV) is not None


def aspect_ratio(size: tuple[int, int]) -> str:
    """The supported ratio nearest to width/height."""
    wanted = size[0] / size[1]

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(int(w) / int(h) - wanted)

    return min(ASPECT_RATIOS, key=distance)


class ReplicateEngine:
    name = NAME

    def __init__(self, http: HttpClient, token: Secret, base_url: str, *, poll_interval: float = 0.5) -> None:
        self.http = http
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.poll_interval = poll_interval

    def model_for(self, job: ImageJob) -> str:
        return job.model or (REFERENCE_MODEL if job.reference is not None else DEFAULT_MODEL)

    def notes(self, job: ImageJob) -> list[str]:
        return [f"replicate: --quality {job.quality} is ignored"] if job.quality != "auto" else []

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.reveal()}"}

    def _fail(self, what: str, answer: HttpResponse) -> ServiceError:
        return ServiceError(f"replicate {what} answered HTTP {answer.status}: {error_message(answer)}")

    def generate(self, job: ImageJob) -> list[bytes]:
        model = self.model_for(job)
        inputs: dict[str, Any] = {"prompt": job.prompt, "num_outputs": job.n, "output_format": "png"}
        if job.size is not None:
            inputs["aspect_ratio"] = aspect_ratio(job.size)
        if job.seed is not None:
            inputs["seed"] = job.seed
        if job.reference is not None:
            inputs["input_image"] = job.reference.data_url()
        owner_name, _, version = model.partition(":")
        if version:
            url, body = f"{self.base_url}/predictions", {"version": version, "input": inputs}
        else:
            url, body = f"{self.base_url}/models/{owner_name}/predictions", {"input": inputs}
        answer = self.http.send("POST", url, json_body=body, headers={**self._headers(), "Prefer": "wait=60"})
        if not answer.ok:
            raise self._fail(f"({model})", answer)
        prediction = self._settle(answer.json())
        return [self._download(link) for link in _output_urls(prediction.get("output"))]

    def _settle(self, prediction: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self.http.timeout
        while True:
            if not isinstance(prediction, dict):
                raise ServiceError("replicate answered something that is not a prediction")
            status = prediction.get("status")
            if status == "succeeded":
                return prediction
            if status in TERMINAL:
                reason = prediction.get("error") or "no reason given"
                raise ServiceError(f"replicate prediction {prediction.get('id')} {status}: {reason}")
            link = (prediction.get("urls") or {}).get("get")
            if not isinstance(link, str) or time.monotonic() > deadline:
                raise ServiceError(f"replicate prediction {prediction.get('id')} did not finish (status {status})")
            time.sleep(self.poll_interval)
            answer = self.http.send("GET", link, headers=self._headers())
            if not answer.ok:
                raise self._fail("prediction status", answer)
            prediction = answer.json()

    def _download(self, link: str) -> bytes:
        answer = self.http.send("GET", link)
        if not answer.ok:
            raise ServiceError(f"replicate: downloading {link} answered HTTP {answer.status}")
        return answer.body


def _output_urls(output: Any) -> list[str]:
    if isinstance(output, str):
        return [output]
    if isinstance(output, list) and output and all(isinstance(o, str) for o in output):
        return list(output)
    raise ServiceError(f"replicate: the prediction's output holds no image URLs: {str(output)[:200]}")


def build(env: Mapping[str, str], http: HttpClient, options: EngineOptions) -> ReplicateEngine:
    token = env_value(env, KEY_ENV)
    if token is None:
        raise MissingKey(f"the replicate engine needs {KEY_ENV} (get one at https://replicate.com/account/api-tokens)")
    return ReplicateEngine(http, Secret(token), env_value(env, URL_ENV) or DEFAULT_URL)
