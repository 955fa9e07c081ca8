"""Local fakes of the image services ``mimo2codex image`` and ``pet`` talk to, each strict like the
real one and answering its errors in the real shapes (learned from each service's API reference):

- :class:`FakeOpenAIImages`: ``POST /v1/images/generations`` (JSON) and ``/v1/images/edits``
  (multipart, ``image[]``). Bearer key; ``quality`` only low/medium/high/auto ("hd" is refused with
  OpenAI's ``invalid_value`` error); sizes of gpt-image-1; unknown parameters refused
  (``unknown_parameter``); answers ``{"created", "data": [{"b64_json"}], "usage"}`` (PNG).
- :class:`FakePollinations`: ``GET /prompt/<prompt>?width&height&seed&model&nologo``; answers a JPEG
  whatever was asked (as the real one does); 400 ``{"error"}`` for a bad number, 429 when queued.
- :class:`FakeReplicate`: ``POST /v1/models/<owner>/<name>/predictions``, ``GET /v1/predictions/<id>``
  (``starting`` -> ``processing`` -> ``succeeded``/``failed``), output files served by the fake;
  errors ``{"title", "detail", "status"}`` (401, 404, 422 with ``invalid_fields``).
- :class:`FakeSDWebUI`: AUTOMATIC1111 ``POST /sdapi/v1/txt2img`` and ``img2img``; 404
  ``{"detail": "Not Found"}`` when started without ``--api``; FastAPI 422 ``{"detail": [{loc, msg,
  type}]}`` for a bad field; answers ``{"images": [base64 PNG], "parameters", "info"}``.

Each records its requests (``.requests``: method, path, query, headers, body) and runs in a
background thread: ``with FakeOpenAIImages().running() as fake: fake.url``. ``fail_next(status,
body)`` makes the next request fail with that answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.policy
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any, ClassVar

from aiohttp import web
from PIL import Image


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 80, 40)
) -> bytes:
    """A real image of ``size`` (a drawn square on white, so a pet can cut the background away)."""
    image = Image.new("RGB", size, (255, 255, 255))
    inner = (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4)
    image.paste(color, inner)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


class FakeService:
    """The shared machinery: an aiohttp app on 127.0.0.1:<ephemeral>, a request log, scripted failures."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._failures: list[web.Response] = []
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake is not running")
        return f"http://127.0.0.1:{self._port}"

    def fail_next(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        kind = "text/plain" if isinstance(body, str) else "application/json"
        self._failures.append(web.Response(status=status, text=text, content_type=kind, headers=headers))

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        form: dict[str, Any] = {}
        if request.content_type.startswith("multipart/"):
            form = _multipart(request.headers["Content-Type"], body)
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                {k.lower(): v for k, v in request.headers.items()},
                body,
                form,
            )
        )
        if self._failures:
            return self._failures.pop(0)
        response: web.StreamResponse = await handler(request)
        return response

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record], client_max_size=64 << 20)
        self.routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @contextlib.contextmanager
    def running(self) -> Iterator[Any]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=type(self).__name__, daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart/form-data body as {field: text} and {file field: [{filename, content_type, data}]}."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename:
            form.setdefault(str(name), []).append(
                {"filename": filename, "content_type": part.get_content_type(), "data": data}
            )
        else:
            form[str(name)] = data.decode()
    return form


def _json(status: int, payload: Any) -> web.Response:
    return web.json_response(payload, status=status)


# -- OpenAI ----------------------------------------------------------------------------------------


