"""``tfformats inspect PATH``: what a checkpoint holds, and optionally its values."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any, Iterator

from ..checkpoint.describe import describe, tensor_doc
from ..checkpoint.stats import tensor_stats
from . import batch_cmd

if TYPE_CHECKING:
    import numpy as np

    from ..checkpoint.interface import CheckpointReader, TensorInfo

COMMAND = "inspect"
HELP = "list the tensors of a checkpoint (dtype, shape, size), with values or statistics on request"
DESCRIPTION = """\
List every tensor of a checkpoint (name, dtype, shape, element count, bytes) and the totals:
tensors, parameters (elements of numeric tensors), bytes in the data files, shards and format
(V1, V2, or TF2-object for a V2 bundle with an object graph). For TF2 checkpoints the object
graph is summarized: objects, variables, and which objects are optimizers.

PATH is a checkpoint prefix, its .index or .data file, a folder with a 'checkpoint' state
file, the state file itself, a SavedModel folder, or a legacy V1 file.

--json prints one document with these keys:
  path, prefix, format ("V1" | "V2" | "TF2-object"), num_shards, num_tensors,
  num_parameters, total_bytes,
  tensors: [{name, dtype, shape, elements, bytes, slices, [stats], [values, truncated]}],
  object_graph: null | {objects, variables, slot_variables, optimizers: [paths],
                        optimizer_variables}
  and, with --tensor, tensor: {name, dtype, shape, elements, bytes, slices, values, truncated}.
Values are a flat list in C order (complex as [re, im], non-finite floats as "nan", "inf",
"-inf", strings decoded as UTF-8 with backslash escapes); "truncated" tells whether only the
first values are listed (use --full for all). stats: {min, max, mean, std, nan, inf} for
numbers (over finite values; complex: over magnitudes), {count, min_length, max_length,
mean_length} for strings.

examples:
  tfformats inspect train/model.ckpt-1000
  tfformats inspect train/ --tensor dense/kernel --full
  tfformats inspect model.ckpt --stats --json
"""

# Elements shown before a value listing is cut short (numpy's own threshold).
_SHOW = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="*",
                        help="checkpoint prefix, .index/.data file, folder, state file or V1 file; several: batch mode")
    parser.add_argument("--tensor", metavar="NAME", help="print the values of one tensor")
    parser.add_argument("--all", action="store_true", help="print the values of every tensor")
    parser.add_argument("--full", action="store_true", help="with --tensor/--all: print every value, not a summary")
    parser.add_argument("--stats", action="store_true",
                        help="add min/max/mean/std and NaN/Inf counts (strings: count and lengths)")
    parser.add_argument("--json", action="store_true", help="print one JSON document (keys above)")
    parser.add_argument("--no-verify", action="store_true", help="skip checksum verification when reading values")
    batch_cmd.add_batch_arguments(parser)


# -- values -------------------------------------------------------------------------------

def _json_scalar(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    if isinstance(v, complex):
        return [_json_scalar(v.real), _json_scalar(v.imag)]
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    return v


def json_values(value: "np.ndarray", full: bool) -> tuple[list[Any], bool]:
    """The first values (or all with ``full``) as JSON-ready Python objects, and whether cut short."""
    import numpy as np

    flat = value.reshape(-1)
    truncated = not full and flat.size > _SHOW
    if truncated:
        flat = flat[:_SHOW]
    if flat.dtype.kind not in "biufcOSU":  # bfloat16, float8, int4 ... from ml_dtypes
        flat = flat.astype(np.int64 if flat.dtype.kind == "V" and "int" in flat.dtype.name else np.float64)
    return [_json_scalar(v) for v in flat.tolist()], truncated


def format_values(value: "np.ndarray", full: bool) -> str:
    import numpy as np

    threshold = sys.maxsize if full else _SHOW
    return np.array2string(value, threshold=threshold, separator=", ") if value.ndim else repr(value.item())


# -- the listing ----------------------------------------------------------------------------

def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _read(reader: "CheckpointReader", name: str) -> "np.ndarray":
    """A tensor's value, as a view into the shard where possible (no copy needed for reading)."""
    return reader.get_tensor(name, copy=False)


def _with_values(reader: "CheckpointReader", infos: list["TensorInfo"]) -> Iterator[tuple["TensorInfo", "np.ndarray"]]:
    from .output import Progress

    progress = Progress(sum(max(i.nbytes, 1) for i in infos), "reading tensors", stream=sys.stderr)
    done = 0
    try:
        for info in infos:
            progress.update(done, info.name)
            yield info, _read(reader, info.name)
            done += max(info.nbytes, 1)
    finally:
        progress.close()


