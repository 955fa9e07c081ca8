"""The startup banner: what is running, where, with which providers, and how to point Codex at it.

Colors only on a terminal (and never with ``NO_COLOR``); keys are always masked.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from typing import TextIO

from mimo2codex import __version__
from mimo2codex.catalog import CATALOG_PATH
from mimo2codex.providers.base import Provider
from mimo2codex.settings import Settings

_CODES = {"bold": "1", "dim": "2", "green": "32", "yellow": "33", "cyan": "36"}


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"


def use_color(stream: TextIO) -> bool:
    """ANSI colors when ``stream`` is a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _provider_lines(provider: Provider, default: bool, style: _Style) -> list[str]:
    assert provider.api_key is not None
    marker = style(" (default)", "green", "bold") if default else ""
    models = ", ".join(m.id for m in provider.models if not m.legacy) or (
        f"any model id (open catalog; default {provider.default_model})"
    )
    where = f"  [{provider.base_url_source}]" if provider.base_url_source not in ("", "default") else ""
    lines = [
        f"  {style(provider.display_name, 'bold')} ({provider.handle}){marker}",
        f"      key      {provider.api_key.masked()}  from {provider.key_source}",
        f"      upstream {provider.base_url}{style(where, 'dim')}  ({provider.wire_api.value})",
        f"      models   {models}",
    ]
    return lines


def proxy_summary(settings: Settings, proxies: Mapping[str, str]) -> str | None:
    """What the upstream client does about proxies, credentials in proxy URLs masked."""
    if not settings.use_proxy:
        return "off (--no-proxy): upstreams are reached directly"
    shown = [
        f"{scheme}={_without_credentials(proxies[scheme])}" for scheme in ("https", "http", "no") if proxies.get(scheme)
    ]
    return ", ".join(shown) or None


def _without_credentials(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


def render_banner(settings: Settings, *, color: bool = False, proxies: Mapping[str, str] | None = None) -> str:
    """The banner text (``color``: ANSI styles for a terminal; ``proxies``: default from the environment)."""
    style = _Style(color)
    default = settings.default
    url = settings.listen_url
    lines = [
        f"{style('mimo2codex', 'bold', 'cyan')} {__version__}  listening on {style(url + '/v1', 'bold')}",
        "",
        "providers with a key:",
    ]
    for provider in settings.keyed_providers:
        lines += _provider_lines(provider, provider.id == default.id, style)
    keyless = [p.handle for p in settings.providers if not p.api_key]
    if keyless:
        lines.append(style(f"  without a key (their models go to the default): {', '.join(keyless)}", "dim"))
    lines += [
        "",
        f"default provider  {default.display_name} ({default.handle}): serves every model no other provider claims",
        f"reasoning         {'shown in Codex' if settings.expose_reasoning else 'hidden from Codex (still replayed)'}"
        + ("" if settings.thinking else "; thinking disabled upstream"),
        f"data dir          {settings.data_dir}",
    ]
    if settings.providers_file is not None:
        lines.append(f"providers file    {settings.providers_file}")
    lines.append(f"model catalog     {url}{CATALOG_PATH}")
    lines.append(f"admin             {url + '/admin' if settings.admin else 'off (--no-admin)'}")
    proxy = proxy_summary(settings, urllib.request.getproxies() if proxies is None else proxies)
    if proxy:
        lines.append(f"upstream proxy    {proxy}")
    if settings.auth_tokens:
        lines.append(f"inbound auth      {len(settings.auth_tokens)} token(s) required")
    for warning in settings.warnings:
        lines.append(style(f"warning: {warning}", "yellow"))
    command = f"mimo2codex print-config --model {default.handle}"
    if settings.host != "127.0.0.1":
        command += f" --host {settings.host}"
    if settings.port != 8788:
        command += f" --port {settings.port}"
    lines += ["", "Codex setup: " + style(command, "bold") + "  (or print-cc-switch, print-config --env-key)"]
    return "\n".join(lines) + "\n"
