"""OpenAI's Images API: ``gpt-image-1`` by default (``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` honoured).

``POST /images/generations`` (JSON) for a prompt, ``POST /images/edits`` (multipart, ``image[]``) with
``--reference``. GPT image models answer ``b64_json`` and take ``quality`` low/medium/high/auto only:
never ``hd`` (a DALL·E 3 value they reject). They have no seed.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

from mimo2codex.secret import Secret
from mimo2codex.skills.engines.base import EngineOptions, ImageJob, env_value, error_message
from mimo2codex.skills.failure import MissingKey, ServiceError, UsageError
from mimo2codex.skills.http_client import HttpClient

NAME = "openai"
KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-image-1"
SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")


def configured(env: Mapping[str, str], options: EngineOptions) -> bool:
    return env_value(env, KEY_ENV) is not None


def _multipart(fields: Mapping[str, str], files: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "mimo2codex" + secrets.token_hex(12)
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, filename, mime, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {mime}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class OpenAIEngine:
    name = NAME

    def __init__(self, http: HttpClient, key: Secret, base_url: str) -> None:
        self.http = http
        self.key = key
        self.base_url = base_url.rstrip("/")

    def model_for(self, job: ImageJob) -> str:
        return job.model or DEFAULT_MODEL

    def notes(self, job: ImageJob) -> list[str]:
        return ["openai: GPT image models have no seed; --seed is ignored"] if job.seed is not None else []

    def generate(self, job: ImageJob) -> list[bytes]:
        if job.size_text not in SIZES:
            raise UsageError(f"openai: --size must be one of {', '.join(SIZES)} (got {job.size_text})")
        fields = {"model": self.model_for(job), "prompt": job.prompt, "n": str(job.n), "size": job.size_text}
        if job.quality in ("low", "medium", "high", "auto"):
            fields["quality"] = job.quality
        auth = {"Authorization": f"Bearer {self.key.reveal()}"}
        if job.reference is None:
            body: dict[str, Any] = {**fields, "n": job.n}
            answer = self.http.send("POST", f"{self.base_url}/images/generations", json_body=body, headers=auth)
        else:
            ref = job.reference
            payload, content_type = _multipart(fields, [("image[]", f"reference.{ref.fmt.ext}", ref.mime, ref.data)])
            answer = self.http.send(
                "POST",
                f"{self.base_url}/images/edits",
                body=payload,
                headers={**auth, "Content-Type": content_type},
            )
        if not answer.ok:
            raise ServiceError(f"openai answered HTTP {answer.status}: {error_message(answer)}")
        payload_json = answer.json()
        items = payload_json.get("data") if isinstance(payload_json, dict) else None
        if not isinstance(items, list) or not items:
            raise ServiceError(f"openai answered without images: {answer.text(200)}")
        images: list[bytes] = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
                images.append(base64.b64decode(item["b64_json"]))
            elif isinstance(item, dict) and isinstance(item.get("url"), str):
                got = self.http.send("GET", item["url"])
                if not got.ok:
                    raise ServiceError(f"openai: downloading {item['url']} answered HTTP {got.status}")
                images.append(got.body)
        return images


def build(env: Mapping[str, str], http: HttpClient, options: EngineOptions) -> OpenAIEngine:
    key = env_value(env, KEY_ENV)
    if key is None:
        raise MissingKey(f"the openai engine needs {KEY_ENV} (get a key at https://platform.openai.com/api-keys)")
    return OpenAIEngine(http, Secret(key), env_value(env, BASE_URL_ENV) or DEFAULT_BASE_URL)
