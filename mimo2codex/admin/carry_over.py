"""The provider of the ``GENERIC_*`` variables, carried into the first providers.json the admin writes.

Once a providers file exists the loader ignores ``GENERIC_*`` (``generic_env_ignored``): without this,
a user who set the gateway up with those variables would lose that provider the moment they add their
first one in the admin. So the first write declares it in the file as an equivalent entry: the same
id, base URL, default model, wire API, display name and shortcut, and ``envKey: "GENERIC_API_KEY"``,
the variable its key is read from (never the key). A vendor host brings the same preset either way
(``preset_for_url``), so its catalog and quirks are unchanged too.

>>> from mimo2codex.settings import load_settings
>>> env = {"GENERIC_BASE_URL": "http://127.0.0.1:9/v1", "GENERIC_API_KEY": "k", "GENERIC_DEFAULT_MODEL": "m"}
>>> entry = env_entry(load_settings(env))
>>> entry["envKey"], entry["baseUrl"]
('GENERIC_API_KEY', 'http://127.0.0.1:9/v1')
>>> json.loads(with_entry(b'{"providers": [{"id": "acme"}]}', entry))["providers"][1]
{'id': 'acme'}
"""

from __future__ import annotations

import json
from typing import Any

from mimo2codex.providers.generic import ENV_KEY, ENV_SOURCE, GENERIC_ID
from mimo2codex.settings import Settings


def env_entry(settings: Settings) -> dict[str, Any] | None:
    """The providers.json entry equivalent to the running ``GENERIC_*`` provider; None without one."""
    for provider in settings.providers:
        if provider.id != GENERIC_ID or provider.source != ENV_SOURCE:
            continue
        # the variable's value, not a --base-url flag that overrides it for the default provider only
        endpoint = provider.endpoint
        base_url = endpoint.default_base_url if endpoint is not None else provider.base_url
        return {
            "id": provider.id,
            "displayName": provider.display_name,
            "shortcut": provider.shortcut or provider.id,
            "baseUrl": base_url,
            "envKey": ENV_KEY,
            "defaultModel": provider.default_model,
            "wireApi": provider.wire_api.value,
        }
    return None


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(key)
        result[key] = value
    return result


def with_entry(data: bytes, entry: dict[str, Any]) -> bytes | None:
    """``data`` (providers.json text) with ``entry`` first; None when it cannot or need not be added.

    Nothing is added to a document the loader will refuse anyway (its message must name the user's
    text, not ours) nor to one that declares the same id itself: the user's own entry wins.
    """
    try:
        document = json.loads(data.decode("utf-8-sig"), object_pairs_hook=_refuse_duplicates)
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return None
    if not isinstance(document, dict) or not isinstance(document.get("providers", []), list):
        return None
    entries: list[Any] = document.get("providers", [])
    if any(isinstance(e, dict) and str(e.get("id", "")).strip().lower() == entry["id"] for e in entries):
        return None
    document["providers"] = [entry, *entries]
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
