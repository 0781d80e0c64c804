"""``tfformats diff A B``: compare two checkpoints tensor by tensor."""

from __future__ import annotations

import argparse

COMMAND = "diff"
HELP = "compare two checkpoints (exit 0 when equal, 1 when not, 2 when unreadable)"
DESCRIPTION = """\
Compare the tensors of checkpoints A and B: tensors only in one of them, dtype or shape
changes, and for the rest the largest absolute and relative difference.

Equal means bit-identical unless --atol/--rtol loosen it (|a - b| <= atol + rtol * |b|,
NaN equal to NaN). A dtype or shape change always counts as a difference.
Exit status: 0 equal, 1 different, 2 a checkpoint cannot be read.

example:
  tfformats diff train/model.ckpt-1000 export/model --rtol 1e-2
"""


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of 0 or more, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="first checkpoint")
    parser.add_argument("b", help="second checkpoint")
    parser.add_argument("--atol", type=_tolerance, default=0.0, help="absolute tolerance (default 0: bit-identical)")
    parser.add_argument("--rtol", type=_tolerance, default=0.0, help="relative tolerance (default 0: bit-identical)")
    parser.add_argument("--include-object-graph", action="store_true",
                        help="also compare _CHECKPOINTABLE_OBJECT_GRAPH")
    parser.add_argument("--all", action="store_true", help="list identical tensors too")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.6g}"


def run(args: argparse.Namespace) -> int:
    import sys

    from ..checkpoint.diff import diff_checkpoints
    from .output import print_json, print_table

    result = diff_checkpoints(args.a, args.b, atol=args.atol, rtol=args.rtol,
                              include_object_graph=args.include_object_graph, storage_options=args.storage_options)
    if args.json:
        print_json(result.to_dict(), out=sys.stdout)
        return 0 if result.equal else 1
    rows = []
    for t in result.tensors:
        if t.equal and not args.all and t.status != "close":
            continue
        dtype = t.dtype_a if t.dtype_a == t.dtype_b else f"{t.dtype_a or '-'} -> {t.dtype_b or '-'}"
        shape = t.shape_a if t.shape_a == t.shape_b else f"{t.shape_a} -> {t.shape_b}"
        rows.append([t.name, t.status, dtype, shape, _num(t.max_abs), _num(t.max_rel)])
    if rows:
        print_table(rows, ["tensor", "status", "dtype", "shape", "max abs", "max rel"], align="llllrr", out=sys.stdout)
    counts: dict[str, int] = {}
    for t in result.tensors:
        counts[t.status] = counts.get(t.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{'equal' if result.equal else 'different'}: {len(result.tensors)} tensors ({summary})")
    return 0 if result.equal else 1
