"""The command line: flags -> settings -> uvicorn, or a printed Codex configuration. No logic of its own.

Every option comes from :data:`mimo2codex.options.OPTIONS`, so it has an environment variable too,
and works before or after a subcommand (``mimo2codex --port 9000 print-config`` or
``mimo2codex print-config --port 9000``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mimo2codex import __version__, redaction
from mimo2codex.banner import render_banner, use_color
from mimo2codex.catalog import CATALOG_FILE, catalog_providers, codex_catalog, write_catalog
from mimo2codex.errors import ConfigError
from mimo2codex.options import OPTIONS, Option
from mimo2codex.settings import Settings, load_settings
from mimo2codex.snippets import render_snippets, toml_string
from mimo2codex.subcommands import Subcommand, load_subcommands
from mimo2codex.vision.backend import image_readers

EPILOG = """\
commands:
  (none)            run the gateway
  print-config      print ~/.codex/auth.json and config.toml for a provider
                    (--model P, --env-key: key from $MIMO2CODEX_KEY instead of auth.json)
  print-cc-switch   print auth.json and config.toml for cc-switch
  write-catalog     write the Codex model catalog to <data dir>/codex-models.json

examples:
  MIMO_API_KEY=sk-... mimo2codex
  DS_API_KEY=sk-... mimo2codex --model ds --port 9000
  mimo2codex print-config --model ds --port 9000
