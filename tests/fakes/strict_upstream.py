"""A scriptable Chat Completions vendor that is as strict as the strictest real ones.

The fake is a real HTTP server on 127.0.0.1 (an ephemeral port). Every request is recorded; every
``POST /v1/chat/completions`` is first validated against :class:`VendorRules` (CONTRACT Part B) and
rejected with the vendor's own status and message on any violation -- which is also appended to
``violations``, so a test can assert that the gateway never sent something a real vendor would refuse.
Valid requests are answered from a *script*: a list of :class:`Reply` consumed in order, or a callable
``script(request_body, call_number) -> Reply``.

Usage from a plain (sync) pytest test::

    script = [Reply.tools(ToolCall("exec_command", {"cmd": "ls"}), reasoning="look first"),
              Reply.text("done")]
    with StrictUpstream(script, rules=VendorRules.deepseek_v4()).running() as upstream:
        ...  # point the gateway at upstream.url (ends with /v1), key upstream.api_key
    assert upstream.violations == []
    assert upstream.requests[1].body["messages"][-1]["role"] == "tool"

From async code running in the test's own loop: ``async with StrictUpstream(...).running_async() as up:``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

__all__ = [
    "Exchange",
    "Overflow",
    "Reply",
    "Script",
    "StrictUpstream",
    "ToolCall",
    "VendorRules",
    "Violation",
    "check_request",
]

# --------------------------------------------------------------------------------------------------
# Vendor rules
# --------------------------------------------------------------------------------------------------

#: Top-level request fields an OpenAI-compatible vendor knows (``thinking`` only when the vendor does).
KNOWN_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "response_format",
        "reasoning_effort",
        "stop",
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
        "logprobs",
        "top_logprobs",
    }
)

# Per-role message keys; anything else (a Responses item's ``id``, ``status``, ``phase``...) is rejected
# when ``reject_unknown_fields`` is on.
_MESSAGE_FIELDS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "reasoning_content", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_FUNCTION_FIELDS = frozenset({"name", "description", "parameters", "strict"})
_WEB_SEARCH_FIELDS = frozenset({"type", "max_keyword", "force_search", "limit", "user_location"})


@dataclass(frozen=True)
class Overflow:
    """How a vendor says the prompt does not fit: the HTTP ``status`` and the JSON ``body`` (``{limit}``
    and ``{requested}`` in its strings become the numbers). ``in_stream``: a streamed request gets HTTP 200
    and the body as its only SSE ``data:`` chunk (an error inside the stream) instead."""

    body: Mapping[str, Any]
    status: int = 400
    in_stream: bool = False

    def render(self, limit: int, requested: int) -> Any:
        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{limit}", str(limit)).replace("{requested}", str(requested))
            if isinstance(value, Mapping):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        return fill(self.body)


#: DeepSeek's (and OpenAI's) wording, the default
DEEPSEEK_OVERFLOW = Overflow(
    {
        "error": {
            "message": "This model's maximum context length is {limit} tokens. However, you requested {requested} "
            "tokens ({requested} in the messages, 0 in the completion). Please reduce the length of the messages "
            "or completion.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
    }
)


@dataclass(frozen=True)
class VendorRules:
    """What one upstream model accepts. The defaults are a strict generic OpenAI-compatible vendor.

    Presets: :meth:`deepseek_v4`, :meth:`deepseek_r1`, :meth:`mimo`, :meth:`mimo_vision`, and one per
    vendor preset of the gateway (:meth:`kimi`, :meth:`glm`, :meth:`qwen`, :meth:`minimax`,
    :meth:`siliconflow`, :meth:`openrouter`, :meth:`ark`, :meth:`ollama`, :meth:`vllm`, :meth:`lmstudio`).
    Vary one knob with ``dataclasses.replace(VendorRules.mimo(), vision=True)``.
    """

    name: str = "strict-openai-compatible"
    #: If non-empty, any other ``model`` is answered 400 "Model Not Exist".
    models: tuple[str, ...] = ()
    reject_unknown_fields: bool = True
    #: The vendor knows the top-level ``thinking: {"type": "enabled"|"disabled"}`` field (MiMo).
    accepts_thinking: bool = False
    #: Thinking mode: between two user messages in which the model called tools, every assistant
    #: message (the closing answer included) must carry non-blank reasoning_content (DeepSeek's rule).
    #: A request with ``thinking: {"type": "disabled"}`` is exempt.
    thinking_required: bool = False
    #: Models served without thinking (DeepSeek's ``deepseek-chat``): exempt from ``thinking_required``.
    non_thinking_models: tuple[str, ...] = ()
    #: Legacy deepseek-reasoner (R1): reasoning_content anywhere in the input is a 400.
    reject_reasoning_content: bool = False
    #: ``content: null`` on an assistant message that has tool_calls is a 400.
    reject_null_content: bool = True
    #: ``tools: []`` is a 400.
    reject_empty_tools: bool = True
    #: Function tools without ``parameters`` are a 400.
    require_tool_parameters: bool = True
    #: Vision model: images accepted (but a user message with images also needs a text part).
    #: Non-vision: any image part is a 404 "No endpoints found that support image input".
    vision: bool = False
    #: The one max-tokens field the vendor accepts; the other is a 400. None accepts both.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    #: The vendor knows MiMo's builtin ``{"type": "web_search", ...}`` tool ...
    web_search_tool: bool = False
    #: ... and the account has the web-search plugin switched on (else 400 "webSearchEnabled is false").
    web_search_enabled: bool = False
    #: DeepSeek V4 merge rule: two assistant messages in a row are a 400.
    one_assistant_per_turn: bool = False
    #: Top-level request fields this vendor knows beyond OpenAI's (``enable_thinking``, ``reasoning``...).
    extra_fields: frozenset[str] = frozenset()
    #: Vision per model: images are accepted for these models (as for all with ``vision``).
    vision_models: tuple[str, ...] = ()
    #: Where thinking mode requires reasoning_content: "turn" (DeepSeek: every assistant message of a turn
    #: with tool calls) or "tool_calls" (Kimi: each assistant message that has tool calls).
    reasoning_scope: Literal["turn", "tool_calls"] = "turn"
    #: The vendor's words for a missing reasoning_content (``{index}``: the message index).
    reasoning_message: str = "The reasoning_content in the thinking mode must be passed back to the API."
    #: MiniMax M2: thinking lives in ``content`` as <think>...</think>; a ``reasoning_content`` field in
    #: the input is not part of its API and would be dropped, so the fake refuses it (the real vendor
    #: degrades silently instead of failing: the fake makes the loss visible).
    reasoning_inline: bool = False
    #: How replies carry reasoning: DeepSeek's ``reasoning_content``, ``reasoning`` (OpenRouter, newer
    #: vLLM/Ollama), or ``<think>`` tags at the start of ``content`` (MiniMax, servers without a parser).
    reply_reasoning: Literal["reasoning_content", "reasoning", "think_tags"] = "reasoning_content"
    #: How a context overflow is answered (None: the prompt is truncated silently, as Ollama does).
    overflow: Overflow | None = DEEPSEEK_OVERFLOW
    #: Total characters of message text above this -> the vendor's context-length error.
    context_limit_chars: int | None = None
    #: The token figure quoted in the context-length message.
    context_limit_tokens: int = 131072
    #: Streaming usage: a separate final chunk with ``choices: []`` (OpenAI, when
    #: ``stream_options.include_usage``), or on the finish_reason chunk, always (DeepSeek).
    usage_on_finish_chunk: bool = False

    @classmethod
    def deepseek_v4(cls, **changes: Any) -> VendorRules:
        """``deepseek-v4-pro`` / ``deepseek-v4-flash`` in thinking mode."""
        base = cls(
            name="deepseek-v4",
            thinking_required=True,
            non_thinking_models=("deepseek-chat",),
            one_assistant_per_turn=True,
            max_tokens_field="max_tokens",
            usage_on_finish_chunk=True,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def deepseek_r1(cls, **changes: Any) -> VendorRules:
        """Legacy ``deepseek-reasoner``: must never receive reasoning_content."""
        base = cls(
            name="deepseek-r1",
            reject_reasoning_content=True,
            max_tokens_field="max_tokens",
            usage_on_finish_chunk=True,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def mimo(cls, **changes: Any) -> VendorRules:
        """``mimo-v2.5-pro`` (text only) in thinking mode, web-search plugin off."""
        base = cls(
            name="mimo",
            accepts_thinking=True,
            thinking_required=True,
            max_tokens_field="max_completion_tokens",
            web_search_tool=True,
            web_search_enabled=False,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def mimo_vision(cls, **changes: Any) -> VendorRules:
        """A MiMo vision model (``mimo-v2.5`` / omni)."""
        return dataclasses.replace(cls.mimo(name="mimo-vision", vision=True), **changes)

    # -- the vendor presets (mimo2codex/providers/presets; sources in docs/vendors.md) --------------

    @classmethod
    def kimi(cls, **changes: Any) -> VendorRules:
        """Moonshot Kimi: K2 thinking models need reasoning_content on each tool-call message."""
        base = cls(
            name="kimi",
            accepts_thinking=True,
            thinking_required=True,
            non_thinking_models=("moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-128k"),
            reasoning_scope="tool_calls",
            reasoning_message="thinking is enabled but reasoning_content is missing in assistant tool call message "
            "at index {index}",
            vision_models=("kimi-k2.6", "kimi-k2.5", "kimi-k2.7-code", "moonshot-v1-128k-vision-preview"),
            max_tokens_field="max_tokens",
            overflow=Overflow(
                {
                    "error": {
                        "message": "Invalid request: Your request exceeded model token limit: {limit} "
                        "(requested: {requested})",
                        "type": "invalid_request_error",
                    }
                }
            ),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def glm(cls, **changes: Any) -> VendorRules:
        """Zhipu GLM: ``thinking`` switch, reasoning optional, overflow code 1261."""
        base = cls(
            name="glm",
            accepts_thinking=True,
            vision_models=("glm-4.5v",),
            overflow=Overflow({"error": {"code": "1261", "message": "Prompt exceeds max length"}}),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def qwen(cls, **changes: Any) -> VendorRules:
        """Qwen on DashScope (compatible mode): ``enable_thinking``, overflow "Range of input length"."""
        base = cls(
            name="qwen",
            extra_fields=frozenset({"enable_thinking", "thinking_budget"}),
            vision_models=("qwen3-vl-plus",),
            overflow=Overflow(
                {
                    "error": {
                        "code": "invalid_parameter_error",
                        "message": "<400> InternalError.Algo.InvalidParameter: Range of input length should be "
                        "[1, {limit}]",
                        "param": None,
                        "type": "invalid_request_error",
                    },
                    "request_id": "81a373d6-28bd-9968-8335-e22a2127c41b",
                }
            ),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def minimax(cls, **changes: Any) -> VendorRules:
        """MiniMax M2: thinking inside content, errors in ``base_resp`` (HTTP 200, or inside the stream)."""
        base = cls(
            name="minimax",
            extra_fields=frozenset({"reasoning_split"}),
            reasoning_inline=True,
            reply_reasoning="think_tags",
            overflow=Overflow(
                {
                    "id": "0a1b2c3d",
                    "choices": None,
                    "base_resp": {"status_code": 2013, "status_msg": "invalid params, context window exceeds limit"},
                },
                status=200,
                in_stream=True,
            ),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def siliconflow(cls, **changes: Any) -> VendorRules:
        """SiliconFlow: an aggregator; overflow ``{"code": 20015, ...}`` at the top level."""
        base = cls(
            name="siliconflow",
            vision=True,
            extra_fields=frozenset({"enable_thinking", "thinking_budget"}),
            overflow=Overflow(
                {
                    "code": 20015,
                    "message": "length of prompt_tokens ({requested}) must be less than max_seq_len ({limit}).",
                    "data": None,
                }
            ),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def openrouter(cls, **changes: Any) -> VendorRules:
        """OpenRouter: reasoning as ``reasoning``; overflow "This endpoint's maximum context length"."""
        base = cls(
            name="openrouter",
            vision=True,
            extra_fields=frozenset({"reasoning", "provider", "transforms", "models"}),
            reply_reasoning="reasoning",
            overflow=Overflow(
                {
                    "error": {
                        "message": "This endpoint's maximum context length is {limit} tokens. However, you requested "
                        "about {requested} tokens ({requested} of text input). Please reduce the length of either "
                        'one, or use the "middle-out" transform to compress your prompt automatically.',
                        "code": 400,
                    }
                }
            ),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def ark(cls, **changes: Any) -> VendorRules:
        """Volcengine Ark. Its overflow wording could not be verified: OpenAI's shape and words stand in."""
        base = cls(name="ark", vision=True, accepts_thinking=True, max_tokens_field="max_tokens")
        return dataclasses.replace(base, **changes)

    @classmethod
    def ollama(cls, **changes: Any) -> VendorRules:
        """Ollama: ``<think>`` in content; an over-long prompt is truncated, never refused."""
        base = cls(name="ollama", vision=True, reply_reasoning="think_tags", overflow=None)
        return dataclasses.replace(base, **changes)

    @classmethod
    def vllm(cls, **changes: Any) -> VendorRules:
        """vLLM without a reasoning parser; overflow in vLLM's ``{"object": "error"}`` shape."""
        base = cls(
            name="vllm",
            vision=True,
            extra_fields=frozenset({"chat_template_kwargs"}),
            reply_reasoning="think_tags",
            overflow=Overflow(
                {
                    "object": "error",
                    "message": "This model's maximum context length is {limit} tokens. However, you requested "
                    "{requested} tokens ({requested} in the messages, 0 in the completion). Please reduce the "
                    "length of the messages or completion.",
                    "type": "BadRequestError",
                    "param": None,
                    "code": 400,
                }
            ),
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def lmstudio(cls, **changes: Any) -> VendorRules:
        """LM Studio: ``<think>`` in content; overflow answered with HTTP 200 and an error body."""
        base = cls(
            name="lmstudio",
            vision=True,
            reply_reasoning="think_tags",
            overflow=Overflow(
                {
                    "error": "Trying to keep the first {requested} tokens when context the overflows. However, the "
                    "model is loaded with context length of only {limit} tokens, which is not enough. Try to load "
                    "the model with a larger context length, or provide a shorter input"
                },
                status=200,
            ),
        )
        return dataclasses.replace(base, **changes)


@dataclass(frozen=True)
class Violation:
    """One reason a real vendor would have refused the request."""

    rule: str  # short stable code, e.g. "tool_orphan", "reasoning_required"
    message: str  # the vendor's text
    status: int = 400
    request_number: int = -1  # Exchange.number of the offending request
    #: the vendor's own error body, when it has a shape of its own (context overflows)
    body: Any = None
    #: answered inside a 200 stream rather than with ``status`` (see :class:`Overflow`)
    in_stream: bool = False


def _overflow_text(body: Any) -> str:
    """The human text of a vendor's overflow body, wherever that vendor puts it."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        base = body.get("base_resp")
        if isinstance(base, Mapping) and isinstance(base.get("status_msg"), str):
            return str(base["status_msg"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return json.dumps(body)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


class _Checker:
    """Collects every violation of one request body (the vendor reports the first)."""

    def __init__(self, rules: VendorRules) -> None:
        self.rules = rules
        self.found: list[Violation] = []
        self.model: object = None

    def fail(self, rule: str, message: str, status: int = 400) -> None:
        self.found.append(Violation(rule, message, status))

    # -- top level ---------------------------------------------------------------------------------

    def check(self, body: Any) -> list[Violation]:
        r = self.rules
        if not isinstance(body, dict):
            self.fail("body_not_object", "Request body must be a JSON object")
            return self.found
        model = body.get("model")
        if not isinstance(model, str) or not model:
            self.fail("model", "Invalid 'model': expected a non-empty string")
        elif r.models and model not in r.models:
            self.fail("model_unknown", "Model Not Exist")
        if r.reject_unknown_fields:
            allowed = KNOWN_FIELDS | r.extra_fields | ({"thinking"} if r.accepts_thinking else set())
            for key in body:
                if key not in allowed:
                    self.fail("unknown_field", f"Unrecognized request argument supplied: {key}")
        self.model = model
        self._check_scalars(body)
        tools = body.get("tools")
        self._check_tools(tools, body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self.fail("messages", "Invalid 'messages': expected a non-empty array")
            return self.found
        self._check_messages(messages, thinking_on=self._thinking_on(body))
        if r.context_limit_chars is not None and r.overflow is not None:
            chars = _message_chars(messages)
            if chars > r.context_limit_chars:
                requested = math.ceil(r.context_limit_tokens * chars / r.context_limit_chars)
                rendered = r.overflow.render(r.context_limit_tokens, requested)
                self.found.append(
                    Violation(
                        "context_length",
                        _overflow_text(rendered),
                        r.overflow.status,
                        body=rendered,
                        in_stream=r.overflow.in_stream,
                    )
                )
        return self.found

    def _thinking_on(self, body: dict[str, Any]) -> bool:
        if body.get("model") in self.rules.non_thinking_models or body.get("enable_thinking") is False:
            return False
        thinking = body.get("thinking")
        return not (isinstance(thinking, dict) and thinking.get("type") == "disabled")

    def _check_scalars(self, body: dict[str, Any]) -> None:
        r = self.rules
        stream = body.get("stream")
        if "stream" in body and not isinstance(stream, bool):
            self.fail("stream", "Invalid 'stream': expected a boolean")
        if "stream_options" in body:
            opts = body["stream_options"]
            if stream is not True:
                self.fail("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is true")
            elif not isinstance(opts, dict) or not isinstance(opts.get("include_usage", False), bool):
                self.fail("stream_options", "Invalid 'stream_options': expected {\"include_usage\": bool}")
        for key in ("max_tokens", "max_completion_tokens"):
            if key not in body:
                continue
            if r.max_tokens_field is not None and key != r.max_tokens_field:
                self.fail(
                    "max_tokens_field",
                    f"Unsupported parameter: '{key}' is not supported with this model. "
                    f"Use '{r.max_tokens_field}' instead.",
                )
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self.fail("max_tokens_value", f"Invalid '{key}': expected a positive integer")
        if "thinking" in body and r.accepts_thinking:
            thinking = body["thinking"]
            if not (isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled")):
                self.fail("thinking", 'Invalid \'thinking\': expected {"type": "enabled" | "disabled"}')
        if "parallel_tool_calls" in body:
            if not isinstance(body["parallel_tool_calls"], bool):
                self.fail("parallel_tool_calls", "Invalid 'parallel_tool_calls': expected a boolean")
            if not body.get("tools"):
                self.fail(
                    "parallel_tool_calls",
                    "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
                    "'tools' are specified.",
                )

    # -- tools -------------------------------------------------------------------------------------

    def _check_tools(self, tools: Any, body: dict[str, Any]) -> None:
        r = self.rules
        names: list[str] = []
        if "tools" in body:
            if not isinstance(tools, list):
                self.fail("tools", "Invalid 'tools': expected an array")
                tools = []
            elif not tools and r.reject_empty_tools:
                self.fail(
                    "tools_empty",
                    "Invalid 'tools': empty array. Expected an array with minimum length 1, "
                    "but got an empty array instead.",
                )
            for i, tool in enumerate(tools):
                name = self._check_tool(i, tool)
                if name is not None:
                    names.append(name)
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                self.fail("tools_duplicate", f"Invalid 'tools': duplicate function names: {', '.join(dupes)}")
        if "tool_choice" in body:
            choice = body["tool_choice"]
            if not body.get("tools"):
                self.fail(
                    "tool_choice",
                    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                )
            elif isinstance(choice, str):
                if choice not in ("none", "auto", "required"):
                    self.fail("tool_choice", f"Invalid 'tool_choice': unknown value {choice!r}")
            elif isinstance(choice, dict):
                fn = choice.get("function")
                fname = fn.get("name") if isinstance(fn, dict) else None
                if choice.get("type") != "function" or fname not in names:
                    self.fail("tool_choice", f"Invalid 'tool_choice': no function named {fname!r} in 'tools'")
            else:
                self.fail("tool_choice", "Invalid 'tool_choice': expected a string or an object")

    def _check_tool(self, i: int, tool: Any) -> str | None:
        r = self.rules
        if not isinstance(tool, dict):
            self.fail("tool_shape", f"Invalid 'tools[{i}]': expected an object")
            return None
        kind = tool.get("type")
        if kind == "web_search" and r.web_search_tool:
            if r.reject_unknown_fields:
                for key in tool:
                    if key not in _WEB_SEARCH_FIELDS:
                        self.fail("tool_shape", f"Invalid 'tools[{i}]': unknown field {key!r}")
            if not r.web_search_enabled:
                self.fail("web_search_disabled", "webSearchEnabled is false")
            return None
        if kind != "function":
            self.fail("tool_type", f"Invalid 'tools[{i}].type': unknown variant `{kind}`, expected `function`")
            return None
        if r.reject_unknown_fields:
            for key in tool:
                if key not in ("type", "function"):
                    self.fail("tool_shape", f"Invalid 'tools[{i}]': unknown field {key!r}")
        fn = tool.get("function")
        if not isinstance(fn, dict):
            self.fail("tool_shape", f"Invalid 'tools[{i}].function': expected an object")
            return None
        name = fn.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            self.fail(
                "tool_name",
                f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.",
            )
            name = None
        if r.reject_unknown_fields:
            for key in fn:
                if key not in _FUNCTION_FIELDS:
                    self.fail("tool_shape", f"Invalid 'tools[{i}].function': unknown field {key!r}")
        if "description" in fn and not isinstance(fn["description"], str):
            self.fail("tool_shape", f"Invalid 'tools[{i}].function.description': expected a string")
        if "parameters" in fn:
            params = fn["parameters"]
            if not isinstance(params, dict) or params.get("type", "object") != "object":
                self.fail("tool_parameters", f"Invalid 'tools[{i}].function.parameters': expected a JSON schema object")
        elif r.require_tool_parameters:
            self.fail("tool_parameters", f"Missing required parameter: 'tools[{i}].function.parameters'.")
        if "strict" in fn and not isinstance(fn["strict"], bool):
            # MiMo / MiniMax validate with pydantic: the error text is pydantic's.
            self.fail(
                "tool_strict",
                f"1 validation error for ChatCompletionRequest\ntools.{i}.function.strict\n  Input should be "
                f"a valid boolean [type=bool_type, input_value={fn['strict']!r}, "
                f"input_type={type(fn['strict']).__name__}]",
            )
        return name

    # -- messages ----------------------------------------------------------------------------------

    def _check_messages(self, messages: list[Any], *, thinking_on: bool) -> None:
        r = self.rules
        pending: set[str] = set()  # tool_call ids of the last assistant message still unanswered
        block: set[str] | None = None  # ids the current tool block may answer; None = not after tool_calls
        previous_role: str | None = None
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                self.fail("message_shape", f"Invalid 'messages[{i}]': expected an object")
                continue
            role = msg.get("role")
            if role not in _MESSAGE_FIELDS:
                self.fail(
                    "role",
                    f"Invalid 'messages[{i}].role': unknown variant `{role}`, expected one of "
                    "`system`, `user`, `assistant`, `tool`",
                )
                continue
            if r.reject_unknown_fields:
                for key in msg:
                    if key not in _MESSAGE_FIELDS[role]:
                        self.fail("message_field", f"Invalid 'messages[{i}]': unknown field `{key}`")
            if "reasoning_content" in msg and r.reasoning_inline:
                self.fail(
                    "reasoning_lost",
                    "reasoning_content is not part of this API: keep the thinking inside content as <think>...</think>",
                )
            if "reasoning_content" in msg and r.reject_reasoning_content:
                self.fail(
                    "reasoning_forbidden",
                    "The reasoning_content field is not allowed in the input messages of this model",
                )
            if role == "tool":
                call_id = msg.get("tool_call_id")
                if block is None or call_id not in block:
                    self.fail(
                        "tool_orphan",
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                        "message with 'tool_calls'.",
                    )
                elif call_id not in pending:
                    self.fail("tool_duplicate_answer", f"Duplicate tool message for tool_call_id {call_id}")
                else:
                    pending.discard(call_id)
                self._check_tool_content(i, msg.get("content"))
                previous_role = role
                continue
            if pending:
                self._unanswered(pending)
            pending, block = set(), None
            if role == "assistant":
                if previous_role == "assistant" and r.one_assistant_per_turn:
                    self.fail(
                        "consecutive_assistant",
                        f"Invalid 'messages[{i}]': consecutive assistant messages are not allowed; merge them into one",
                    )
                ids = self._check_assistant(i, msg, thinking_on=thinking_on)
                if ids is not None:
                    pending, block = set(ids), set(ids)
            else:
                self._check_content(i, role, msg.get("content"))
            previous_role = role
        if pending:
            self._unanswered(pending)
        if r.thinking_required and thinking_on and r.reasoning_scope == "turn":
            self._check_reasoning_turns(messages)
        elif r.thinking_required and thinking_on:  # Kimi: each assistant message with tool calls
            for i, msg in enumerate(messages):
                if isinstance(msg, dict) and msg.get("role") == "assistant" and msg.get("tool_calls"):
                    text = msg.get("reasoning_content")
                    if not (isinstance(text, str) and text.strip()):
                        self.fail("reasoning_required", r.reasoning_message.replace("{index}", str(i)))
                        break

    def _check_reasoning_turns(self, messages: list[Any]) -> None:
        """DeepSeek's thinking-mode rule: between two user messages in which the model called tools,
        EVERY assistant message (the tool-calling ones and the closing answer) needs its non-blank
        ``reasoning_content``; where no tool was called, it is optional."""
        turn: list[dict[str, Any]] = []
        for msg in [*messages, {"role": "user"}]:
            if not isinstance(msg, dict):
                continue
            if msg.get("role") == "user":
                if any(m.get("tool_calls") for m in turn) and not all(
                    isinstance(m.get("reasoning_content"), str) and m["reasoning_content"].strip() for m in turn
                ):
                    self.fail("reasoning_required", self.rules.reasoning_message)
                turn = []
            elif msg.get("role") == "assistant":
                turn.append(msg)

    def _unanswered(self, pending: set[str]) -> None:
        self.fail(
            "tool_unanswered",
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            "'tool_call_id'. The following tool_call_ids did not have response messages: " + ", ".join(sorted(pending)),
        )

    def _check_assistant(self, i: int, msg: dict[str, Any], *, thinking_on: bool) -> list[str] | None:
        r = self.rules
        calls = msg.get("tool_calls")
        content = msg.get("content")
        reasoning = msg.get("reasoning_content")
        if "reasoning_content" in msg and reasoning is not None and not isinstance(reasoning, str):
            self.fail("message_shape", f"Invalid 'messages[{i}].reasoning_content': expected a string")
        if calls is None:
            if not isinstance(content, str | list):
                self.fail(
                    "assistant_content",
                    f"Invalid 'messages[{i}]': an assistant message needs 'content' or 'tool_calls'",
                )
            else:
                self._check_content(i, "assistant", content)
            return None
        if not isinstance(calls, list) or not calls:
            self.fail("tool_calls_shape", f"Invalid 'messages[{i}].tool_calls': expected a non-empty array")
            return None
        if content is None:
            if r.reject_null_content and "content" in msg:
                self.fail("null_content", f"Invalid 'messages[{i}].content': expected a string, got null.")
        else:
            self._check_content(i, "assistant", content)
        ids: list[str] = []
        for j, call in enumerate(calls):
            where = f"messages[{i}].tool_calls[{j}]"
            if not isinstance(call, dict):
                self.fail("tool_calls_shape", f"Invalid '{where}': expected an object")
                continue
            call_id = call.get("id")
            if not isinstance(call_id, str) or not call_id:
                self.fail("tool_calls_shape", f"Missing required parameter: '{where}.id'.")
            elif call_id in ids:
                self.fail("tool_calls_shape", f"Invalid '{where}.id': duplicate id {call_id}")
            else:
                ids.append(call_id)
            if call.get("type") != "function":
                self.fail("tool_calls_shape", f"Invalid '{where}.type': expected `function`")
            fn = call.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn.get("name"):
                self.fail("tool_calls_shape", f"Invalid '{where}.function': expected {{name, arguments}}")
                continue
            args = fn.get("arguments")
            if not isinstance(args, str):
                self.fail("tool_arguments", f"Invalid '{where}.function.arguments': expected a string")
                continue
            try:
                parsed = json.loads(args)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                self.fail(
                    "tool_arguments",
                    f"Invalid '{where}.function.arguments': Failed to parse tool call arguments as JSON object",
                )
        return ids

    def _check_tool_content(self, i: int, content: Any) -> None:
        if isinstance(content, str):
            return
        if isinstance(content, list):
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind != "text":
                    self.fail(
                        "tool_content",
                        f"Failed to deserialize the JSON body into the target type: messages[{i}]: "
                        f"unknown variant `{kind}`, expected `text`",
                    )
                    return
        self.fail("tool_content", f"Invalid 'messages[{i}].content': a tool message's content must be a string")

    def _check_content(self, i: int, role: str, content: Any) -> None:
        if isinstance(content, str):
            return
        if not isinstance(content, list) or not content:
            self.fail("content", f"Invalid 'messages[{i}].content': expected a string or a non-empty array")
            return
        allowed = ("text", "image_url") if role == "user" else ("text",)
        has_text = has_image = False
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in allowed:
                self.fail(
                    "content_part",
                    f"Failed to deserialize the JSON body into the target type: messages[{i}]: unknown variant "
                    f"`{kind}`, expected {' or '.join(f'`{a}`' for a in allowed)}",
                )
                continue
            assert isinstance(part, dict)
            if kind == "text":
                has_text = True
                if not isinstance(part.get("text"), str):
                    self.fail("content_part", f"Invalid 'messages[{i}].content[{j}].text': expected a string")
            else:
                has_image = True
                image = part.get("image_url")
                if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                    self.fail("content_part", f"Invalid 'messages[{i}].content[{j}].image_url': expected {{url}}")
        if has_image and not (self.rules.vision or self.model in self.rules.vision_models):
            self.fail("image_unsupported", "No endpoints found that support image input", status=404)
        elif has_image and not has_text:
            self.fail("image_without_text", "Param Incorrect: `text` is not set")


def _message_chars(messages: list[Any]) -> int:
    total = 0
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        total += len(_content_text(msg.get("content")))
        if isinstance(msg.get("reasoning_content"), str):
            total += len(msg["reasoning_content"])
        for call in msg.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                total += len(fn["arguments"])
    return total


def check_request(body: Any, rules: VendorRules) -> list[Violation]:
    """Every reason a vendor with ``rules`` would refuse this chat request body (empty list: accepted)."""
    return _Checker(rules).check(body)


# --------------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One tool call the fake model makes. ``arguments`` is sent verbatim when a string (so a test can
    send truncated JSON), JSON-encoded when a mapping. ``id`` defaults to ``call_<request>_<index>``."""

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    id: str | None = None

    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    """How the fake answers one accepted request. Build with the class methods::

    Reply.text("hello", reasoning="thinking...")
    Reply.tools(ToolCall("a", {"x": 1}), ToolCall("b"), reasoning="two at once")
    Reply.http_error(429, "Rate limit reached", headers={"Retry-After": "1"})
    Reply.text("long answer", drop_after=3)          # connection closed after 3 chunks, no [DONE]
    Reply.text("slow", delay=2.0, chunk_delay=0.5)   # slow first byte, slow stream
    """

    content: str | None = None
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    #: Defaults to "tool_calls" when there are tool calls, else "stop".
    finish_reason: str | None = None
    #: Non-200: answer this status with ``error_body`` (JSON) and ``headers``, never a stream.
    status: int = 200
    error_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds before the response headers (a slow first byte).
    delay: float = 0.0
    #: Seconds between stream chunks.
    chunk_delay: float = 0.0
    #: Characters of content / reasoning / arguments per chunk.
    chunk_chars: int = 8
    #: False: each tool call arrives whole in one chunk (some vendors do that).
    split_tool_calls: bool = True
    #: Close the connection abruptly after this many data chunks (no [DONE]). Non-stream: after headers.
    drop_after: int | None = None
    #: With ``drop_after``: send ``data: {"error": ...}`` at that point and end the stream cleanly instead.
    error_event: Mapping[str, Any] | None = None
    #: Override the usage object (else estimated from the text sizes).
    usage: Mapping[str, Any] | None = None

    @classmethod
    def text(cls, content: str, *, reasoning: str | None = None, **options: Any) -> Reply:
        return cls(content=content, reasoning=reasoning, **options)

    @classmethod
    def tools(cls, *calls: ToolCall, content: str | None = None, reasoning: str | None = None, **options: Any) -> Reply:
        if not calls:
            raise ValueError("Reply.tools() needs at least one ToolCall")
        return cls(content=content, reasoning=reasoning, tool_calls=tuple(calls), **options)

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
    ) -> Reply:
        """An error answer; ``body`` replaces the default ``{"error": {message, type, param, code}}``."""
        if body is None:
            body = {"error": {"message": message, "type": type, "param": None, "code": code}}
        return cls(status=status, error_body=body, headers=dict(headers or {}), delay=delay)

    def but(self, **changes: Any) -> Reply:
        """A copy with some fields changed: ``Reply.text("x").but(drop_after=2)``."""
        return dataclasses.replace(self, **changes)


