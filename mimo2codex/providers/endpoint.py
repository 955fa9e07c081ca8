"""Where a provider's key and base URL come from, and the precedence between the sources.

Pure data plus one function, shared by every provider:

- the key: ``--api-key`` (default provider only) > the first set variable of ``key_envs``;
- the base URL: ``--base-url`` (default provider only) > ``base_url_env`` > the host tied to the
  key's prefix (``key_hosts``: MiMo's ``tp-`` token-plan keys live on another host than ``sk-``
  keys) > ``default_base_url``.

When the user sets a base URL that is the host of *another* key kind, the request would fail with
401 at the vendor: :func:`resolve_endpoint` returns a warning naming both.

>>> mimo = Endpoint(("MIMO_API_KEY",), "MIMO_BASE_URL", "https://a.example/v1",
...                 (("tp-", "https://tp.example/v1"), ("sk-", "https://a.example/v1")))
>>> resolve_endpoint(mimo, {"MIMO_API_KEY": "tp-123"}, label="MiMo").base_url
'https://tp.example/v1'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.secret import Secret


@dataclass(frozen=True, slots=True)
class Endpoint:
    #: environment variables holding the API key, tried in order
    key_envs: tuple[str, ...]
    #: environment variable overriding the base URL (None: only the default / --base-url)
    base_url_env: str | None
    default_base_url: str
    #: (key prefix, base URL): hosts that only accept keys of that prefix
    key_hosts: tuple[tuple[str, str], ...] = ()
    #: the key sent when no variable is set, for servers that need none (Ollama, LM Studio, a vLLM
    #: without --api-key); None: a key is required and the provider is unusable without one
    keyless: str | None = None

    def host_for_key(self, key: str) -> tuple[str, str] | None:
        """The (prefix, base URL) entry the key's prefix selects, if any."""
        for prefix, url in self.key_hosts:
            if key.startswith(prefix):
                return prefix, url
        return None


@dataclass(frozen=True, slots=True)
class ResolvedEndpoint:
    api_key: Secret | None
    #: where the key came from: "--api-key", an env var name, or "" when there is none
    key_source: str
    base_url: str
    #: "--base-url", an env var name, "key prefix 'tp-'" or "default"
    base_url_source: str
    warnings: tuple[str, ...] = ()


def _same_base(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def resolve_endpoint(
    endpoint: Endpoint,
    env: Mapping[str, str],
    *,
    label: str,
    api_key: str | None = None,
    base_url: str | None = None,
) -> ResolvedEndpoint:
    """Key and base URL from the flags (``api_key``/``base_url``) and ``env``, by precedence."""
    key, key_source = "", ""
    if api_key and api_key.strip():
        key, key_source = api_key.strip(), "--api-key"
    else:
        for name in endpoint.key_envs:
            value = env.get(name, "").strip()
            if value:
                key, key_source = value, name
                break

    if not key and endpoint.keyless is not None:
        # Local servers ignore the Authorization header; a provider needs a key to be routed to.
        key, key_source = endpoint.keyless, "none needed (local server)"

    # Blank values mean "not set" (desktop launchers write MIMO_BASE_URL= for an empty field).
    explicit = (base_url or "").strip()
    url_source = "--base-url" if explicit else ""
    if not explicit and endpoint.base_url_env:
        explicit = env.get(endpoint.base_url_env, "").strip()
        url_source = endpoint.base_url_env if explicit else ""
    keyed = endpoint.host_for_key(key) if key else None
    warnings: list[str] = []
    if explicit:
        url = explicit.rstrip("/")
        if keyed is not None and not _same_base(url, keyed[1]):
            other = next((p for p, u in endpoint.key_hosts if _same_base(url, u)), None)
            if other is not None:
                warnings.append(
                    PROBLEMS["key_host_mismatch"].message(
                        label=label,
                        key_source=key_source,
                        prefix=keyed[0],
                        expected=keyed[1],
                        url_source=url_source,
                        url=url,
                        other=other,
                    )
                )
    elif keyed is not None:
        url, url_source = keyed[1], f"key prefix '{keyed[0]}'"
    else:
        url, url_source = endpoint.default_base_url, "default"
    return ResolvedEndpoint(Secret(key) if key else None, key_source, url, url_source, tuple(warnings))
