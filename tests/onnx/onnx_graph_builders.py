"""Small TensorFlow GraphDefs built by hand for the ONNX tests (no TensorFlow needed)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import tfformats as tff

FLOAT = (1,)  # DT_FLOAT, as a 1-tuple so that node() can tell a dtype from an int list


def graph(nodes: list[Any]) -> Any:
    g = tff.proto.GraphDef()
    g.node.extend(nodes)
    return g


def node(name: str, op: str, inputs: Sequence[str] = (), **attrs: Any) -> Any:
    """A NodeDef; attrs: arrays become tensors, bytes strings, int lists lists, 1-tuples dtypes, bools bools."""
    n = tff.proto.NodeDef(name=name, op=op)
    n.input.extend(inputs)
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            n.attr[key].tensor.CopyFrom(tff.from_numpy(value))
        elif isinstance(value, bytes):
            n.attr[key].s = value
        elif isinstance(value, list):
            n.attr[key].list.i.extend(value)
        elif isinstance(value, tuple):  # a dtype enum
            n.attr[key].type = value[0]
        elif isinstance(value, bool):
            n.attr[key].b = value
    return n


def cnn(layers: int) -> Any:
    """``layers`` NHWC Conv2D + BiasAdd + Relu blocks on a [1, 8, 8, 3] input."""
    rng = np.random.default_rng(0)
    x = node("x", "Placeholder", dtype=FLOAT)
    x.attr["shape"].shape.dim.add().size = 1
    for d in (8, 8, 3):
        x.attr["shape"].shape.dim.add().size = d
    nodes, prev, channels = [x], "x", 3
    for i in range(layers):
        k = rng.standard_normal((3, 3, channels, 4)).astype(np.float32)
        nodes += [node(f"k{i}", "Const", value=k, dtype=FLOAT),
                  node(f"conv{i}", "Conv2D", [prev, f"k{i}"], T=FLOAT, strides=[1, 1, 1, 1], padding=b"SAME",
                       data_format=b"NHWC"),
                  node(f"b{i}", "Const", value=rng.standard_normal(4).astype(np.float32), dtype=FLOAT),
                  node(f"bias{i}", "BiasAdd", [f"conv{i}", f"b{i}"], T=FLOAT),
                  node(f"relu{i}", "Relu", [f"bias{i}"], T=FLOAT)]
        prev, channels = f"relu{i}", 4
    return graph(nodes)




def unconvertible() -> Any:
    """A graph with ops no converter knows: FancyOp twice, OtherOp once."""
    nodes = [node("x", "Placeholder", dtype=FLOAT), node("a", "FancyOp", ["x"]), node("b", "FancyOp", ["a"]),
             node("c", "OtherOp", ["b"]), node("y", "Relu", ["c"], T=FLOAT)]
    return graph(nodes)
