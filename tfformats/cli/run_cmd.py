"""``tfformats run``: evaluate a frozen graph, a SavedModel or an .onnx file without TensorFlow."""

from __future__ import annotations

import argparse
import sys
from typing import Any

COMMAND = "run"
HELP = "run a frozen graph, SavedModel or .onnx file without TensorFlow (onnxruntime or onnx's reference evaluator)"
DESCRIPTION = """\
Evaluate a model without TensorFlow: a frozen GraphDef (.pb/.pbtxt), a graph with variables plus
its checkpoint (a .meta finds the checkpoint beside it), a SavedModel folder, or an .onnx file.
TensorFlow models are frozen when needed and converted to ONNX in memory, then run by
onnxruntime when it is installed, else by onnx's pure-numpy reference evaluator.
Needs: pip install 'tfformats[onnxruntime]' (or 'tfformats[onnx]' for the reference evaluator only).

Inputs are keyed by signature key for SavedModels, by tensor name (x:0, or x) for graphs, and by
input name for .onnx files. --input KEY=FILE.npy feeds one input; --input FILE.npz feeds every
array of the archive under its own name; --random feeds random values of the inputs' shapes
(unknown dims become --unknown-dim) to the inputs not given. Without -o, each output's dtype,
shape and a summary are printed; -o FILE.npz saves them keyed like the outputs.

examples:
  tfformats run frozen.pb --input x=batch.npy --output probs -o probs.npz
  tfformats run export/1 --input features=features.npy --json
  tfformats run model.onnx --random --backend reference
  tfformats run model.ckpt-1000.meta --output softmax --random
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..serving.backend import BACKENDS

    parser.add_argument("model", help="frozen .pb/.pbtxt, .meta, SavedModel folder or .onnx file")
    parser.add_argument("-i", "--input", dest="inputs", action="append", default=[], metavar="KEY=FILE.npy",
                        help="an input value (KEY=FILE.npy, or FILE.npz for all its arrays); repeatable")
    parser.add_argument("--output", dest="outputs", action="append", default=[], metavar="NAME",
                        help="an output to return (comma-separated or repeated; default: all of the model's)")
    parser.add_argument("-o", "--out", dest="out_file", metavar="FILE.npz", help="save the outputs to this .npz")
    parser.add_argument("-c", "--checkpoint", help="checkpoint holding the values of a graph's variables")
    parser.add_argument("--signature", default="serving_default",
                        help="SavedModel signature (default serving_default)")
    parser.add_argument("--tag", dest="tags", default="serve",
                        help="comma-separated SavedModel tag set (default serve)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="onnxruntime, reference (onnx's numpy evaluator) or auto (onnxruntime when installed)")
    parser.add_argument("--random", action="store_true", help="feed random values to every input not given")
    parser.add_argument("--unknown-dim", type=int, default=1, metavar="N",
                        help="size used for unknown dims with --random (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    parser.add_argument("--json", action="store_true", help="print the outputs as one JSON document")


def _summary(value: Any) -> dict[str, Any]:
    import numpy as np

    doc: dict[str, Any] = {"dtype": str(value.dtype), "shape": list(value.shape)}
    if value.size and value.dtype.kind in "fiub":
        as_float = value.astype(np.float64)
        doc.update(min=float(np.min(as_float)), max=float(np.max(as_float)), mean=float(np.mean(as_float)))
    return doc


def _save_npz(path: str, values: dict[str, Any]) -> None:
    import numpy as np

    from .._io.atomic import atomic_output

    if not path.endswith(".npz"):
        from ..errors import ArgumentError

        raise ArgumentError(f"{path}: the output file must end in .npz")
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would add .npz to a temporary name
            np.savez(f, **values)


def run(args: argparse.Namespace) -> int:
    from ..errors import ArgumentError
    from ..serving.backend import choose, evaluate, model_inputs
    from ..serving.feeds import random_feeds, read_feeds
    from ..serving.run import aliases, match_feeds, prepare, select_outputs
    from .output import print_json, print_table

    if args.unknown_dim < 1:
        raise ArgumentError(f"--unknown-dim must be at least 1, not {args.unknown_dim}")
    backend = choose(args.backend)
    feeds = read_feeds(args.inputs)
    outputs = [o.strip() for text in args.outputs for o in text.split(",") if o.strip()] or None
    tags = [t for t in args.tags.split(",") if t]
    prepared = prepare(args.model, inputs=list(feeds) if feeds and not args.random else None, outputs=outputs,
                       signature=args.signature, tags=tags, checkpoint=args.checkpoint)
    if args.random:
        given = {a for key in feeds for a in aliases(key)}
        todo = {i.name: (i.dtype, i.shape) for i in model_inputs(prepared.model) if i.name not in given}
        feeds.update(random_feeds(todo, unknown=args.unknown_dim, seed=args.seed))  # type: ignore[arg-type]
    onnx_feeds = match_feeds(prepared.model, feeds, prepared.source)
    selected = select_outputs(prepared.model, outputs, prepared.source)
    values = evaluate(prepared.model, onnx_feeds, list(selected.values()), backend=backend, source=prepared.source)
    result = {key: values[name] for key, name in selected.items()}
    if args.out_file:
        _save_npz(args.out_file, result)
    if args.json:
        doc: dict[str, Any] = {"model": args.model, "backend": backend, "output_file": args.out_file,
                               "inputs": {k: {"dtype": str(v.dtype), "shape": list(v.shape)}
                                          for k, v in onnx_feeds.items()},
                               "outputs": {}}
        for key, value in result.items():
            entry = _summary(value)
            entry["values"] = value.tolist() if value.dtype.kind in "fiubc" and value.size <= 10000 else None
            if value.dtype.kind == "c" and entry["values"] is not None:
                entry["values"] = [[z.real, z.imag] for z in value.reshape(-1).tolist()]
            doc["outputs"][key] = entry
        print_json(doc)
        return 0
    rows = []
    for key, value in result.items():
        s = _summary(value)
        rows.append([key, s["dtype"], "x".join(map(str, s["shape"])) or "scalar",
                     *(f"{s[k]:.6g}" if k in s else "" for k in ("min", "max", "mean"))])
    print_table(rows, ["output", "dtype", "shape", "min", "max", "mean"], align="lllrrr")
    if args.out_file:
        print(f"saved {len(result)} output{'s' if len(result) != 1 else ''} to {args.out_file} ({backend})")
    else:
        print(f"({backend}; save the values with -o FILE.npz)", file=sys.stderr)
    return 0
