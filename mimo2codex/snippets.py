"""The Codex configuration that points Codex at mimo2codex: ``auth.json`` and ``config.toml`` text.

:func:`render_snippets` is the one renderer: ``print-config``, ``print-cc-switch``, the admin Setup
page and the README's examples (checked by ``tests/test_snippets.py``) all come from it. Every
``config.toml`` it renders is accepted by ``codex --strict-config`` 0.169.0 (CONTRACT §5), sets the
model's context window and auto-compaction limit, and gives Codex the model catalog (CONTRACT
§3.1) so third-party models get ``apply_patch`` and their true window.

The provider table keeps the Node tool's names, so existing setups keep working: ``mimo`` for MiMo,
``mimo2codex`` for DeepSeek, ``mimo2codex-<id>`` for generic providers. No snippet ever contains
an upstream API key: Codex authenticates to mimo2codex with a local placeholder (or an inbound
token), and the upstream key stays in mimo2codex's environment.

>>> from mimo2codex.settings import load_settings
>>> snippets = render_snippets(load_settings({}, serving=False), "ds")
>>> snippets.provider_key
'mimo2codex'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mimo2codex.catalog import CATALOG_FILE, CATALOG_PATH
from mimo2codex.config_problems import PROBLEMS
from mimo2codex.providers import find_provider
from mimo2codex.providers.base import ModelInfo, Provider

if TYPE_CHECKING:
    from mimo2codex.settings import Settings

#: what Codex sends as its key when mimo2codex has no inbound tokens (any non-empty value works)
LOCAL_CLIENT_KEY = "mimo2codex-local"
#: the variable the ``--env-key`` variant reads Codex's key from (the Node tool's name)
CLIENT_KEY_ENV = "MIMO2CODEX_KEY"
#: ``model_auto_compact_token_limit`` as a share of the context window: leaves room for the
#: compaction summary itself below Codex's effective window (95% of the context window)
AUTO_COMPACT_SHARE = 0.9
_WILDCARDS = {"0.0.0.0", "::", "[::]"}

# Codex may not reach the gateway when it starts (mimo2codex not running yet): it then falls back to
# its cached catalog, or to fallback metadata; the gateway serves the catalog on every start.


def provider_key(provider: Provider) -> str:
    """The ``[model_providers.<key>]`` name; the Node tool's names, so old configs keep working."""
    return {"mimo": "mimo", "deepseek": "mimo2codex"}.get(provider.id, f"mimo2codex-{provider.id}")


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def auto_compact_limit(window: int) -> int:
    return int(window * AUTO_COMPACT_SHARE)


@dataclass(frozen=True, slots=True)
class Snippets:
    """Everything a user pastes into Codex for one provider (plain file contents plus CLI texts)."""

    provider_id: str
    provider_name: str
    #: the ``[model_providers.<key>]`` table name
    provider_key: str
    model: str
    base_url: str
    #: ``~/.codex/auth.json`` for the default and cc-switch variants
    auth_json: str
    #: config.toml lines for the default variant (``requires_openai_auth``, key from auth.json)
    config_toml: str
    #: config.toml lines for the ``--env-key`` variant (key from ``$MIMO2CODEX_KEY``)
    config_toml_env_key: str
    #: the whole config.toml cc-switch writes (same keys, ``model_provider`` first)
    cc_switch_config_toml: str
    #: the model catalog source Codex is given: a URL, or the catalog file path
    catalog: str
    #: Codex must send one of mimo2codex's inbound tokens (MIMO2CODEX_AUTH_TOKENS)
    needs_token: bool = False

    def print_config(self, *, env_key: bool = False) -> str:
        """``mimo2codex print-config [--env-key]``: the files with step-by-step comments."""
        if env_key:
            value = "<token>" if self.needs_token else "anything"
            which = "one of mimo2codex's MIMO2CODEX_AUTH_TOKENS" if self.needs_token else "any value works"
            return (
                "# ~/.codex/config.toml (Windows: %USERPROFILE%\\.codex\\config.toml), env-var variant:\n"
                "# Codex CLI only; the desktop app does not see shell variables.\n"
                f"{self.config_toml_env_key}\n"
                f"# Then, in the shell you start `codex` from ({which}):\n"
                f"#   export {CLIENT_KEY_ENV}={value}          # macOS / Linux / Git Bash\n"
                f'#   $env:{CLIENT_KEY_ENV}="{value}"          # Windows PowerShell\n'
                f"#   set {CLIENT_KEY_ENV}={value}             # Windows cmd\n"
            )
        return (
            "# Step 1: write ~/.codex/auth.json (Windows: %USERPROFILE%\\.codex\\auth.json).\n"
            f"# Codex sends this placeholder to mimo2codex{self._token_note()}; the {self.provider_name} key stays\n"
            "# with mimo2codex. It replaces a ChatGPT / OpenAI login saved in auth.json: to keep that login,\n"
            "# use `mimo2codex print-config --env-key` or `mimo2codex print-cc-switch` instead.\n"
            f"{self.auth_json}\n"
            "# Step 2: add to ~/.codex/config.toml (Windows: %USERPROFILE%\\.codex\\config.toml).\n"
            f"{self.config_toml}\n"
            "# Step 3: start mimo2codex, then quit and restart Codex (the desktop app too).\n"
        )

    def print_cc_switch(self) -> str:
        """``mimo2codex print-cc-switch``: both files for cc-switch's "Add provider > Codex > Custom"."""
        return (
            "# cc-switch: Add Provider > Codex > Custom\n\n"
            "# ---- auth.json (paste into the auth.json box) ----\n"
            f"{self.auth_json}\n"
            "# ---- config.toml (paste into the config.toml box) ----\n"
            f"{self.cc_switch_config_toml}\n"
            f"# Codex's key only reaches mimo2codex{self._token_note()}; your {self.provider_name} key stays in\n"
            "# mimo2codex's environment.\n"
        )

    def _token_note(self) -> str:
        return ", which requires one of its MIMO2CODEX_AUTH_TOKENS" if self.needs_token else ""


