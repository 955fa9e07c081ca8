"""SiliconFlow: an aggregator of open models (ids like ``zai-org/GLM-4.6``), so an open catalog.
Reasoning models answer with ``reasoning_content``; ``max_tokens``; overflow is a 400
``{"code": 20015, "message": "length of prompt_tokens (N) must be less than max_seq_len (M).", "data": null}``."""

from __future__ import annotations

from mimo2codex.providers.presets.preset import Preset

PRESET = Preset(
    name="siliconflow",
    display_name="SiliconFlow",
    base_url="https://api.siliconflow.cn/v1",
    hosts=("https://api.siliconflow.com/v1",),
    env_key="SILICONFLOW_API_KEY",
    default_model="zai-org/GLM-4.6",
    docs_url="https://cloud.siliconflow.cn/account/ak",
    sources=(
        "https://github.com/chatboxai/chatbox/issues/2060 (overflow body, code 20015)",
        "https://github.com/NanmiCoder/cc-haha/issues/860 (model id scheme zai-org/GLM-*)",
    ),
)
