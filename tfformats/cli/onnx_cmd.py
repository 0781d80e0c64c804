"""``tfformats onnx SOURCE -o model.onnx``: convert a TensorFlow model to ONNX without TensorFlow."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from typing import Any

COMMAND = "onnx"
HELP = "convert a frozen GraphDef, SavedModel or .meta + checkpoint to an ONNX model"
DESCRIPTION = """\
Convert a TensorFlow model to ONNX without TensorFlow. SOURCE is a frozen GraphDef (.pb/.pbtxt),
a SavedModel folder (frozen first, one signature), or a .meta with -c CHECKPOINT and --outputs.
ONNX inputs and outputs are named after the signature's keys (SavedModel) or the TensorFlow tensor
names (x:0). Unknown dims become named symbolic dims; --input-shape fixes them. Ops that cannot be
converted are all listed in one error before anything is written. Needs: pip install 'tfformats[onnx]'.

examples:
  tfformats onnx export/1 -o model.onnx
  tfformats onnx frozen.pb -o model.onnx --outputs probs:0 --input-shape x:0=1,224,224,3
  tfformats onnx model.ckpt-1000.meta -c model.ckpt-1000 --outputs softmax -o model.onnx --json
"""


def _shape(text: str) -> tuple[str, list[int]]:
    name, sep, dims = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=D1,D2,..., got {text!r}")
    try:
        return name, [int(d) for d in dims.split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"dims must be integers (-1 for unknown), got {dims!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="frozen .pb/.pbtxt, SavedModel folder, or .meta (with -c)")
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    parser.add_argument("--outputs", help="comma-separated output tensors (GraphDef) or signature output keys")
    parser.add_argument("--inputs", help="comma-separated input tensors (default: the Placeholders needed)")
    parser.add_argument("--input-shape", action="append", type=_shape, default=[], metavar="NAME=D1,D2,...",
                        help="fix an input's shape (repeatable); -1 keeps a dim unknown")
    parser.add_argument("--opset", type=int, help="ONNX opset (default 18)")
    parser.add_argument("--signature", default="serving_default", help="SavedModel signature (default %(default)s)")
    parser.add_argument("--tag", action="append", dest="tags", help="SavedModel tag set (default serve)")
    parser.add_argument("-c", "--checkpoint", help="checkpoint for a .meta source")
    parser.add_argument("--no-check", action="store_true", help="skip onnx.checker on the result")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def _value_info(info: Any) -> dict[str, Any]:
    t = info.type.tensor_type
    dims: list[Any] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]
    return {"name": info.name, "elem_type": int(t.elem_type), "shape": dims if t.HasField("shape") else None}


def run(args: argparse.Namespace) -> int:
    from ..onnx._deps import require_onnx
    from ..onnx.convert import to_onnx
    from .output import print_json

    onnx = require_onnx()
    start = time.perf_counter()
    model = to_onnx(args.source, outputs=args.outputs, inputs=args.inputs, input_shapes=dict(args.input_shape),
                    opset=args.opset, signature=args.signature, tags=args.tags, checkpoint=args.checkpoint)
    seconds = time.perf_counter() - start
    if not args.no_check:
        onnx.checker.check_model(model, full_check=False)
    tmp = args.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, args.output)
    ops = Counter(n.op_type for n in model.graph.node)
    summary = {"output": args.output, "opset": int(model.opset_import[0].version), "nodes": len(model.graph.node),
               "transposes": ops.get("Transpose", 0), "seconds": round(seconds, 4),
               "inputs": [_value_info(i) for i in model.graph.input],
               "outputs": [_value_info(o) for o in model.graph.output], "op_types": dict(ops.most_common())}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {args.output}: {summary['nodes']} nodes ({summary['transposes']} Transpose), "
              f"opset {summary['opset']}, {seconds:.2f} s")
        for kind in ("inputs", "outputs"):
            for v in summary[kind]:
                print(f"  {kind[:-1]} {v['name']}: type {v['elem_type']} shape {v['shape']}")
    return 0
