"""``tfformats verify PATH``: check every checksum and shard, and explain what is wrong."""

from __future__ import annotations

import argparse
import sys

from . import batch_cmd

COMMAND = "verify"
HELP = "check every block and tensor checksum and every shard; explain damage in plain words"
DESCRIPTION = """\
Check a checkpoint end to end: every table block checksum, every tensor's crc32c, and that
every .data shard is present and long enough. Prints what is damaged and the likely cause
(an .index and .data from different saves, a missing or truncated shard, a damaged file,
a V1 file opened as V2, a path that is not a checkpoint).

exit status: 0 intact, 1 damaged, 2 unreadable (not a checkpoint, or its index cannot be opened)

--json prints one document: path, readable, intact, format, prefix, num_shards, tensors,
entries_checked, bytes_checked, blocks_checked, shards: [{path, present, size, needed}],
problems: [{kind, message, tensor, path, offset}], diagnosis: [sentences].
problem kinds: checksum, truncated, missing_shard, index, entry, slices, data, open.

examples:
  tfformats verify train/model.ckpt-1000
  tfformats verify train/ --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="*",
                        help="checkpoint prefix, .index/.data file, folder, state file or V1 file; several: batch mode")
    parser.add_argument("--json", action="store_true", help="print one JSON document (keys above)")
    batch_cmd.add_batch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if batch_cmd.wants_batch(args, COMMAND):
        return batch_cmd.run_batch(args, COMMAND)
    from ..checkpoint.verify import verify_checkpoint
    from .output import Progress, human_bytes, human_count, print_json

    progress = Progress(1, "verifying", stream=sys.stderr)

    def report_progress(done: int, total: int) -> None:
        progress.total = max(total, 1)
        progress.update(done)

    try:
        report = verify_checkpoint(args.path, progress=report_progress, storage_options=args.storage_options)
    finally:
        progress.close()
    out = sys.stdout
    if not report.readable and report.problems:
        print(f"tfformats verify: error: {report.problems[0].message}", file=sys.stderr)
    if args.json:
        print_json(report.to_dict(), out=out)
        return report.exit_code
    if not report.readable:
        out.write(f"UNREADABLE: {args.path}\n")
    else:
        shards = f"{report.num_shards} shard{'s' if report.num_shards != 1 else ''}"
        out.write(f"checkpoint: {report.prefix} ({report.format}, {shards}, {human_count(report.tensors)} tensors)\n")
        out.write(f"checked: {human_count(report.blocks_checked)} table blocks, "
                  f"{human_count(report.entries_checked)} tensors/slices, {human_bytes(report.bytes_checked)}\n")
    if report.intact:
        out.write("intact: every checksum matches and every shard is complete\n")
        return report.exit_code
    if report.readable:
        out.write(f"DAMAGED: {len(report.problems)} problem{'s' if len(report.problems) != 1 else ''}\n")
    for problem in report.problems[:50]:
        out.write(f"  - {problem.message}\n")
    if len(report.problems) > 50:
        out.write(f"  ... and {len(report.problems) - 50} more (use --json for all)\n")
    for cause in report.diagnosis:
        out.write(f"likely cause: {cause}\n")
    return report.exit_code
