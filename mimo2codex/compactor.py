"""Context auto-compaction, the I/O part (``--auto-compact``): summarise with the routed model, splice.

:func:`compact` runs before a translated request goes upstream (for a streamed request, inside the
wait the stream covers with its status grace and keepalives: ``responses_api._compact_and_open``, so a
slow summary never leaves Codex without bytes). When the request would not fit the
routed model's declared context window (``ModelInfo.context_window``; models without one are never
compacted), the oldest turns are summarised by the same model in a separate, non-streamed request
and replaced by the summary. Summaries are cached in memory by the exact messages they replace
(:class:`SummaryCache` on the Gateway), so the next turns of the session reuse the summary instead
of paying for it again. What happened is told to the client (a reasoning line, :func:`notice_chunk`)
and recorded in ``record.notes["compacted"]``. The pure steps live in ``protocol/compaction.py``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from mimo2codex.errors import GatewayError
from mimo2codex.protocol.compaction import estimate_tokens, plan_compaction, splice, summary_request, summary_text
from mimo2codex.protocol.passthrough import adapt_chat_request
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.request_log import RequestRecord
from mimo2codex.routing import Route
from mimo2codex.upstream import UpstreamRequest

if TYPE_CHECKING:
    from mimo2codex.gateway import Gateway  # the gateway imports this module for its cache

log = logging.getLogger("mimo2codex")

#: summaries kept per process; a session needs one at a time, a team a few dozen
CACHE_SIZE = 128


class SummaryCache:
    """A small LRU of summaries by :attr:`CompactionPlan.key` (plus the model that wrote them)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def keys_for(self, model: str) -> set[str]:
        prefix = f"{model}\0"
        return {key.removeprefix(prefix) for key in self._items if key.startswith(prefix)}

    def get(self, model: str, key: str) -> str | None:
        full = f"{model}\0{key}"
        summary = self._items.get(full)
        if summary is not None:
            self._items.move_to_end(full)
        return summary

    def put(self, model: str, key: str, summary: str) -> None:
        full = f"{model}\0{key}"
        self._items[full] = summary
        self._items.move_to_end(full)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


async def compact(
    gateway: Gateway, route: Route, profile: UpstreamProfile, body: dict[str, Any], record: RequestRecord
) -> None:
    """Shorten ``body["messages"]`` in place when the request would overflow the model's window.

    A failed summary leaves the request as it was: the upstream's own "too long" error then reaches
    the user, who can still run ``/compact``.
    """
    info = route.provider.model_info(route.upstream_model)
    window = info.context_window if info is not None else None
    if not window:
        return
    cache = gateway.summaries
    model = profile.model
    plan = plan_compaction(body, window, max_tokens_field=profile.max_tokens_field, cached=cache.keys_for(model))
    if plan is None:
        return
    summary = cache.get(model, plan.key)
    cached = summary is not None
    if summary is None:
        try:
            earlier = cache.get(model, plan.base_key) if plan.base_key is not None else None
            request = summary_request(plan, model, max_tokens_field=profile.max_tokens_field, earlier=earlier)
            summary = await _summarise(gateway, route, profile, request, record)
        except GatewayError as exc:
            log.warning("[%s] auto-compaction failed, sending the request as it is: %s", record.request_id, exc.message)
            record.notes["compacted"] = {"failed": exc.message, "window": window, "estimated_tokens": plan.estimate}
            return
        cache.put(model, plan.key, summary)
    body["messages"] = splice(plan, summary)
    record.notes["compacted"] = {
        "window": window,
        "budget": plan.budget,
        "estimated_tokens_before": plan.estimate,
        "estimated_tokens_after": estimate_tokens(body),
        "summarised_messages": len(plan.prefix),
        "kept_messages": len(plan.tail),
        "cached_summary": cached,
        "extended_summary": not cached and plan.base_key is not None,
    }
    log.info(
        "[%s] auto-compaction: summarised %d messages (~%d tokens, window %d)%s",
        record.request_id,
        len(plan.prefix),
        plan.estimate,
        window,
        " from the cache" if cached else "",
    )


async def _summarise(
    gateway: Gateway, route: Route, profile: UpstreamProfile, request: dict[str, Any], record: RequestRecord
) -> str:
    # Imported here: responses_api imports this module.
    from mimo2codex.responses_api import garbage_error, upstream_failure

    body, _ = adapt_chat_request(request, profile)
    upstream = await gateway.open_upstream(
        UpstreamRequest(route.provider, "/chat/completions", orjson.dumps(body), False), record
    )
    if upstream.status >= 400:
        raise await upstream_failure(upstream, route)
    try:
        raw = await upstream.read()
    finally:
        upstream.close()
    try:
        completion = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise garbage_error(route, "a summary that is not JSON") from None
    text = summary_text(completion)
    if text is None:
        raise garbage_error(route, "no summary text in its answer")
    return text


def notice(record: RequestRecord) -> str | None:
    """The line that tells the user the context was compacted, or None."""
    compacted = record.notes.get("compacted")
    if not isinstance(compacted, dict) or "summarised_messages" not in compacted:
        return None
    reused = " (summary reused)" if compacted["cached_summary"] else ""
    return (
        f"[mimo2codex] Context compacted{reused}: {compacted['summarised_messages']} earlier messages were "
        f"summarised to fit the model's {compacted['window']}-token window.\n\n"
    )


def notice_chunk(record: RequestRecord) -> dict[str, Any] | None:
    """The notice as a chat chunk of reasoning, for the stream translator (shown as a reasoning line)."""
    text = notice(record)
    if text is None:
        return None
    return {"choices": [{"index": 0, "delta": {"reasoning_content": text}, "finish_reason": None}]}


def add_notice(completion: dict[str, Any], record: RequestRecord) -> None:
    """Put the notice in front of a non-streamed completion's reasoning."""
    text = notice(record)
    choices = completion.get("choices")
    if text is None or not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return
    message = choices[0].get("message")
    if isinstance(message, dict):
        earlier = message.get("reasoning_content")
        message["reasoning_content"] = text + (earlier if isinstance(earlier, str) else "")
