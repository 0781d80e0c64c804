"""``tfformats audit PATH``: what a model would do if TensorFlow loaded it."""

from __future__ import annotations

import argparse

from . import batch_cmd

COMMAND = "audit"
HELP = "list the ops a graph, SavedModel or checkpoint would run and flag risky ones"
DESCRIPTION = """\
List every op a GraphDef (.pb/.pbtxt), MetaGraphDef (.meta), SavedModel folder
or checkpoint would run, including ops inside functions, nested functions and
graphs serialized into attributes or string constants, and flag risky ones:
file access, network, Python callbacks, memory mapping, debug ops and
non-standard (custom) ops. Checkpoints are also checked for integrity, NaN/Inf
values and string tensors holding serialized graphs.

Nothing from the file is executed or imported, and no path it names is opened.

Severities: info < low < medium < high < critical.
Exit status: 0 when nothing at or above --fail-on is found, 1 otherwise,
2 when the file cannot be read."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="*",
                        help="GraphDef, .meta, SavedModel folder or checkpoint; several: batch mode")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--fail-on", default="high", choices=["info", "low", "medium", "high", "critical"],
                        help="lowest severity that makes the exit status 1 (default: high)")
    parser.add_argument("--show", default="low", choices=["info", "low", "medium", "high", "critical"],
                        help="lowest severity listed in the text output (default: low)")
    parser.add_argument("--ops", action="store_true", help="also list every op with the path where it was found")
    parser.add_argument("--no-variables", action="store_true",
                        help="do not read a SavedModel's variables checkpoint")
    batch_cmd.add_batch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if batch_cmd.wants_batch(args, COMMAND):
        return batch_cmd.run_batch(args, COMMAND)
    import sys

    from ..audit import audit_path
    from .output import print_json, print_table

    report = audit_path(args.path, check_variables=not args.no_variables)
    failing = report.at_least(args.fail_on)
    if args.json:
        doc = report.to_dict()
        doc["fail_on"] = args.fail_on
        doc["failed"] = bool(failing)
        print_json(doc, out=sys.stdout)  # the current stdout, not the one bound at import
        return 1 if failing else 0
    counts = report.to_dict()["counts"]
    summary = ", ".join(f"{n} {s}" for s, n in reversed(list(counts.items())) if n) or "no findings"
    print(f"{report.path}: {report.kind}, {len(report.sites)} nodes, {len(report.op_counts())} distinct ops; "
          f"{summary}")
    shown = set(report.at_least(args.show))
    for f in report.sorted_findings():
        if f in shown:
            print(f"\n[{f.severity}] {f.category}: {f.message}\n    at {f.location}")
    if args.ops:
        print()
        print_table([(s.op, s.location) for s in report.sites], ["OP", "WHERE"], out=sys.stdout)
    print()
    if failing:
        print(f"FAIL: {len(failing)} finding(s) at or above {args.fail_on}")
        return 1
    print(f"OK: nothing at or above {args.fail_on}")
    return 0
