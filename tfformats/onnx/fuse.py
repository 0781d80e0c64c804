"""Fold a per-channel Mul or Add that follows a Conv into the Conv's weights and bias.

Keras' batch normalization at inference is ``x * scale + shift`` with constant per-channel factors; after a
convolution these fold into its kernel (scaled along output channels) and bias, as TensorFlow's own graph
optimizers and onnxruntime's do, so the model carries one node where it had three.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

import numpy as np

from .context import Model


def _per_channel(a: np.ndarray, channels: int, rank: int) -> Optional[np.ndarray]:
    """``a`` as a [channels] vector if it broadcasts along the channel axis of an NC... tensor only."""
    if a.size == 1:
        return np.full(channels, a.reshape(()), a.dtype)
    shape = list(a.shape)
    while shape and shape[0] == 1 and len(shape) > rank - 1:
        shape.pop(0)
    if len(shape) == rank - 1 and shape[0] == channels and all(d == 1 for d in shape[1:]):
        return a.reshape(channels)
    return None


def _users(graph: Any) -> dict[str, list[Any]]:
    """Value name -> the nodes that read it."""
    users: dict[str, list[Any]] = defaultdict(list)
    for n in graph.node:
        for i in n.input:
            users[i].append(n)
    return users


def _readers(graph: Any) -> Optional[tuple[set[str], dict[str, list[Any]]]]:
    """``(graph output names, value name -> the nodes that read it)``, or None for a graph with subgraphs.

    Names read inside subgraphs are not tracked, so a fusion pass leaves such graphs alone.
    """
    if any(attr.HasField("g") or len(attr.graphs) for n in graph.node for attr in n.attribute):
        return None
    return {o.name for o in graph.output}, _users(graph)


def _drop(graph: Any, removed: set[int]) -> int:
    """Remove the nodes whose ``id`` is in ``removed``; return how many."""
    if removed:
        kept = [n for n in graph.node if id(n) not in removed]
        del graph.node[:]
        graph.node.extend(kept)
    return len(removed)


def fold_conv_affine(graph: Any, model: Model) -> int:
    """Fold per-channel constant Mul/Add into the Conv before them; returns the nodes removed."""
    arrays = model.arrays
    readers = _readers(graph)
    if readers is None:
        return 0
    outputs, users = readers
    removed: set[int] = set()
    for conv in graph.node:
        if conv.op_type != "Conv" or conv.input[1] not in arrays:
            continue
        while True:
            out = conv.output[0]
            after = users.get(out, [])
            if len(after) != 1 or out in outputs or after[0].op_type not in ("Mul", "Add"):
                break
            op = after[0]
            other = op.input[1] if op.input[0] == out else op.input[0]
            if other not in arrays or other == out:
                break
            w = arrays[conv.input[1]]
            vec = _per_channel(arrays[other], w.shape[0], w.ndim)
            if vec is None or vec.dtype != w.dtype:
                break
            bias = arrays.get(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
            if len(conv.input) > 2 and conv.input[2] and bias is None:
                break
            if bias is None:
                bias = np.zeros(w.shape[0], w.dtype)
            if op.op_type == "Mul":
                w = w * vec.reshape((-1,) + (1,) * (w.ndim - 1))
                bias = bias * vec
            else:
                bias = bias + vec
            del conv.input[1:]
            conv.input.extend([model.initializer(w, conv.name + "/W"),
                               model.initializer(bias, conv.name + "/B")])
            conv.output[0] = op.output[0]
            users[op.output[0]] = users.pop(op.output[0], [])
            removed.add(id(op))
    return _drop(graph, removed)


def affine_to_batch_norm(graph: Any, model: Model) -> int:
    """Per-channel ``x * scale + shift`` on a channels-first tensor as one BatchNormalization node.

    With mean 0, variance 1 and epsilon 0 the node computes exactly ``x * scale + shift``, in one pass over
    the tensor instead of two. Only Mul/Add pairs whose constants are [1, C, 1, 1]-shaped are rewritten.
    """
    arrays = model.arrays
    readers = _readers(graph)
    if readers is None:
        return 0
    outputs, users = readers
    removed: set[int] = set()
    for mul in graph.node:
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        pos = 1 if mul.input[1] in arrays else 0 if mul.input[0] in arrays else -1
        if pos < 0 or mul.input[1 - pos] in arrays:
            continue
        scale = arrays[mul.input[pos]]
        if scale.ndim != 4 or scale.shape[0] != 1 or scale.shape[2:] != (1, 1) or scale.dtype != np.float32:
            continue
        after = users.get(mul.output[0], [])
        if len(after) != 1 or mul.output[0] in outputs or after[0].op_type != "Add":
            continue
        add = after[0]
        other = add.input[1] if add.input[0] == mul.output[0] else add.input[0]
        shift = arrays.get(other)
        if shift is None or shift.shape != scale.shape or shift.dtype != scale.dtype:
            continue
        c = scale.shape[1]
        x = mul.input[1 - pos]
        params = [model.initializer(scale.reshape(c), "bn/scale"), model.initializer(shift.reshape(c), "bn/B"),
                  model.initializer(np.zeros(c, np.float32), "bn/mean"),
                  model.initializer(np.ones(c, np.float32), "bn/var")]
        del mul.input[:]
        mul.input.extend([x] + params)
        mul.op_type = "BatchNormalization"
        del mul.attribute[:]
        mul.attribute.extend([model.helper.make_attribute("epsilon", 0.0)])
        mul.output[0] = add.output[0]
        removed.add(id(add))
    return _drop(graph, removed)


def fold_pad_into_conv(graph: Any, model: Model) -> int:
    """Merge a zero Pad of only the spatial axes into the padding of the Conv it feeds."""
    arrays = model.arrays
    readers = _readers(graph)
    if readers is None:
        return 0
    outputs, users = readers
    removed: set[int] = set()
    for pad in graph.node:
        if pad.op_type != "Pad" or len(pad.input) < 2 or pad.input[1] not in arrays:
            continue
        if any(a.name == "mode" and a.s not in (b"", b"constant") for a in pad.attribute):
            continue
        if len(pad.input) > 2 and pad.input[2]:
            value = arrays.get(pad.input[2])
            if value is None or value.size != 1 or float(value.reshape(())) != 0.0:
                continue
        if len(pad.input) > 3 and pad.input[3]:
            continue  # padding chosen axes only
        after = users.get(pad.output[0], [])
        pads = [int(v) for v in arrays[pad.input[1]].reshape(-1)]
        rank = len(pads) // 2
        transpose = None
        if len(after) == 1 and after[0].op_type == "Transpose" and after[0].output[0] not in outputs:
            # Pad, then the input's move to channels-first, then Conv: pad after the move instead
            transpose = after[0]
            perm = next((list(a.ints) for a in transpose.attribute if a.name == "perm"), [])
            if len(perm) != rank:
                continue
            pads = [pads[p] for p in perm] + [pads[rank + p] for p in perm]
            after = users.get(transpose.output[0], [])
        if len(after) != 1 or pad.output[0] in outputs or after[0].op_type != "Conv" \
                or after[0].input[0] != (transpose.output[0] if transpose is not None else pad.output[0]):
            continue
        conv = after[0]
        if rank < 3 or pads[0] or pads[1] or pads[rank] or pads[rank + 1] or min(pads) < 0:
            continue
        attrs = {a.name: a for a in conv.attribute}
        if "auto_pad" in attrs and attrs["auto_pad"].s not in (b"", b"NOTSET"):
            continue
        old = list(attrs["pads"].ints) if "pads" in attrs else [0] * (2 * (rank - 2))
        spatial = rank - 2
        new = [old[i] + pads[2 + i] for i in range(spatial)] + [old[spatial + i] + pads[rank + 2 + i]
                                                                 for i in range(spatial)]
        kept = [a for a in conv.attribute if a.name != "pads"]
        del conv.attribute[:]
        conv.attribute.extend(kept + [model.helper.make_attribute("pads", new)])
        if transpose is not None:
            transpose.input[0] = pad.input[0]
        else:
            conv.input[0] = pad.input[0]
        removed.add(id(pad))
    return _drop(graph, removed)
