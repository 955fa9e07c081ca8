"""The command line: flags -> settings -> uvicorn. No logic of its own.

Every flag comes from :data:`mimo2codex.settings.OPTIONS`, so it has an environment variable too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from mimo2codex import __version__
from mimo2codex.errors import ConfigError
from mimo2codex.settings import OPTIONS, Settings, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimo2codex",
        description="A gateway that lets the OpenAI Codex CLI talk to any Chat Completions LLM.",
        allow_abbrev=False,
    )
    parser.add_argument("-V", "--version", action="version", version=f"mimo2codex {__version__}")
    for option in OPTIONS:
        assert option.flag is not None
        names = [option.flag] + ([option.short] if option.short else [])
        help_text = option.help + (f" (env {option.env})" if option.env else "")
        if option.parse is bool or option.field == "verbose":
            parser.add_argument(
                *names, dest=option.field, action="store_const", const=True, default=None, help=help_text
            )
        else:
            parser.add_argument(
                *names, dest=option.field, type=_argparse_type(option.parse), default=None, help=help_text
            )
    return parser


def _argparse_type(parse: Any) -> Any:
    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # aiohttp and uvicorn debug output would drown ours.
    for noisy in ("aiohttp", "asyncio", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.INFO)


def serve(settings: Settings) -> None:
    import uvicorn

    from mimo2codex.server import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="debug" if settings.verbose else "info",
        access_log=False,
        loop="auto",
        http="auto",
        timeout_graceful_shutdown=10,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(flags=vars(args))
    except ConfigError as exc:
        print(f"mimo2codex: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.verbose)
    logging.getLogger("mimo2codex").info(
        "mimo2codex %s listening on %s (default provider: %s)",
        __version__,
        settings.listen_url,
        settings.router().default.id,
    )
    serve(settings)
    return 0
