"""``tfformats graph PATH``: summarize a GraphDef, MetaGraphDef or SavedModel."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import batch_cmd

COMMAND = "graph"
HELP = "summarize a GraphDef (.pb/.pbtxt), MetaGraphDef (.meta) or SavedModel folder"
DESCRIPTION = """\
Print what a graph holds: inputs (Placeholders with dtype and shape), outputs (nodes nothing
consumes, and signature outputs), node count and op-type histogram, variables with shapes and
parameter count, bytes held in Const nodes, devices and library functions. For a .meta also
collections, saver_def and signatures; for a SavedModel every tag set and signature with its
inputs and outputs (like `saved_model_cli show --all`). Binary or text is found from the content.

examples:
  tfformats graph frozen.pb
  tfformats graph train/model.ckpt-1000.meta --json
  tfformats graph export/1
"""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count of 0 or more, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="*",
                        help="a .pb/.pbtxt GraphDef, a .meta MetaGraphDef, or a SavedModel folder; several: batch mode")
    parser.add_argument("--ops", type=_count, default=15, metavar="N", help="op types to list (default 15, 0: all)")
    parser.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    batch_cmd.add_batch_arguments(parser)


def _shape(shape: Any) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


def _print_graph(g: dict[str, Any], args: argparse.Namespace, indent: str = "") -> None:
    from .output import human_bytes, human_count, print_table

    print(f"{indent}nodes: {human_count(g['nodes'])}   variables: {len(g['variables'])} "
          f"({human_count(g['parameters'])} parameters)   const bytes: {human_bytes(g['const_bytes'])}   "
          f"functions: {len(g['functions'])}")
    if g["inputs"]:
        print(f"{indent}inputs:")
        for i in g["inputs"]:
            print(f"{indent}  {i['name']}: {i['dtype']} {_shape(i['shape'])}" +
                  ("  (has default)" if i["op"] == "PlaceholderWithDefault" else ""))
    outs = g["outputs"]
    more = g["outputs_total"] - len(outs)
    print(f"{indent}outputs: {', '.join(outs[:20]) or '-'}" + (f" (+{more + max(0, len(outs) - 20)} more)"
                                                              if more or len(outs) > 20 else ""))
    if g["feeds"] and not g["variables"] and len(g["fetches"]) <= 20:
        print(f"{indent}feed: {', '.join(g['feeds'])}   fetch: {', '.join(g['fetches'])}")
    if g.get("initializers"):
        print(f"{indent}run once before the fetches (lookup tables): {', '.join(g['initializers'])}")
    if g.get("signature_outputs"):
        print(f"{indent}signature outputs: {', '.join(g['signature_outputs'])}")
    ops = list(g["op_types"].items())
    shown = ops[: args.ops] if args.ops else ops
    print(f"{indent}op types ({len(ops)}): " + ", ".join(f"{op} {n}" for op, n in shown) +
          (", ..." if len(ops) > len(shown) else ""))
    if g["variables"]:
        rows = [[v["name"], v["op"], v["dtype"], _shape(v["shape"]), "" if v["params"] is None else v["params"]]
                for v in g["variables"][:50]]
        print_table(rows, ["variable", "op", "dtype", "shape", "params"], align="llllr", out=sys.stdout)
        if len(g["variables"]) > 50:
            print(f"{indent}... {len(g['variables']) - 50} more variables")
    if g["devices"]:
        print(f"{indent}devices: " + ", ".join(f"{d} ({n})" for d, n in g["devices"].items()))
    if g["savers"]:
        print(f"{indent}saver scopes: {', '.join(g['savers'])}")
    for f in g["functions"][:30]:
        print(f"{indent}  function {f['name']}: {f['nodes']} nodes, {human_bytes(f['bytes'])}")
    if len(g["functions"]) > 30:
        print(f"{indent}  ... {len(g['functions']) - 30} more functions")


def _print_meta(m: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"tags: {', '.join(m['tags']) or '(none)'}   tensorflow: {m['tensorflow_version'] or '?'}" +
          ("   (TF2 object graph)" if m["tf2_object_graph_nodes"] else ""))
    if m.get("saver_def"):
        sd = m["saver_def"]
        print(f"saver: restore {sd['restore_op_name']}, filename {sd['filename_tensor_name']}, "
              f"version V{sd['version']}, sharded {sd['sharded']}")
    if m["collections"]:
        print("collections: " + ", ".join(f"{k} ({c['count']})" for k, c in m["collections"].items()))
    for name, sig in m["signatures"].items():
        print(f"signature {name!r} ({sig['method_name']}):")
        for side in ("inputs", "outputs"):
            for key, t in sig[side].items():
                where = t.get("name") or t.get("coo_sparse") or t.get("composite_tensor")
                print(f"  {side[:-1]:6} {key}: {t['dtype']} {_shape(t['shape'])} <- {where}")
    _print_graph(m["graph"], args)


def run(args: argparse.Namespace) -> int:
    if batch_cmd.wants_batch(args, COMMAND):
        return batch_cmd.run_batch(args, COMMAND)
    from ..graphs.read import read_message
    from ..graphs.summary import summarize
    from .output import print_json

    kind, message = read_message(args.path, storage_options=args.storage_options)
    doc = {"path": args.path, **summarize(kind, message)}
    if args.json:
        print_json(doc, out=sys.stdout)
        return 0
    print(f"{args.path}: {doc['kind']}")
    if kind == "graph":
        _print_graph(doc["graph"], args)
    elif kind == "meta":
        _print_meta(doc, args)
    else:
        for i, meta in enumerate(doc["meta_graphs"]):
            print(f"\nmeta graph {i}:")
            _print_meta(meta, args)
    return 0