def _suggest(names: list[str], wanted: str) -> str:
    import difflib

    close = difflib.get_close_matches(wanted, names, n=3)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _show_tensor(reader: "CheckpointReader", doc: dict[str, Any], args: argparse.Namespace) -> int:
    from ..dtypes import VARIANT
    from ..errors import TensorNotFoundError
    from .output import print_json

    infos = reader.tensor_infos()
    info = infos.get(args.tensor)
    if info is None:
        raise TensorNotFoundError(f"no tensor named {args.tensor!r} in this checkpoint"
                                  f"{_suggest(list(infos), args.tensor)}", reader.prefix)
    value = _read(reader, args.tensor)
    with_stats = args.stats and info.dtype.enum != VARIANT
    if args.json:
        values, truncated = json_values(value, args.full)
        doc["tensor"] = dict(tensor_doc(info), values=values, truncated=truncated)
        if with_stats:
            doc["tensor"]["stats"] = tensor_stats(value)
        print_json(doc, out=sys.stdout)
        return 0
    sys.stdout.write(f"{info.name}  {info.dtype.tf_name}{_shape_text(info.shape)}\n")
    if with_stats:
        sys.stdout.write(_stats_text(tensor_stats(value)) + "\n")
    sys.stdout.write(format_values(value, args.full) + "\n")
    return 0


def _add_values(reader: "CheckpointReader", doc: dict[str, Any], args: argparse.Namespace) -> None:
    """Statistics (``--stats``) and values (``--all``) of every tensor: into ``doc``, or printed as they come."""
    from ..dtypes import VARIANT

    infos = reader.tensor_infos()
    docs = {d["name"]: d for d in doc["tensors"]}
    for info, value in _with_values(reader, [infos[d["name"]] for d in doc["tensors"]]):
        if args.stats and info.dtype.enum != VARIANT:
            docs[info.name]["stats"] = tensor_stats(value)
        if args.all:
            if args.json:
                docs[info.name]["values"], docs[info.name]["truncated"] = json_values(value, args.full)
            else:
                sys.stdout.write(f"tensor_name:  {info.name}\n{format_values(value, args.full)}\n")
        del value


def _print_listing(doc: dict[str, Any], args: argparse.Namespace) -> None:
    from .output import human_bytes, human_count, print_table

    out = sys.stdout
    headers = ["name", "dtype", "shape", "elements", "bytes"]
    align = "lllrr"
    if any(d["slices"] for d in doc["tensors"]):
        headers.append("slices")
        align += "r"
    if args.stats:
        headers.append("stats")
        align += "l"
    rows = []
    for d in doc["tensors"]:
        row = [d["name"], d["dtype"], _shape_text(tuple(d["shape"])), human_count(d["elements"]),
               human_bytes(d["bytes"])]
        if "slices" in headers:
            row.append(d["slices"] or "")
        if args.stats:
            row.append(_stats_text(d["stats"]) if "stats" in d else "")
        rows.append(row)
    print_table(rows, headers, out=out, align=align)
    out.write("\n")
    out.write(f"format: {doc['format']}   shards: {doc['num_shards']}   tensors: "
              f"{human_count(doc['num_tensors'])}   parameters: {human_count(doc['num_parameters'])}   "
              f"bytes: {human_bytes(doc['total_bytes'])} ({human_count(doc['total_bytes'])})\n")
    graph = doc["object_graph"]
    if graph is not None:
        optimizers = ", ".join(graph["optimizers"]) or "none"
        out.write(f"object graph: {graph['objects']} objects, {graph['variables']} variables "
                  f"({graph['optimizer_variables']} optimizer state, {graph['slot_variables']} slot variables); "
                  f"optimizers: {optimizers}\n")


def run(args: argparse.Namespace) -> int:
    if batch_cmd.wants_batch(args, COMMAND):
        return batch_cmd.run_batch(args, COMMAND)
    from ..checkpoint.loading import load_checkpoint
    from .output import print_json

    with load_checkpoint(args.path, verify_checksums=not args.no_verify,
                         storage_options=args.storage_options) as reader:
        doc = describe(reader, args.path)
        if args.tensor is not None:
            return _show_tensor(reader, doc, args)
        if args.stats or args.all:
            _add_values(reader, doc, args)
        if args.json:
            print_json(doc, out=sys.stdout)
        elif args.stats or not args.all:
            _print_listing(doc, args)
    return 0


def _stats_text(stats: dict[str, Any]) -> str:
    if "count" in stats:
        if not stats["count"]:
            return "count=0"
        return (f"count={stats['count']} length min={stats['min_length']} max={stats['max_length']} "
                f"mean={stats['mean_length']:.4g}")
    parts = []
    if stats["mean"] is None and not stats["nan"] and not stats["inf"]:
        return "empty"
    if stats["mean"] is not None:
        parts.append(f"min={stats['min']:.6g} max={stats['max']:.6g} mean={stats['mean']:.6g} "
                     f"std={stats['std']:.6g}")
    else:
        parts.append("no finite values")
    if stats["nan"] or stats["inf"]:
        parts.append(f"nan={stats['nan']} inf={stats['inf']}")
    return " ".join(parts)