def openai_error(
    status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> web.Response:
    return _json(status, {"error": {"message": message, "type": type, "param": param, "code": code}})


class FakeOpenAIImages(FakeService):
    MODELS = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")
    SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
    QUALITIES = ("low", "medium", "high", "auto")
    PARAMS: ClassVar[frozenset[str]] = frozenset(
        {
            "model",
            "prompt",
            "n",
            "size",
            "quality",
            "background",
            "moderation",
            "output_format",
            "output_compression",
            "user",
            "partial_images",
            "stream",
        }
    )
    EDIT_PARAMS: ClassVar[frozenset[str]] = PARAMS | {"image", "image[]", "mask", "input_fidelity"}

    def __init__(self, api_key: str = "sk-openai-fake", answer_format: str = "PNG") -> None:
        super().__init__()
        self.api_key = api_key
        self.answer_format = answer_format

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/images/generations", self._generations)
        app.router.add_post("/v1/images/edits", self._edits)

    def _auth(self, request: web.Request) -> web.Response | None:
        given = request.headers.get("Authorization", "")
        if given != f"Bearer {self.api_key}":
            shown = given.removeprefix("Bearer ")[:6]
            return openai_error(
                401,
                f"Incorrect API key provided: {shown}***. You can find your API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def _check(self, params: dict[str, Any], allowed: frozenset[str]) -> web.Response | None:
        for name in params:
            if name not in allowed:
                return openai_error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        if not params.get("prompt"):
            return openai_error(
                400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
            )
        model = params.get("model", "dall-e-2")
        if model not in self.MODELS:
            return openai_error(
                400,
                f"Invalid value: '{model}'. Value must be one of {', '.join(self.MODELS)}.",
                param="model",
                code="invalid_value",
            )
        quality = params.get("quality", "auto")
        if quality not in self.QUALITIES:
            return openai_error(
                400,
                f"Invalid value: '{quality}'. Supported values are: 'low', 'medium', 'high', and 'auto'.",
                param="quality",
                code="invalid_value",
            )
        size = params.get("size", "auto")
        if size not in self.SIZES:
            return openai_error(
                400,
                f"Invalid value: '{size}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                param="size",
                code="invalid_value",
            )
        n = int(params.get("n", 1))
        if not 1 <= n <= 10:
            return openai_error(
                400,
                f"Invalid 'n': integer above maximum value. Expected a value <= 10, but got {n} instead.",
                param="n",
                code="integer_above_max_value",
            )
        return None

    def _answer(self, n: int) -> web.Response:
        images = [
            {"b64_json": base64.b64encode(image_bytes(self.answer_format, (64, 64), (20 * i, 90, 200))).decode()}
            for i in range(n)
        ]
        usage = {
            "input_tokens": 12,
            "output_tokens": 272 * n,
            "total_tokens": 12 + 272 * n,
            "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
        }
        return _json(200, {"created": int(time.time()), "data": images, "usage": usage})

    async def _generations(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused:
            return refused
        try:
            params = json.loads(self.requests[-1].body)
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.")
        refused = self._check(params, self.PARAMS)
        return refused or self._answer(int(params.get("n", 1)))

    async def _edits(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused:
            return refused
        form = self.requests[-1].form
        if not form:
            return openai_error(400, "Invalid Content-Type header (application/json), expected multipart/form-data.")
        images = form.get("image[]") or form.get("image")
        if not images:
            return openai_error(
                400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter"
            )
        params = {k: v for k, v in form.items() if k not in ("image", "image[]", "mask")}
        refused = self._check(params, self.EDIT_PARAMS)
        for upload in images:
            if upload["content_type"] not in ("image/png", "image/jpeg", "image/webp"):
                return openai_error(
                    400,
                    f"Invalid file 'image': unsupported mimetype ('{upload['content_type']}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                    param="image",
                    code="invalid_image_file",
                )
        return refused or self._answer(int(params.get("n", 1)))


# -- Pollinations ----------------------------------------------------------------------------------


class FakePollinations(FakeService):
    """Both routes: the keyless ``/prompt/<p>`` and the keyed gateway's ``/image/<p>`` (Bearer key)."""

    def __init__(self, api_key: str = "pk_fake") -> None:
        super().__init__()
        self.api_key = api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/prompt/{prompt:.+}", self._image)
        app.router.add_get("/image/{prompt:.+}", self._keyed_image)

    async def _keyed_image(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json(
                401,
                {
                    "status": 401,
                    "success": False,
                    "error": {
                        "code": "UNAUTHORIZED",
                        "message": "Authentication required. Please provide an API key via Authorization header (Bearer token).",
                    },
                },
            )
        return await self._image(request)

    async def _image(self, request: web.Request) -> web.Response:
        for name in ("width", "height", "seed"):
            value = request.query.get(name)
            if value is not None and not re.fullmatch(r"-?\d+", value):
                return _json(400, {"error": f"Invalid {name}: expected an integer", "status": 400})
        width = int(request.query.get("width", 1024))
        height = int(request.query.get("height", 1024))
        if width > 2048 or height > 2048:
            return _json(400, {"error": "Width and height must be at most 2048", "status": 400})
        # Small stand-in pixels; the real service renders width x height and always sends JPEG.
        data = image_bytes("JPEG", (max(8, width // 16), max(8, height // 16)))
        return web.Response(body=data, content_type="image/jpeg")


# -- Replicate -------------------------------------------------------------------------------------


def replicate_error(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    return _json(status, {"title": title, "detail": detail, "status": status, **extra})


class FakeReplicate(FakeService):
    MODELS: ClassVar[dict[str, int]] = {"black-forest-labs/flux-schnell": 4, "black-forest-labs/flux-kontext-pro": 1}
    RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")

    def __init__(self, api_key: str = "r8_fake", *, polls: int = 0, fail_with: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        #: GETs answered "processing" before "succeeded" (0: Prefer: wait finishes it at once)
        self.polls = polls
        #: the prediction ends "failed" with this error
        self.fail_with = fail_with
        self.predictions: dict[str, dict[str, Any]] = {}
        self._remaining: dict[str, int] = {}
        self.files: dict[str, bytes] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/models/{owner}/{name}/predictions", self._create)
        app.router.add_get("/v1/predictions/{id}", self._get)
        app.router.add_get("/files/{name}", self._file)

    def _auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return replicate_error(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    async def _create(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused:
            return refused
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        if model not in self.MODELS:
            return replicate_error(404, "Not found", "The requested resource could not be found.")
        try:
            body = json.loads(self.requests[-1].body)
        except ValueError:
            return replicate_error(400, "Invalid JSON", "The request body is not valid JSON.")
        inputs = body.get("input")
        if not isinstance(inputs, dict):
            return replicate_error(422, "Input validation failed", "- input: Invalid type. Expected: object\n")
        problems = []
        if not inputs.get("prompt"):
            problems.append(("required", "input", "prompt is required"))
        outputs = inputs.get("num_outputs", 1)
        if outputs > self.MODELS[model]:
            problems.append(
                ("less_than_equal", "input.num_outputs", f"Must be less than or equal to {self.MODELS[model]}")
            )
        ratio = inputs.get("aspect_ratio", "1:1")
        if ratio not in self.RATIOS:
            problems.append(
                (
                    "enum",
                    "input.aspect_ratio",
                    f"input.aspect_ratio must be one of the following: {', '.join(self.RATIOS)}",
                )
            )
        if model.endswith("kontext-pro") and not str(inputs.get("input_image", "")).startswith(("data:", "http")):
            problems.append(("required", "input", "input_image is required"))
        if problems:
            detail = "".join(f"- {f}: {d}\n" for _, f, d in problems)
            fields = [{"type": t, "field": f, "description": d} for t, f, d in problems]
            return replicate_error(422, "Input validation failed", detail, invalid_fields=fields)
        ident = f"pred{len(self.predictions) + 1:04d}"
        prediction = {
            "id": ident,
            "model": model,
            "version": "hidden",
            "input": inputs,
            "logs": "",
            "output": None,
            "error": None,
            "status": "starting",
            "created_at": "2026-11-24T12:00:00.000Z",
            "urls": {
                "get": f"{self.url}/v1/predictions/{ident}",
                "cancel": f"{self.url}/v1/predictions/{ident}/cancel",
                "web": f"https://replicate.com/p/{ident}",
            },
        }
        self.predictions[ident] = prediction
        self._remaining[ident] = self.polls
        if self.polls == 0:
            self._finish(prediction, outputs)
        return _json(201, prediction)

    def _finish(self, prediction: dict[str, Any], outputs: int) -> None:
        if self.fail_with:
            prediction.update(status="failed", error=self.fail_with)
            return
        links = []
        for i in range(outputs):
            name = f"{prediction['id']}-{i}.png"
            self.files[name] = image_bytes("PNG", (48, 48), (30, 160, 60 + 40 * i))
            links.append(f"{self.url}/files/{name}")
        prediction.update(status="succeeded", output=links)

    async def _get(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused:
            return refused
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return replicate_error(404, "Not found", "The requested resource could not be found.")
        if prediction["status"] in ("starting", "processing"):
            if self._remaining[prediction["id"]] > 0:
                self._remaining[prediction["id"]] -= 1
                prediction["status"] = "processing"
            else:
                self._finish(prediction, int(prediction["input"].get("num_outputs", 1)))
        return _json(200, prediction)

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="image/png")


# -- AUTOMATIC1111 ---------------------------------------------------------------------------------


class FakeSDWebUI(FakeService):
    INTS = ("width", "height", "steps", "batch_size", "n_iter", "seed")

    def __init__(self, *, api: bool = True) -> None:
        super().__init__()
        #: False: like a web UI started without --api (every /sdapi route is 404)
        self.api = api

    def routes(self, app: web.Application) -> None:
        if self.api:
            app.router.add_post("/sdapi/v1/txt2img", self._txt2img)
            app.router.add_post("/sdapi/v1/img2img", self._img2img)

    def _validate(self, body: Any, required: tuple[str, ...] = ()) -> web.Response | None:
        if not isinstance(body, dict):
            return _json(
                422, {"detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]}
            )
        problems = [
            {"loc": ["body", name], "msg": "value is not a valid integer", "type": "type_error.integer"}
            for name in self.INTS
            if name in body and not isinstance(body[name], int)
        ]
        problems += [
            {"loc": ["body", name], "msg": "field required", "type": "value_error.missing"}
            for name in required
            if name not in body
        ]
        return _json(422, {"detail": problems}) if problems else None

    def _answer(self, body: dict[str, Any]) -> web.Response:
        count = int(body.get("batch_size", 1)) * int(body.get("n_iter", 1))
        width, height = int(body.get("width", 512)), int(body.get("height", 512))
        images = [
            base64.b64encode(image_bytes("PNG", (max(8, width // 16), max(8, height // 16)))).decode()
            for _ in range(count)
        ]
        seed = body.get("seed", -1)
        info = {"prompt": body.get("prompt", ""), "all_seeds": [seed if seed != -1 else 1234 + i for i in range(count)]}
        return _json(200, {"images": images, "parameters": body, "info": json.dumps(info)})

    async def _txt2img(self, request: web.Request) -> web.Response:
        body = json.loads(self.requests[-1].body)
        return self._validate(body) or self._answer(body)

    async def _img2img(self, request: web.Request) -> web.Response:
        body = json.loads(self.requests[-1].body)
        refused = self._validate(body, required=("init_images",))
        if refused:
            return refused
        for image in body["init_images"]:
            try:
                base64.b64decode(str(image).split(",", 1)[-1], validate=True)
            except ValueError:
                return _json(500, {"error": "Error", "detail": "", "body": "", "errors": "Invalid encoded image"})
        return self._answer(body)
