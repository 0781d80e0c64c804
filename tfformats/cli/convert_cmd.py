"""``tfformats convert CKPT OUT``: export tensors to .npz or .safetensors."""

from __future__ import annotations

import argparse

COMMAND = "convert"
HELP = "export checkpoint tensors to .npz or .safetensors"
DESCRIPTION = """\
Export the tensors of checkpoint CKPT to OUT, a file ending in .npz or .safetensors.

.safetensors files are the standard format other frameworks read; strings and complex
tensors cannot go there and are refused before anything is written. In .npz files,
strings are fixed-width bytes arrays and bfloat16/float8/int4 tensors are stored as raw
bits with their TensorFlow dtype recorded in '__tfformats_dtypes__'
(tfformats.export.load_npz restores them). A failed conversion leaves no file.

examples:
  tfformats convert train/model.ckpt-1000 model.safetensors --only '^model/'
  tfformats convert ckpt weights.npz --rename '/.ATTRIBUTES/VARIABLE_VALUE$='
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ckpt", help="checkpoint prefix, folder or state file")
    parser.add_argument("out", help="output file (.npz or .safetensors)")
    parser.add_argument("--only", action="append", default=[], metavar="REGEX",
                        help="export only tensors matching (re.search, repeatable)")
    parser.add_argument("--rename", action="append", default=[], metavar="PATTERN=REPLACEMENT",
                        help="re.sub on names, in the order given (repeatable)")
    parser.add_argument("--include-object-graph", action="store_true",
                        help="also export _CHECKPOINTABLE_OBJECT_GRAPH (metadata)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args: argparse.Namespace) -> int:
    import sys

    from ..rewrite.export import convert
    from .output import human_bytes, print_json

    result = convert(args.ckpt, args.out, only=args.only, rename=args.rename,
                     include_object_graph=args.include_object_graph, storage_options=args.storage_options)
    if args.json:
        print_json({"path": result.path, "tensors": result.tensors, "bytes_written": result.bytes_written},
                   out=sys.stdout)
    else:
        print(f"wrote {len(result.tensors)} tensors ({human_bytes(result.bytes_written)}) to {result.path}")
    return 0
