"""``tfformats edit SRC DST``: rewrite a checkpoint tensor by tensor."""

from __future__ import annotations

import argparse

COMMAND = "edit"
HELP = "write an edited copy of a checkpoint (drop, strip optimizer, EMA, rename, cast, reshard)"
DESCRIPTION = """\
Write an edited copy of checkpoint SRC at prefix DST; SRC is never modified.

Options apply in this order: --keep/--drop/--strip-optimizer, --use-ema, --rename, --cast.
Regular expressions match the original names with re.search. DST is written under
temporary names and appears only when complete; its folder gets a 'checkpoint' state file.

examples:
  tfformats edit train/model.ckpt-1000 export/model --strip-optimizer
  tfformats edit ckpt out/ckpt --rename '^model/=' --cast float32:bfloat16 --shards 4
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="checkpoint prefix, folder or state file")
    parser.add_argument("dst", help="prefix of the checkpoint to write")
    parser.add_argument("--keep", action="append", default=[], metavar="REGEX",
                        help="keep only tensors matching (repeatable)")
    parser.add_argument("--drop", action="append", default=[], metavar="REGEX",
                        help="drop tensors matching (repeatable)")
    parser.add_argument("--strip-optimizer", action="store_true",
                        help="remove optimizer state (TF1 slots and accumulators; TF2 via the object graph)")
    parser.add_argument("--strip-global-step", action="store_true",
                        help="with --strip-optimizer, also remove global_step")
    parser.add_argument("--use-ema", action="store_true",
                        help="replace each variable by its moving average and drop the copies: TF1 "
                             "'<name>/ExponentialMovingAverage' tensors, or the averages of a Keras "
                             "optimizer built with use_ema=True")
    parser.add_argument("--rename", action="append", default=[], metavar="PATTERN=REPLACEMENT",
                        help="re.sub on names, in the order given (repeatable)")
    parser.add_argument("--cast", action="append", default=[], metavar="FROM:TO",
                        help="cast float tensors, e.g. float32:bfloat16 (repeatable)")
    parser.add_argument("--shards", type=int, default=None, metavar="N", help="number of data shards to write")
    parser.add_argument("--no-state", action="store_true", help="do not write a 'checkpoint' state file")
    parser.add_argument("--dry-run", action="store_true", help="show what would be written and stop")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def _summary(plan: object, prefix: str | None, written: int | None) -> dict[str, object]:
    outputs = plan.outputs  # type: ignore[attr-defined]
    return {
        "prefix": prefix,
        "written": [o.name for o in outputs],
        "dropped": plan.dropped,  # type: ignore[attr-defined]
        "renamed": plan.renamed,  # type: ignore[attr-defined]
        "cast": {o.name: o.cast_to.tf_name for o in outputs if o.cast_to is not None},
        "bytes_written": written,
        "notes": plan.notes,  # type: ignore[attr-defined]
    }


def run(args: argparse.Namespace) -> int:
    import sys

    from ..checkpoint.loading import load_checkpoint
    from ..errors import ArgumentError
    from ..rewrite.edit import edit_checkpoint, plan_edit
    from .output import Progress, human_bytes, print_json

    options = dict(keep=args.keep, drop=args.drop, strip_optimizer=args.strip_optimizer,
                   strip_global_step=args.strip_global_step, use_ema=args.use_ema,
                   rename=args.rename, cast=args.cast)
    if args.shards is not None and args.shards < 1:
        raise ArgumentError("--shards must be at least 1")
    if args.dry_run:
        with load_checkpoint(args.src, storage_options=args.storage_options) as reader:
            plan = plan_edit(reader, **options)
        doc = _summary(plan, None, None)
    else:
        progress = Progress(1, "edit", stream=sys.stderr)

        def report(i: int, n: int, name: str) -> None:
            progress.total = max(n, 1)
            progress.update(i, name)

        try:
            result = edit_checkpoint(args.src, args.dst, num_shards=args.shards, update_state=not args.no_state,
                                     progress=report, storage_options=args.storage_options, **options)
        finally:
            progress.close()
        doc = _summary(result.plan, result.prefix, result.bytes_written)
    if args.json:
        print_json(doc, out=sys.stdout)
        return 0
    for note in doc["notes"]:  # type: ignore[attr-defined]
        print(f"note: {note}")
    written = doc["written"]
    print(f"{'would write' if args.dry_run else 'wrote'} {len(written)} tensors"  # type: ignore[arg-type]
          + (f" ({human_bytes(doc['bytes_written'])}) to {doc['prefix']}" if not args.dry_run else ""))  # type: ignore[arg-type]
    if doc["dropped"]:
        print(f"dropped {len(doc['dropped'])}:")  # type: ignore[arg-type]
        for name in doc["dropped"]:  # type: ignore[attr-defined]
            print(f"  - {name}")
    for old, new in doc["renamed"].items():  # type: ignore[attr-defined]
        print(f"  {old} -> {new}")
    for name, dtype in doc["cast"].items():  # type: ignore[attr-defined]
        print(f"  {name}: cast to {dtype}")
    return 0
