"""The Codex model catalog: what Codex needs to know about third-party models.

Without catalog metadata Codex 0.169.0 treats a model it does not know as 272K-token and sends it
no ``apply_patch`` tool (CONTRACT §3.1). The catalog gives every model of the configured providers
``apply_patch_tool_type: "freeform"``, its true context window and its input modalities. Codex
reads it from ``model_catalog_url`` (served here at :data:`CATALOG_PATH`) or from a
``model_catalog_json`` file (``mimo2codex write-catalog``); either replaces Codex's bundled catalog.

>>> from mimo2codex.settings import load_settings
>>> catalog = codex_catalog(load_settings({"DS_API_KEY": "k", "MIMO2CODEX_DEFAULT_PROVIDER": "ds"}).keyed_providers)
>>> catalog["models"][0]["slug"], catalog["models"][0]["apply_patch_tool_type"]
('deepseek-v4-pro', 'freeform')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.atomic import write_atomic
from mimo2codex.http_body import json_response
from mimo2codex.providers.base import ModelInfo, Provider

#: the route serving the catalog (``model_catalog_url``); Codex appends ``?client_version=...``
CATALOG_PATH = "/v1/codex/models"
#: ``mimo2codex write-catalog`` writes here, inside the data dir
CATALOG_FILE = "codex-models.json"

#: Codex's model metadata requires a base prompt; this is ours, written for Chat Completions models
#: working through Codex's tools. Codex adds its own developer messages (sandbox, approvals) after it.
BASE_INSTRUCTIONS = """\
You are a coding agent working in the user's workspace through the Codex CLI. Solve the task end to \
end: inspect the code, make the change, check it, then report.

- Read before you write: open the files involved, follow the conventions already in the code, and keep \
each change as small as the task allows.
- Use the shell tool to look around, build and run tests. Change files with the apply_patch tool; do not \
rewrite files through the shell (sed -i, echo > file) unless the user asks for it.
- Run the checks that cover your change when the project has them and they are quick. Say what you ran \
and what failed; never claim a check passed if you did not run it.
- Do not undo changes you did not make, and do not run destructive commands (rm -rf, git reset --hard, \
force pushes) unless the user asked for exactly that.
- When you need a decision only the user can make, ask one short question instead of guessing.
- Finish with a brief answer in plain text: what changed, where (file paths in backticks), and anything \
the user still has to do.
"""

_EFFORTS = (
    ("low", "Quick answers with light reasoning"),
    ("medium", "Balanced reasoning for everyday tasks"),
    ("high", "Deep reasoning for hard problems"),
)


def catalog_entry(
    provider: Provider, info: ModelInfo | None, model_id: str, priority: int, *, bridged: bool = False
) -> dict[str, Any]:
    """One ``ModelInfo`` object in Codex's format (``info`` is None for an open catalog's default).

    ``bridged``: the gateway's vision bridge reads images for this provider's text-only models. Codex
    0.169.0 strips images client-side for a model whose ``input_modalities`` lack "image", so such
    a model must claim image input for the screenshot to reach the bridge at all.
    """
    reasoning = info.supports_reasoning if info is not None else False
    images = info.supports_images if info is not None else True
    images = images or bridged
    window = info.context_window if info is not None else None
    levels = reasoning and provider.quirks.supports_reasoning_effort
    entry: dict[str, Any] = {
        "slug": model_id,
        "display_name": info.label if info is not None else model_id,
        "description": f"{provider.display_name} through mimo2codex"
        + (f", {window:,}-token context" if window else ""),
        "supported_reasoning_levels": [{"effort": e, "description": d} for e, d in _EFFORTS] if levels else [],
        "shell_type": "unified_exec",
        "visibility": "hide" if info is not None and info.legacy else "list",
        "supported_in_api": True,
        "priority": priority,
        "support_verbosity": False,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "base_instructions": BASE_INSTRUCTIONS,
        # The one variant 0.169.0 knows: apply_patch as a custom (freeform) tool; the gateway lowers it
        # to a function for the chat model and raises the call back to custom_tool_call.
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text",
        "input_modalities": ["text", "image"] if images else ["text"],
        "supports_search_tool": False,
        "default_reasoning_summary": "auto" if reasoning else "none",
    }
    if levels:
        entry["default_reasoning_level"] = "medium"
    if window:
        entry["context_window"] = window
    return entry


def codex_catalog(
    providers: Iterable[Provider], *, reads_images: Callable[[Provider], bool] | None = None
) -> dict[str, Any]:
    """``{"models": [...]}`` for ``providers`` (each model once: the first provider listing it wins).

    ``reads_images(provider)``: True when the vision bridge reads images for that provider's
    text-only models (``gateway.vision.reads_images_for``).
    """
    models: list[dict[str, Any]] = []
    seen: set[str] = set()
    for provider in providers:
        entries: list[tuple[ModelInfo | None, str]] = [(info, info.id) for info in provider.models]
        if not entries and provider.default_model:
            entries = [(None, provider.default_model)]
        for info, model_id in entries:
            if model_id in seen:
                continue
            seen.add(model_id)
            bridged = reads_images is not None and reads_images(provider)
            models.append(catalog_entry(provider, info, model_id, len(models) + 1, bridged=bridged))
    return {"models": models}


def catalog_providers(providers: Iterable[Provider], also: Provider | None = None) -> list[Provider]:
    """The providers a catalog lists: those with a key, plus ``also`` (the one a snippet is for)."""
    chosen = [p for p in providers if p.api_key or (also is not None and p.id == also.id)]
    # Generic providers first, as in routing: they win a model id they share with a built-in.
    return [p for p in chosen if not p.builtin] + [p for p in chosen if p.builtin]


def write_catalog(path: Path, catalog: dict[str, Any]) -> Path:
    """Write ``catalog`` to ``path`` atomically (Codex may be reading the old one)."""
    return write_atomic(path, (json.dumps(catalog, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


async def codex_models(request: Request) -> Response:
    """``GET /v1/codex/models``: the catalog for ``model_catalog_url`` (Codex's own format)."""
    gateway = request.app.state.gateway
    router = gateway.router
    return json_response(
        codex_catalog(catalog_providers(router.providers, router.default), reads_images=gateway.vision.reads_images_for)
    )
