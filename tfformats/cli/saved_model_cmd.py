"""``tfformats saved-model``: hand a frozen GraphDef back to TensorFlow as a TF1 SavedModel."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..serving.tensors import TensorSpec

COMMAND = "saved-model"
HELP = "write a frozen graph as a SavedModel (for TFLite, TF-TRT, TF Serving, tf.saved_model.load)"
DESCRIPTION = """\
Write a frozen GraphDef as a TF1 SavedModel: saved_model.pb with one meta graph (tags 'serve'),
a predict signature whose inputs and outputs carry their dtypes and shapes, and an empty
variables/ folder, as tf.compat.v1.saved_model.Builder writes for a graph without variables.
TensorFlow tools that take a SavedModel but not a frozen graph (tf.lite.TFLiteConverter
.from_saved_model, the TF-TRT converter, TensorFlow Serving) then accept the frozen graph.

Tensors are NODE (output 0), NODE:N, or KEY=NODE:N to choose the signature key; without a key
the key is the node name (NODE_N for outputs past 0), less a leading '<signature>_' (the
serving_default_x placeholders of a frozen TF2 SavedModel get their key x back). Without
--inputs, every Placeholder the outputs depend on is an input. The graph must hold no
variables: run 'tfformats freeze' first. A graph that fills lookup tables gets the freezer's
init_all_tables node (or --init-op) as the op TensorFlow runs at load.

examples:
  tfformats saved-model frozen.pb export/1 --inputs x --outputs probs
  tfformats saved-model frozen.pb export/1 --inputs images=x:0 --outputs scores=probs:0,top:1 \\
      --signature serving_default --overwrite
"""


def _names(text: str) -> list[str]:
    return [t for t in (p.strip() for p in text.split(",")) if t]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", help="frozen GraphDef (.pb or .pbtxt)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="SavedModel folder to create")
    parser.add_argument("--inputs", type=_names, action="extend", default=[], metavar="T[,T...]",
                        help="input tensors (NODE, NODE:N or KEY=NODE:N; repeatable; "
                             "default: the Placeholders the outputs need)")
    parser.add_argument("--outputs", type=_names, action="extend", default=[], metavar="T[,T...]", required=True,
                        help="output tensors, in the same forms (repeatable)")
    parser.add_argument("--signature", default="serving_default", help="signature key (default serving_default)")
    parser.add_argument("--tag", dest="tags", default="serve", help="comma-separated tag set (default serve)")
    parser.add_argument("--init-op", metavar="NODE",
                        help="node TensorFlow runs once at load, e.g. to fill lookup tables (default: the "
                             "init_all_tables NoOp 'tfformats freeze' adds when the graph has tables)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR when it exists and is not empty")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def spec_doc(spec: TensorSpec) -> dict[str, object]:
    """JSON form of one signature tensor."""
    from ..dtypes import BY_ENUM

    row = BY_ENUM.get(spec.dtype)
    return {"tensor": spec.name, "dtype": row.tf_name if row is not None else spec.dtype,
            "shape": list(spec.shape) if spec.shape is not None else None}


def run(args: argparse.Namespace) -> int:
    from ..serving.saved_model import write_saved_model
    from .output import print_json

    info = write_saved_model(args.graph, args.out_dir, inputs=args.inputs or None, outputs=args.outputs,
                             signature=args.signature, tags=[t for t in args.tags.split(",") if t],
                             init_op=args.init_op, overwrite=args.overwrite)
    if args.json:
        print_json({"source": args.graph, "saved_model": info.path, "signature": info.signature, "tags": info.tags,
                    "inputs": {k: spec_doc(s) for k, s in info.inputs.items()},
                    "outputs": {k: spec_doc(s) for k, s in info.outputs.items()}, "ops": info.ops,
                    "unregistered_ops": info.unregistered_ops, "tensorflow_version": info.tensorflow_version,
                    "init_op": info.init_op})
    else:
        ins = ", ".join(f"{k}={s.name}" for k, s in info.inputs.items()) or "none"
        outs = ", ".join(f"{k}={s.name}" for k, s in info.outputs.items())
        print(f"wrote {info.path} (signature {info.signature!r}, tags {','.join(info.tags)}): "
              f"inputs {ins}; outputs {outs}")
    if info.unregistered_ops:
        print(f"tfformats saved-model: warning: ops not in TensorFlow's standard registry: "
              f"{', '.join(info.unregistered_ops)}; TensorFlow loads the model only where they are registered",
              file=sys.stderr)
    return 0
