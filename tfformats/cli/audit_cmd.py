"""``tfformats audit PATH``: what a model would do if TensorFlow loaded it."""

from __future__ import annotations

import argparse

from . import batch_cmd

COMMAND = "audit"
HELP = "list the ops a graph, SavedModel or checkpoint would run and flag risky ones"
DESCRIPTION = """\
List every op a GraphDef (.pb/.pbtxt), MetaGraphDef (.meta), SavedModel folder
or checkpoint would run, including ops inside functions, nested functions,
control-flow branches, dataset functions and graphs serialized into attributes
or string constants (also base64, hex or zlib encoded), and flag risky ones:
file access, network, Python callbacks, memory mapping, debug ops and custom
ops that need a native library. Constant file names and URLs are decoded
(absolute paths, '..', remote locations, other users' files); the checkpoint
saver and reads of the model's own assets are recognised by structure.

Every finding says when TensorFlow would run the op: "load" (a loader runs it:
tf.saved_model.load, the TF1/C++ loader used by TF Serving, Saver.restore),
"call" (a signature or concrete function, or a fetched node) or "never";
findings at load are one severity higher, code nothing runs is low. The path
from the entry point to the op is listed under "via".

--allow PROFILE|FILE also flags every op outside an allowlist: the profiles
"inference" (pure computation) and "tf-data" (plus tf.data pipelines reading
only the model's assets) are built from TensorFlow 2.21's op registry; a file
lists op names, one a line ("profile NAME" includes a profile).

Nothing from the file is executed or imported, and no path it names is opened.
A SavedModel folder without saved_model.pb/.pbtxt is an error, never "clean".

Severities: info < low < medium < high < critical.
Reports: --format text (default), json (schema_version 2, docs/audit.md),
sarif (SARIF 2.1.0 for code scanning) or html (one self-contained page).
Exit status: 0 when nothing at or above --fail-on is found, 1 otherwise,
2 when the file cannot be read."""

FORMATS = ("text", "json", "sarif", "html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="*",
                        help="GraphDef, .meta, SavedModel folder or checkpoint; several: batch mode")
    parser.add_argument("--json", action="store_true", help="print one JSON document (same as --format json)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="report format: text, json, sarif or html (default: text)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--allow", metavar="PROFILE|FILE",
                        help="flag every op outside this allowlist (profiles: inference, tf-data)")
    parser.add_argument("--fail-on", default="high", choices=["info", "low", "medium", "high", "critical"],
                        help="lowest severity that makes the exit status 1 (default: high)")
    parser.add_argument("--show", default="low", choices=["info", "low", "medium", "high", "critical"],
                        help="lowest severity listed in the text output (default: low)")
    parser.add_argument("--ops", action="store_true", help="also list every op with the path where it was found")
    parser.add_argument("--no-variables", action="store_true",
                        help="do not read a SavedModel's variables checkpoint")
    batch_cmd.add_batch_arguments(parser)


def _saved_model_folder(paths: list[str]) -> bool:
    """One folder that looks like a SavedModel: audit it alone, so a missing graph file is an error."""
    import os

    return len(paths) == 1 and os.path.isdir(paths[0]) and any(
        os.path.isdir(os.path.join(paths[0], sub)) for sub in ("variables", "assets"))


def run(args: argparse.Namespace) -> int:
    if args.format == "json":
        args.json = True  # an unreadable input then still prints a JSON document
    if _saved_model_folder(list(args.path or [])) and not (args.from_file or args.jobs or args.dask or args.jsonl):
        args.path = args.path[0]
        return audit_one(args)
    if batch_cmd.wants_batch(args, COMMAND):
        return batch_cmd.run_batch(args, COMMAND)
    return audit_one(args)


def audit_one(args: argparse.Namespace) -> int:
    """Audit the one model ``args.path`` names and print its report; the exit status."""
    import sys

    from ..audit import audit_path
    from ..audit.render import render

    fmt = args.format or ("json" if args.json else "text")
    report = audit_path(args.path, check_variables=not args.no_variables, allow=args.allow,
                        storage_options=getattr(args, "storage_options", None))
    failing = report.at_least(args.fail_on)
    text = render(report, fmt, fail_on=args.fail_on, show=args.show, ops=args.ops)
    if args.output:
        from ..errors import OutputError

        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise OutputError(f"cannot write the report: {exc.strerror or exc}", args.output) from None
    else:
        sys.stdout.write(text)  # the current stdout, not the one bound at import
    return 1 if failing else 0
