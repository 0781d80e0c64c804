"""The ``tfformats`` command line: one module per subcommand.

Each subcommand module defines ``COMMAND`` (its name), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``, and keeps heavy imports
inside ``run`` so that ``tfformats --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Optional, Sequence

from ..errors import TFFormatsError

# Subcommand modules (``<name>_cmd``) in the order --help lists them; each sets its own COMMAND.
# A module that is not present is skipped.
SUBCOMMANDS = ["inspect", "verify", "graph", "freeze", "edit", "convert", "diff", "audit", "onnx", "run",
               "saved_model"]

EXIT_OK, EXIT_PROBLEM, EXIT_UNREADABLE = 0, 1, 2


def _modules() -> list[ModuleType]:
    found = []
    for name in SUBCOMMANDS:
        try:
            found.append(importlib.import_module(f"{__name__}.{name}_cmd"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}_cmd":
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="tfformats",
        description="Read, write, freeze and audit TensorFlow checkpoints, GraphDefs and SavedModels "
                    "without TensorFlow.",
        epilog="Run 'tfformats COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"tfformats {__version__}")

    class StorageOption(argparse.Action):
        """``--storage-option KEY=VALUE`` into ``args.storage_options`` (VALUE as JSON when it parses)."""

        def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                     option_string: Optional[str] = None) -> None:
            import json

            key, sep, value = str(values).partition("=")
            if not sep or not key:
                parser.error(f"--storage-option expects KEY=VALUE, got {values!r}")
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            namespace.storage_options = {**(getattr(namespace, "storage_options", None) or {}), key: parsed}

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _modules():
        p = sub.add_parser(module.COMMAND, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.add_argument("--storage-option", action=StorageOption, metavar="KEY=VALUE", dest="storage_options",
                       default=None, help="for URL paths (s3://, gs://, https://, ...): an fsspec storage option "
                                          "such as anon=true or endpoint_url=...; repeatable")
        p.set_defaults(handler=module.run)
    return parser


def _error_path(exc: BaseException) -> Optional[str]:
    path = getattr(exc, "path", None) or getattr(exc, "filename", None)
    return None if path is None else str(path)


def _error_text(exc: BaseException) -> str:
    """One line for any error: tfformats errors carry their path; a bare OSError gets it put in front."""
    if isinstance(exc, OSError) and not isinstance(exc, TFFormatsError):
        where = _error_path(exc)
        reason = exc.strerror or str(exc)
        return f"{where}: {reason}" if where else reason
    return " ".join(str(exc).split("\n"))


def fail(args: argparse.Namespace, exc: BaseException) -> int:
    """Report ``exc`` the one way every subcommand does: a line on stderr, and a JSON document with --json."""
    print(f"tfformats {args.command}: error: {_error_text(exc)}", file=sys.stderr)
    if getattr(args, "json", False):
        # Scripts reading --json get a document even when the input cannot be read.
        from .output import print_json

        print_json({"error": _error_text(exc), "error_type": type(exc).__name__, "path": _error_path(exc),
                    "exit_status": EXIT_UNREADABLE})
    return EXIT_UNREADABLE


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``tfformats`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_UNREADABLE
    try:
        return int(args.handler(args))
    except (TFFormatsError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            return EXIT_OK
        return fail(args, exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