Script = Callable[[dict[str, Any], int], Reply] | Sequence[Reply]


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[k : k + size] for k in range(0, len(text), size)] or [""]


def _usage(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    if reply.usage is not None:
        return dict(reply.usage)
    prompt = _message_chars(body.get("messages") or []) // 4 + 1
    reasoning = len(reply.reasoning or "") // 4
    completion = (
        (len(reply.content or "") + sum(len(c.arguments_text()) for c in reply.tool_calls)) // 4 + reasoning + 1
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _call_id(reply: Reply, call: ToolCall, number: int, index: int) -> str:
    return call.id if call.id is not None else f"call_{number}_{index}"


def completion_chunks(reply: Reply, body: dict[str, Any], number: int, rules: VendorRules) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed reply, in order (without ``[DONE]``)."""
    model = str(body.get("model", ""))
    opts = body.get("stream_options")
    include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
    base = {"id": f"chatcmpl-fake-{number}", "object": "chat.completion.chunk", "created": 1_700_000_000 + number}
    base["model"] = model
    base["system_fingerprint"] = "fp_fake"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = dict(base)
        out["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if include_usage and not rules.usage_on_finish_chunk:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": ""})]
    content = reply.content
    if reply.reasoning and rules.reply_reasoning == "think_tags":
        content = f"<think>{reply.reasoning}</think>\n\n{content or ''}"
    elif reply.reasoning:
        field_name = rules.reply_reasoning
        chunks += [chunk({"content": None, field_name: p}) for p in _pieces(reply.reasoning, reply.chunk_chars)]
    if content:
        chunks += [chunk({"content": p}) for p in _pieces(content, reply.chunk_chars)]
    for index, call in enumerate(reply.tool_calls):
        args = call.arguments_text()
        head = {"index": index, "id": _call_id(reply, call, number, index), "type": "function"}
        if not reply.split_tool_calls:
            chunks.append(chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": args}}]}))
            continue
        chunks.append(chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}))
        for piece in _pieces(args, reply.chunk_chars) if args else []:
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    last = chunk({}, finish)
    usage = _usage(reply, body)
    if rules.usage_on_finish_chunk:
        last["usage"] = usage
        chunks.append(last)
    else:
        chunks.append(last)
        if include_usage:
            tail = dict(base)
            tail["choices"] = []
            tail["usage"] = usage
            chunks.append(tail)
    return chunks


def completion_object(
    reply: Reply, body: dict[str, Any], number: int, rules: VendorRules | None = None
) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object of a reply."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or ("" if not reply.tool_calls else None)}
    style = rules.reply_reasoning if rules is not None else "reasoning_content"
    if reply.reasoning and style == "think_tags":
        message["content"] = f"<think>{reply.reasoning}</think>\n\n{reply.content or ''}"
    elif reply.reasoning:
        message[style] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(reply, call, number, index),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_text()},
            }
            for index, call in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": 1_700_000_000 + number,
        "model": str(body.get("model", "")),
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop"),
            }
        ],
        "usage": _usage(reply, body),
    }


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

Outcome = Literal["completed", "rejected", "error_reply", "dropped", "peer_closed", "shutdown", "not_found"]


@dataclass
class Exchange:
    """One recorded request and what became of it. Times are ``time.monotonic()`` seconds."""

    number: int  # 0-based over every request the fake received
    method: str
    path: str  # path with query string
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    body: Any  # parsed JSON, or None when the body was not JSON
    received_at: float
    status: int | None = None
    violations: list[Violation] = field(default_factory=list)
    call_number: int | None = None  # index among accepted chat requests (what the script saw)
    streamed: bool = False
    chunks_sent: int = 0
    outcome: Outcome | None = None
    finished_at: float | None = None
    #: Set when the peer (the gateway) closed the connection before the response was complete.
    peer_closed_at: float | None = None


class StrictUpstream:
    """The fake vendor. See the module docstring for usage."""

    def __init__(
        self,
        script: Script = (),
        *,
        rules: VendorRules | None = None,
        api_key: str = "sk-fake-upstream",
    ) -> None:
        self.rules = rules if rules is not None else VendorRules()
        self.api_key = api_key
        self.requests: list[Exchange] = []
        self.violations: list[Violation] = []
        self.active_streams = 0
        #: Set (thread-safely) whenever a peer closes a connection mid-response.
        self.peer_closed = threading.Event()
        self._script: Script = script
        self._cursor = 0
        self._accepted = 0
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._lock = threading.Lock()

    # -- public helpers ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL ending with ``/v1``; the vendor endpoint is ``{url}/chat/completions``."""
        if self._port is None:
            raise RuntimeError("StrictUpstream is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("StrictUpstream is not running")
        return self._port

    @property
    def chat_requests(self) -> list[Exchange]:
        """Recorded ``POST /v1/chat/completions`` requests (accepted or rejected)."""
        return [x for x in self.requests if x.method == "POST" and x.path.split("?")[0] == "/v1/chat/completions"]

    @property
    def bodies(self) -> list[Any]:
        """Bodies of the chat requests, in order."""
        return [x.body for x in self.chat_requests]

    def set_script(self, script: Script) -> None:
        """Replace the script; a list starts again from its first reply."""
        with self._lock:
            self._script = script
            self._cursor = 0

    def wait_peer_closed(self, timeout: float) -> Exchange | None:
        """Block until some response was cut by the peer; the first such exchange, or None on timeout.
        For sync tests (the fake runs in its own thread); from async code use :meth:`wait_peer_closed_async`."""
        if not self.peer_closed.wait(timeout):
            return None
        return self._first_peer_closed()

    async def wait_peer_closed_async(self, within: float) -> Exchange | None:
        deadline = time.monotonic() + within
        while not self.peer_closed.is_set():
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.005)
        return self._first_peer_closed()

    def _first_peer_closed(self) -> Exchange | None:
        return next((x for x in self.requests if x.peer_closed_at is not None), None)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving in the running loop (prefer :meth:`running_async` / :meth:`running`)."""
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a peer disconnect cancels the handler at once, which is how the fake
        # timestamps "the gateway closed the upstream request".
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        self._stopping = True
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.asynccontextmanager
    async def running_async(self) -> AsyncIterator[StrictUpstream]:
        """Serve in the current event loop for the duration of the block."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[StrictUpstream]:
        """Serve from a background thread with its own event loop (for plain sync tests)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="strict-upstream", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self._stop_all(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    async def _stop_all(self) -> None:
        await self.stop()
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    # -- request handling --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            number = len(self.requests)
            exchange = Exchange(
                number=number,
                method=request.method,
                path=request.path_qs,
                headers={k.lower(): v for k, v in request.headers.items()},
                raw=raw,
                body=body,
                received_at=time.monotonic(),
            )
            self.requests.append(exchange)
        try:
            return await self._dispatch(request, exchange)
        except asyncio.CancelledError:
            self._finish(exchange, "shutdown" if self._stopping else "peer_closed")
            raise
        except ConnectionResetError:
            self._finish(exchange, "shutdown" if self._stopping else "peer_closed")
            raise

    def _finish(self, exchange: Exchange, outcome: Outcome) -> None:
        now = time.monotonic()
        exchange.outcome = outcome
        exchange.finished_at = now
        if outcome == "peer_closed":
            exchange.peer_closed_at = now
            self.peer_closed.set()

    def _reject(self, exchange: Exchange, found: list[Violation]) -> web.Response:
        stamped = [dataclasses.replace(v, request_number=exchange.number) for v in found]
        exchange.violations = stamped
        self.violations.extend(stamped)
        first = stamped[0]
        streamed = isinstance(exchange.body, dict) and exchange.body.get("stream") is True
        if first.body is not None and first.in_stream and streamed:
            exchange.status = 200
            self._finish(exchange, "rejected")
            chunk = json.dumps(first.body, ensure_ascii=False)
            return web.Response(status=200, text=f"data: {chunk}\n\n", content_type="text/event-stream")
        exchange.status = first.status
        self._finish(exchange, "rejected")
        if first.body is not None:
            return web.json_response(first.body, status=first.status)
        error_type = "authentication_error" if first.status == 401 else "invalid_request_error"
        code: str | int = "invalid_request_error" if first.status != 404 else 404
        payload = {"error": {"message": first.message, "type": error_type, "param": None, "code": code}}
        return web.json_response(payload, status=first.status)

    async def _dispatch(self, request: web.Request, exchange: Exchange) -> web.StreamResponse:
        path = request.path
        if request.method == "GET" and path == "/v1/models":
            models = self.rules.models or ("fake-model",)
            exchange.status = 200
            self._finish(exchange, "completed")
            data = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "fake"} for m in models]
            return web.json_response({"object": "list", "data": data})
        if request.method != "POST" or path != "/v1/chat/completions":
            found = [Violation("unexpected_path", f"Not found: {request.method} {path}", status=404)]
            return self._reject(exchange, found)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            sent = request.headers.get("Authorization", "")
            tail = sent[-4:] if sent else ""
            found = [Violation("auth", f"Authentication Fails, Your api key: ****{tail} is invalid", status=401)]
            return self._reject(exchange, found)
        if exchange.body is None:
            return self._reject(exchange, [Violation("json", "Failed to parse the request body as JSON")])
        found = check_request(exchange.body, self.rules)
        if found:
            return self._reject(exchange, found)
        reply = self._next_reply(exchange)
        if reply is None:
            message = f"fake upstream: script exhausted at accepted request #{exchange.call_number}"
            return self._reject(exchange, [Violation("script_exhausted", message)])
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            exchange.status = reply.status
            self._finish(exchange, "error_reply")
            text = reply.error_body if isinstance(reply.error_body, str) else json.dumps(reply.error_body)
            return web.Response(
                status=reply.status, text=text, content_type="application/json", headers=dict(reply.headers)
            )
        body: dict[str, Any] = exchange.body
        if body.get("stream") is True:
            return await self._stream(request, exchange, reply, body)
        exchange.status = 200
        if reply.drop_after is not None:
            # Headers promise a body that never fully arrives.
            partial = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "4096"})
            await partial.prepare(request)
            await partial.write(b'{"id": "chatcmpl-fake-')
            self._finish(exchange, "dropped")
            return self._drop(request, partial)
        self._finish(exchange, "completed")
        completion = completion_object(reply, body, exchange.number, self.rules)
        return web.json_response(completion, headers=dict(reply.headers))

    def _next_reply(self, exchange: Exchange) -> Reply | None:
        with self._lock:
            exchange.call_number = self._accepted
            self._accepted += 1
            script = self._script
            if callable(script):
                call = script
            else:
                if self._cursor >= len(script):
                    return None
                reply = script[self._cursor]
                self._cursor += 1
                return reply
        return call(exchange.body, exchange.call_number)

    @staticmethod
    def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return response

    async def _stream(
        self, request: web.Request, exchange: Exchange, reply: Reply, body: dict[str, Any]
    ) -> web.StreamResponse:
        exchange.streamed = True
        exchange.status = 200
        headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        headers.update(reply.headers)
        response = web.StreamResponse(status=200, headers=headers)
        chunks = completion_chunks(reply, body, exchange.number, self.rules)
        self.active_streams += 1
        try:
            await response.prepare(request)
            for chunk in chunks:
                if reply.drop_after is not None and exchange.chunks_sent >= reply.drop_after:
                    if reply.error_event is not None:
                        event = json.dumps({"error": dict(reply.error_event)})
                        self._finish(exchange, "error_reply")
                        await response.write(f"data: {event}\n\n".encode())
                        await response.write_eof()
                        return response
                    self._finish(exchange, "dropped")
                    return self._drop(request, response)
                if exchange.chunks_sent and reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                exchange.chunks_sent += 1
            # Recorded before the last bytes go out: the peer may act on [DONE] (and a test read the
            # outcome) before this coroutine runs again. A failed write below overwrites it.
            self._finish(exchange, "completed")
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            return response
        finally:
            self.active_streams -= 1