"""


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    names = [option.flag] + ([option.short] if option.short else [])
    help_text = option.help + (f" (env {option.env})" if option.env else "")
    if option.switch is not None:
        parser.add_argument(
            *names,
            dest=option.field,
            action="store_const",
            const=option.switch,
            default=argparse.SUPPRESS,
            help=help_text,
        )
        if option.flag_off:
            parser.add_argument(
                option.flag_off,
                dest=option.field,
                action="store_const",
                const=not option.switch,
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS,
            )
        return
    parser.add_argument(
        *names,
        dest=option.field,
        type=_argparse_type(option.parse),
        default=argparse.SUPPRESS,
        metavar=option.metavar,
        help=help_text,
    )


def _argparse_type(parse: Any) -> Any:
    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def build_parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    for option in OPTIONS:
        _add_option(options, option)
    parser = argparse.ArgumentParser(
        prog="mimo2codex",
        description="A gateway that lets the OpenAI Codex CLI talk to any Chat Completions LLM.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
        parents=[options],
    )
    parser.add_argument("-V", "--version", action="version", version=f"mimo2codex {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    catalog_help = "point Codex at <data dir>/codex-models.json (model_catalog_json) instead of the catalog URL"
    printer = commands.add_parser(
        "print-config", parents=[options], allow_abbrev=False, help="print the Codex configuration"
    )
    printer.add_argument(
        "--env-key", action="store_true", help="Codex reads its key from $MIMO2CODEX_KEY (CLI only; keeps auth.json)"
    )
    printer.add_argument("--catalog-json", action="store_true", help=catalog_help)
    switcher = commands.add_parser(
        "print-cc-switch", parents=[options], allow_abbrev=False, help="print the configuration for cc-switch"
    )
    switcher.add_argument("--catalog-json", action="store_true", help=catalog_help)
    writer = commands.add_parser(
        "write-catalog", parents=[options], allow_abbrev=False, help="write the Codex model catalog JSON"
    )
    writer.add_argument(
        "--output", type=Path, metavar="FILE", help=f"where to write (default <data dir>/{CATALOG_FILE})"
    )
    for sub in load_subcommands():
        # The command's own flags first, then the global ones it does not define: its own flag wins
        # over a global one of the same name (`logs --model M` filters by model; it does not choose
        # the default provider). Not parents= + conflict_handler="resolve": resolving edits the
        # parent's shared actions, which turned the main parser's --model into a positional.
        sub_parser = commands.add_parser(sub.name, allow_abbrev=False, help=sub.help)
        sub_parser.set_defaults(subcommand=sub)
        sub.configure(sub_parser)
        _share_options(sub_parser)
    return parser


def _share_options(parser: argparse.ArgumentParser) -> None:
    """Give a command and its nested actions (``codex enable``, ``db prune``) the global options they
    do not define themselves, so that ``mimo2codex codex enable --model ds`` works like
    ``mimo2codex --model ds codex enable``."""
    for option in OPTIONS:
        names = (option.flag, option.short, option.flag_off)
        if not any(name in parser._option_string_actions for name in names if name):
            _add_option(parser, option)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                _share_options(nested)


#: the command line, for the worker processes of ``--workers N`` (see :func:`worker_settings`)
WORKER_ARGS_ENV = "MIMO2CODEX_WORKER_ARGS"


def _option_flags(args: argparse.Namespace) -> dict[str, Any]:
    option_fields = {option.field for option in OPTIONS}
    return {name: value for name, value in vars(args).items() if name in option_fields}


def worker_settings() -> Settings:
    """In a ``--workers N`` worker process: the settings :func:`main` parsed, and its logging set up.

    Workers are spawned, fresh interpreters: they inherit the environment but nothing :func:`main`
    configured. :func:`main` puts its command line in the environment (never in a file: it may hold
    ``--api-key``), and each worker parses it exactly as :func:`main` did.
    """
    raw = os.environ.pop(WORKER_ARGS_ENV, None)
    args = build_parser().parse_args(json.loads(raw) if raw else [])
    from mimo2codex.admin.stored_toggles import startup_settings  # what main() used for serving

    settings = startup_settings(flags=_option_flags(args))
    configure_logging(settings.verbose)
    redaction.install(_secret_values(settings))
    return settings


def _secret_values(settings: Settings) -> list[str]:
    keys = [p.api_key.reveal() for p in settings.providers if p.api_key]
    return keys + [token.reveal() for token in settings.auth_tokens]


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

    from mimo2codex.server import production_app

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "debug" if settings.verbose else "info",
        "access_log": False,
        "loop": "auto",
        "http": "auto",
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_grace),  # uvicorn takes whole seconds
    }
    if settings.workers > 1:
        # libuv accepts every pending connection at once: when a team's clients connect together, the
        # worker that wakes first takes them all and the others idle. One accept per wakeup spreads
        # them (the workers inherit the variable).
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
        # /metrics sums every worker's values, which each writes to files in this directory.
        from mimo2codex.metrics import prepare_multiprocess

        prepare_multiprocess(settings.data_dir)
        # uvicorn binds the port here and spawns the workers; each builds its own app from the
        # command line main() left in the environment (server.app_from_env).
        uvicorn.run("mimo2codex.server:app_from_env", factory=True, workers=settings.workers, **options)
    else:
        uvicorn.run(production_app(settings), **options)


def _write_catalog(settings: Settings, output: Path | None) -> str:
    path = output if output is not None else settings.data_dir / CATALOG_FILE
    readers = image_readers(settings.vision_model, settings.providers)  # the vision bridge reads images
    catalog = codex_catalog(catalog_providers(settings.providers, settings.default), reads_images=readers)
    write_catalog(path, catalog)
    return (
        f"wrote {len(catalog['models'])} models to {path}\n"
        "To use the file instead of the catalog URL, put this line at the top of ~/.codex/config.toml\n"
        "(or run `mimo2codex print-config --catalog-json`):\n"
        f"model_catalog_json = {toml_string(str(path))}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = _option_flags(args)
    command: str | None = args.command
    sub: Subcommand | None = getattr(args, "subcommand", None)
    try:
        if command is None:  # serving: the admin's stored settings apply; imported only to serve
            from mimo2codex.admin.stored_toggles import startup_settings

            settings = startup_settings(flags=flags)
        else:
            settings = load_settings(flags=flags, serving=sub is not None and sub.needs_key)
        if sub is not None:
            return sub.run(args, settings)
        if command == "print-config":
            text = render_snippets(settings, catalog_file=args.catalog_json).print_config(env_key=args.env_key)
        elif command == "print-cc-switch":
            text = render_snippets(settings, catalog_file=args.catalog_json).print_cc_switch()
        elif command == "write-catalog":
            text = _write_catalog(settings, args.output)
        else:
            text = ""
    except ConfigError as exc:
        print(f"mimo2codex: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mimo2codex: {exc}", file=sys.stderr)
        return 1
    if command is not None:
        sys.stdout.write(text)
        return 0
    configure_logging(settings.verbose)
    redaction.install(_secret_values(settings))
    sys.stdout.write(render_banner(settings, color=use_color(sys.stdout)))
    sys.stdout.flush()
    if settings.workers > 1:
        os.environ[WORKER_ARGS_ENV] = json.dumps(list(sys.argv[1:] if argv is None else argv))
    serve(settings)
    return 0
