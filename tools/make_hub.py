"""Write a synthetic model hub for the batch benchmark (no TensorFlow needed).

Usage (from the repository root)::

    python tools/make_hub.py                      # benchmarks/data/hub: 600 small models + 4 large ones
    python tools/make_hub.py --small 1000 --large 2 --out /tmp/hub

Small models: checkpoints of a few tensors (with a ``checkpoint`` state file), GraphDefs of a dozen
nodes, MetaGraphDefs, and copies of a SavedModel fixture. Large ones: checkpoints of 64 MiB and a GraphDef
of 20,000 nodes. A few small ones are damaged (a cut ``.index``) or risky (a ``ReadFile`` op), as in a
real hub. Rerunning replaces the folder.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import numpy as np

import tfformats as tff

ROOT = Path(__file__).resolve().parent.parent
SAVED_MODEL = ROOT / "tests" / "fixtures" / "saved_models" / "keras_mlp" / "model"


def _node(graph: Any, name: str, op: str, inputs: list[str], value: Any = None) -> None:
    node = graph.node.add(name=name, op=op)
    node.input.extend(inputs)
    node.attr["T"].type = 1  # DT_FLOAT
    if value is not None:
        node.attr["dtype"].type = 1
        node.attr["value"].tensor.CopyFrom(tff.from_numpy(value))


def small_graph(rng: np.random.Generator, layers: int, risky: bool) -> Any:
    graph = tff.proto.GraphDef()
    graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    last = "x"
    for i in range(layers):
        _node(graph, f"w{i}", "Const", [], rng.standard_normal((8, 8)).astype(np.float32))
        _node(graph, f"mm{i}", "MatMul", [last, f"w{i}"])
        _node(graph, f"relu{i}", "Relu", [f"mm{i}"])
        last = f"relu{i}"
    _node(graph, "out", "Identity", [last])
    if risky:
        _node(graph, "name", "Const", [], np.array(b"/etc/passwd", dtype=object))
        graph.node.add(name="read", op="ReadFile", input=["name"])
    return graph


def write_hub(out: Path, small: int, large: int, seed: int = 0) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    counts = {"checkpoint": 0, "graph": 0, "meta": 0, "saved_model": 0, "large": 0}
    for i in range(small):
        kind = ("checkpoint", "graph", "checkpoint", "meta", "graph", "saved_model")[i % 6]
        folder = out / "models" / f"{i // 100:02d}" / f"m{i:04d}"
        folder.mkdir(parents=True)
        if kind == "checkpoint":
            prefix = folder / "model.ckpt-1"
            tff.save_checkpoint(str(prefix), {"dense/kernel": rng.standard_normal((16, 16)).astype(np.float32),
                                              "dense/bias": rng.standard_normal(16).astype(np.float32),
                                              "global_step": np.array(i, dtype=np.int64)}, update_state=True)
            if i % 97 == 0:  # a damaged one now and then
                index = prefix.with_name(prefix.name + ".index")
                index.write_bytes(index.read_bytes()[:50])
        elif kind == "graph":
            tff.write_graph_def(small_graph(rng, 4, risky=i % 50 == 1), str(folder / "frozen.pb"))
        elif kind == "meta":
            meta = tff.proto.MetaGraphDef()
            meta.graph_def.CopyFrom(small_graph(rng, 3, risky=False))
            meta.meta_info_def.tags.append("serve")
            (folder / "model.meta").write_bytes(meta.SerializeToString())
        else:
            shutil.copytree(SAVED_MODEL, folder / "export", dirs_exist_ok=True)
        counts[kind] += 1
    for j in range(large):
        folder = out / "large" / f"l{j}"
        folder.mkdir(parents=True)
        if j % 4 == 3:
            tff.write_graph_def(small_graph(rng, 6_700, risky=False), str(folder / "big.pb"))
        else:
            tensors = {f"layer{k}/kernel": rng.standard_normal((2048, 2048)).astype(np.float32) for k in range(4)}
            tff.save_checkpoint(str(folder / "model.ckpt-1"), tensors, update_state=True)
        counts["large"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "hub")
    parser.add_argument("--small", type=int, default=600, help="small models (default 600)")
    parser.add_argument("--large", type=int, default=4, help="large models (default 4)")
    args = parser.parse_args()
    counts = write_hub(args.out, args.small, args.large)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


if __name__ == "__main__":
    main()
