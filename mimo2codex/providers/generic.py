"""Generic OpenAI-compatible providers: plain Chat Completions (or native Responses) upstreams.

Their quirks are data only (:class:`~mimo2codex.providers.base.Quirks` fields), so this module only
builds providers from configuration: the env-only ``GENERIC_*`` provider here.
"""

from __future__ import annotations

from collections.abc import Mapping

from mimo2codex.errors import ConfigError
from mimo2codex.providers.base import Provider, Quirks, WireApi
from mimo2codex.secret import Secret

GENERIC_ID = "generic"


def parse_wire_api(value: str, *, where: str) -> WireApi:
    try:
        return WireApi(value.strip().lower())
    except ValueError:
        raise ConfigError(f'{where}: wireApi must be "chat" or "responses", got {value!r}') from None


def from_env(env: Mapping[str, str]) -> Provider | None:
    """The provider described by ``GENERIC_BASE_URL`` & co., or None when it is not set."""
    base_url = env.get("GENERIC_BASE_URL", "").strip()
    if not base_url:
        return None
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"GENERIC_BASE_URL (provider '{GENERIC_ID}', field baseUrl): must start with http:// or https://, got {base_url!r}"
        )
    key = env.get("GENERIC_API_KEY", "")
    wire = env.get("GENERIC_WIRE_API", "chat")
    return Provider(
        id=GENERIC_ID,
        display_name=env.get("GENERIC_DISPLAY_NAME", "") or "Generic OpenAI-compatible",
        base_url=base_url.rstrip("/"),
        api_key=Secret(key) if key else None,
        default_model=env.get("GENERIC_DEFAULT_MODEL", "").strip(),
        wire_api=parse_wire_api(wire, where=f"GENERIC_WIRE_API (provider '{GENERIC_ID}', field wireApi)"),
        quirks=Quirks(),
        shortcut=env.get("GENERIC_SHORTCUT", "").strip() or None,
        env_key="GENERIC_API_KEY",
    )
