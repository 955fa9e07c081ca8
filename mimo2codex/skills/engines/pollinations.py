"""Pollinations: ``GET https://image.pollinations.ai/prompt/<prompt>?width&height&seed&model&nologo``.

No key needed. With a key (``POLLINATIONS_TOKEN``, from enter.pollinations.ai) the request goes to
the keyed gateway instead, ``GET https://gen.pollinations.ai/image/<prompt>`` with a Bearer header.
The answer is the image itself, usually a JPEG whatever was asked, which is why the command names
files after the bytes. One request per image; with ``--n`` above 1 each gets its own seed (the
service caches by URL).
"""

from __future__ import annotations

import random
import urllib.parse
from collections.abc import Mapping

from mimo2codex.skills.engines.base import EngineOptions, ImageJob, env_value, error_message
from mimo2codex.skills.failure import ServiceError, UsageError
from mimo2codex.skills.http_client import HttpClient

NAME = "pollinations"
URL_ENV = "MIMO2CODEX_POLLINATIONS_URL"
TOKEN_ENV = "POLLINATIONS_TOKEN"
DEFAULT_URL = "https://image.pollinations.ai"
KEYED_URL = "https://gen.pollinations.ai"
DEFAULT_MODEL = "flux"
DEFAULT_SIZE = (1024, 1024)


def configured(env: Mapping[str, str], options: EngineOptions) -> bool:
    return True  # keyless: the last resort of "auto"


class PollinationsEngine:
    name = NAME

    def __init__(self, http: HttpClient, base_url: str, token: str | None) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    def model_for(self, job: ImageJob) -> str:
        return job.model or DEFAULT_MODEL

    def notes(self, job: ImageJob) -> list[str]:
        return [f"pollinations: --quality {job.quality} is ignored"] if job.quality != "auto" else []

    def generate(self, job: ImageJob) -> list[bytes]:
        if job.reference is not None:
            raise UsageError("pollinations cannot start from --reference; use openai, replicate or sd-webui")
        width, height = job.size or DEFAULT_SIZE
        if job.seed is not None:
            seeds: list[int | None] = [job.seed + i for i in range(job.n)]
        else:
            seeds = [None] if job.n == 1 else [random.randrange(1, 2**31) for _ in range(job.n)]
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        images = []
        for seed in seeds:
            query = {"width": width, "height": height, "model": self.model_for(job), "nologo": "true"}
            if seed is not None:
                query["seed"] = seed
            path = "image" if self.token else "prompt"  # the keyed gateway's route / the keyless one's
            url = f"{self.base_url}/{path}/{urllib.parse.quote(job.prompt, safe='')}?{urllib.parse.urlencode(query)}"
            answer = self.http.send("GET", url, headers=headers)
            if not answer.ok:
                raise ServiceError(f"pollinations answered HTTP {answer.status}: {error_message(answer)}")
            if not answer.content_type.startswith("image/"):
                raise ServiceError(f"pollinations answered {answer.content_type or 'no content type'}, not an image")
            images.append(answer.body)
        return images


def build(env: Mapping[str, str], http: HttpClient, options: EngineOptions) -> PollinationsEngine:
    token = env_value(env, TOKEN_ENV)
    return PollinationsEngine(http, env_value(env, URL_ENV) or (KEYED_URL if token else DEFAULT_URL), token)
