"""AUTOMATIC1111's Stable Diffusion web UI (started with ``--api``) at a configurable URL.

``POST /sdapi/v1/txt2img``, or ``/sdapi/v1/img2img`` with ``init_images`` for ``--reference``; the
answer's ``images`` are base64 PNGs. A server started without ``--api`` answers 404 ``{"detail":
"Not Found"}``; a bad field, 422 with FastAPI's ``detail`` list. URL: ``--sd-url``, else
``MIMO2CODEX_SD_WEBUI_URL``, else http://127.0.0.1:7860; ``auto`` only picks it when one is given.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from mimo2codex.skills.engines.base import EngineOptions, ImageJob, env_value, error_message
from mimo2codex.skills.failure import ServiceError
from mimo2codex.skills.http_client import HttpClient

NAME = "sd-webui"
URL_ENV = "MIMO2CODEX_SD_WEBUI_URL"
DEFAULT_URL = "http://127.0.0.1:7860"
DEFAULT_SIZE = (1024, 1024)
#: sampling steps per --quality
STEPS = {"low": 15, "medium": 25, "high": 40, "auto": 25}
#: how far img2img may move from the reference
DENOISING = 0.6


def configured(env: Mapping[str, str], options: EngineOptions) -> bool:
    return bool(options.sd_url or env_value(env, URL_ENV))


class SDWebUIEngine:
    name = NAME

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    def model_for(self, job: ImageJob) -> str:
        return job.model or "(the web UI's loaded checkpoint)"

    def notes(self, job: ImageJob) -> list[str]:
        return []

    def generate(self, job: ImageJob) -> list[bytes]:
        width, height = job.size or DEFAULT_SIZE
        body: dict[str, Any] = {
            "prompt": job.prompt,
            "negative_prompt": "",
            "width": width,
            "height": height,
            "seed": job.seed if job.seed is not None else -1,
            "steps": STEPS.get(job.quality, STEPS["auto"]),
            "batch_size": job.n,
            "n_iter": 1,
        }
        if job.model:
            body["override_settings"] = {"sd_model_checkpoint": job.model}
        endpoint = "txt2img"
        if job.reference is not None:
            endpoint = "img2img"
            body["init_images"] = [base64.b64encode(job.reference.data).decode("ascii")]
            body["denoising_strength"] = DENOISING
        answer = self.http.send("POST", f"{self.base_url}/sdapi/v1/{endpoint}", json_body=body)
        if answer.status == 404:
            raise ServiceError(
                f"{self.base_url} has no /sdapi/v1/{endpoint}: start the web UI with --api (it answered 404)"
            )
        if not answer.ok:
            raise ServiceError(f"sd-webui answered HTTP {answer.status}: {error_message(answer)}")
        payload = answer.json()
        images = payload.get("images") if isinstance(payload, dict) else None
        if not isinstance(images, list) or not images:
            raise ServiceError(f"sd-webui answered without images: {answer.text(200)}")
        # Extensions (ControlNet...) append their own preview images after the batch.
        return [base64.b64decode(str(image).split(",", 1)[-1]) for image in images[: job.n]]


def build(env: Mapping[str, str], http: HttpClient, options: EngineOptions) -> SDWebUIEngine:
    return SDWebUIEngine(http, options.sd_url or env_value(env, URL_ENV) or DEFAULT_URL)
