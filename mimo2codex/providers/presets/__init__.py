"""Vendor presets: one data module per vendor, listed here.

``"preset": "kimi"`` in a ``providers.json`` entry (or a ``baseUrl`` on a known host) starts the entry
from :data:`PRESETS`'s data; see :mod:`mimo2codex.providers.presets.preset` and ``docs/vendors.md``.
Adding a vendor is one module and one line below.
"""

from __future__ import annotations

from collections.abc import Mapping

from mimo2codex.providers.presets import ark, glm, kimi, lmstudio, minimax, ollama, openrouter, qwen, siliconflow, vllm
from mimo2codex.providers.presets.preset import Preset

PRESETS: Mapping[str, Preset] = {
    p.name: p
    for p in (
        kimi.PRESET,
        glm.PRESET,
        qwen.PRESET,
        minimax.PRESET,
        siliconflow.PRESET,
        openrouter.PRESET,
        ark.PRESET,
        ollama.PRESET,
        vllm.PRESET,
        lmstudio.PRESET,
    )
}


def preset_for_url(base_url: str) -> Preset | None:
    """The preset whose vendor serves ``base_url``, if any."""
    return next((p for p in PRESETS.values() if p.matches(base_url)), None)


__all__ = ["PRESETS", "Preset", "preset_for_url"]
