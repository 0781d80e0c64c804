"""The ``--check`` options of ``tfformats freeze``: light to import, the work is in :mod:`.check`."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Optional

DEFAULT_TOLERANCE = 1e-5  # same as check.DEFAULT_TOLERANCE; kept here so --help needs no numpy


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--check``, ``--check-tolerance`` and ``--check-dim`` to ``parser``."""
    parser.add_argument("--check", action="store_true",
                        help="after freezing, run the original graph (its variables fed from the checkpoint) and "
                             "the frozen one on the same random inputs and report the largest differences; exit 1 "
                             "when an output differs by more than --check-tolerance (needs onnx; onnxruntime is "
                             "faster)")
    parser.add_argument("--check-tolerance", type=float, default=DEFAULT_TOLERANCE, metavar="TOL",
                        help="an output passes when every |frozen - original| <= TOL * (1 + |original|) "
                             f"(default {DEFAULT_TOLERANCE:g})")
    parser.add_argument("--check-dim", type=int, default=1, metavar="N",
                        help="size given to unknown input dims for --check (default 1)")


def _list(value: Any) -> Optional[list[str]]:
    """Names from a comma-separated string or a list of them (repeated flags); None when not given."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    return [n.strip() for item in items for n in str(item).split(",") if n.strip()] or None


def run_check(args: argparse.Namespace, result: Any, graph: Optional[str],
              saved_model: Optional[str]) -> tuple[int, Optional[dict[str, Any]]]:
    """Run ``--check`` after ``tfformats freeze`` froze ``result``.

    Returns ``(exit status, JSON document)``: status 1 when an output differs by more than the
    tolerance. Without ``--json`` the report is printed here; with it the caller adds the document
    to its own.
    """
    from ..errors import ArgumentError

    if not getattr(args, "check", False):
        return 0, None
    if not (args.check_tolerance >= 0 and math.isfinite(args.check_tolerance)):
        raise ArgumentError(f"--check-tolerance must be a finite number >= 0, not {args.check_tolerance}")
    if args.check_dim < 1:
        raise ArgumentError(f"--check-dim must be at least 1, not {args.check_dim}")
    from .check import check_freeze_result, report_doc

    report = check_freeze_result(result, graph=graph, checkpoint=args.checkpoint, saved_model=saved_model,
                                 tags=_list(args.tags) or ["serve"], signature=args.signature,
                                 outputs=_list(args.outputs), tolerance=args.check_tolerance,
                                 unknown_dim=args.check_dim)
    if not args.json:
        shapes = ", ".join(f"{k} {list(v)}" for k, v in report.inputs.items()) or "none"
        print(f"check on random inputs ({shapes}; {report.variables} variables fed from the checkpoint; "
              f"{report.backend}):")
        for o in report.outputs:
            verdict = "ok" if o.passed else "DIFFERS"
            print(f"  {o.name}: max abs diff {o.max_abs:.3g}, max rel diff {o.max_rel:.3g}  {verdict}")
    if not report.passed:
        print(f"tfformats freeze: check failed: an output differs by more than tolerance {report.tolerance:g}",
              file=sys.stderr)
        return 1, report_doc(report)
    return 0, report_doc(report)


__all__ = ["DEFAULT_TOLERANCE", "add_check_arguments", "run_check"]