def _client_base_url(settings: Settings) -> str:
    host = settings.host
    if host in _WILDCARDS:
        host = "127.0.0.1"  # listening everywhere; Codex on this machine reaches it on loopback
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/v1"


def _window_lines(info: ModelInfo | None) -> list[str]:
    if info is None or not info.context_window:
        return []
    return [
        f"model_context_window = {info.context_window}",
        f"model_auto_compact_token_limit = {auto_compact_limit(info.context_window)}",
    ]


def _model_comments(provider: Provider, current: str) -> list[str]:
    if not provider.models:
        return [
            f"# {provider.display_name} has an open catalog: mimo2codex forwards any model id to it, so",
            "# change `model` freely. Declare models[] with contextWindow in providers.json to get",
            "# model_context_window and a catalog entry for each model.",
        ]
    lines = [
        f"# {provider.display_name} models: to switch, replace `model` and the two window lines above.",
    ]
    for info in sorted(provider.models, key=lambda m: m.legacy):
        notes = []
        if info.supports_images:
            notes.append("vision")
        if info.legacy:
            notes.append("legacy")
        if info.id == current:
            notes.append("current")
        window = ""
        if info.context_window:
            window = (
                f"  model_context_window = {info.context_window}"
                f"  model_auto_compact_token_limit = {auto_compact_limit(info.context_window)}"
            )
        suffix = f"  ({', '.join(notes)})" if notes else ""
        lines.append(f"#   model = {toml_string(info.id)}{window}{suffix}")
    return lines


def render_snippets(settings: Settings, provider: str | None = None, *, catalog_file: bool = False) -> Snippets:
    """The snippets for ``provider`` (id or shortcut; default: the default provider).

    ``catalog_file``: point Codex at ``<data dir>/codex-models.json`` (``model_catalog_json``,
    written by ``mimo2codex write-catalog``) instead of the gateway's catalog URL.
    """
    chosen = settings.default if provider is None else find_provider(settings.providers, provider)
    if chosen is None:
        known = ", ".join(p.handle if p.handle == p.id else f"{p.handle} ({p.id})" for p in settings.providers)
        raise PROBLEMS["unknown_provider"].error(name="--model", value=provider, known=known)
    key = provider_key(chosen)
    base_url = _client_base_url(settings)
    model = chosen.default_model
    info = chosen.model_info(model)
    name = f"{chosen.display_name} (via mimo2codex)"
    client_key = LOCAL_CLIENT_KEY if not settings.auth_tokens else "<one of mimo2codex's MIMO2CODEX_AUTH_TOKENS>"
    catalog_path = Path(settings.data_dir) / CATALOG_FILE
    web_search = "live" if _forwards_web_search(chosen) else "disabled"

    top = [f"model = {toml_string(model)}", f"model_provider = {toml_string(key)}", *_window_lines(info)]
    top.append(f"web_search = {toml_string(web_search)}")
    if catalog_file:
        top.append(f"model_catalog_json = {toml_string(str(catalog_path))}")
    comments = _model_comments(chosen, model)

    def table(auth: list[str]) -> list[str]:
        lines = [
            f"[model_providers.{key}]",
            f"name = {toml_string(name)}",
            f"base_url = {toml_string(base_url)}",
            'wire_api = "responses"',
            *auth,
            # mimo2codex already retries the upstream; Codex's retries multiply with its own.
            "request_max_retries = 1",
        ]
        if not catalog_file:
            lines.append(f"model_catalog_url = {toml_string(base_url.removesuffix('/v1') + CATALOG_PATH)}")
        return lines

    openai_auth = table(["requires_openai_auth = true"])
    if settings.auth_tokens:
        instructions = f"export {CLIENT_KEY_ENV}=<one of mimo2codex's MIMO2CODEX_AUTH_TOKENS>"
    else:
        instructions = f"export {CLIENT_KEY_ENV}=anything (mimo2codex keeps the real key)"
    env_auth = table(
        [
            f"env_key = {toml_string(CLIENT_KEY_ENV)}",
            f"env_key_instructions = {toml_string(instructions)}",
        ]
    )

    def document(first: list[str], auth: list[str]) -> str:
        return "\n".join([*first, "", *comments, "", *auth]) + "\n"

    cc_top = [top[1], top[0], *top[2:]]  # cc-switch writes model_provider first
    return Snippets(
        provider_id=chosen.id,
        provider_name=chosen.display_name,
        provider_key=key,
        model=model,
        base_url=base_url,
        auth_json=json.dumps({"OPENAI_API_KEY": client_key}, indent=2) + "\n",
        config_toml=document(top, openai_auth),
        config_toml_env_key=document(top, env_auth),
        cc_switch_config_toml=document(cc_top, openai_auth),
        catalog=str(catalog_path) if catalog_file else base_url.removesuffix("/v1") + CATALOG_PATH,
        needs_token=bool(settings.auth_tokens),
    )


def _forwards_web_search(provider: Provider) -> bool:
    """Whether the default model gets the vendor's web-search tool (MiMo with --web-search)."""
    return provider.profile(provider.default_model).web_search_tool is not None
