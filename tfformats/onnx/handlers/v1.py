"""TF1 ``tf.cond`` as a graph of Switch and Merge nodes.

Both branches are computed and each Merge picks its result with ``Where(pred, true, false)``
(or directly, when the predicate is a constant). Which branch a tensor belongs to comes from the
Switch outputs it depends on, through data and control edges: the converter keeps, for every tensor,
the set of ``(predicate tensor, branch)`` it was computed under (``Context.conds``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..context import Context
from ..values import Value
from .common import Handler, common_layout


def switch(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    from ..graph import data_inputs

    data, pred = ins
    pred_key = data_inputs(node)[1]
    base = cx.node_conds
    cx.out_conds = {0: base | {(pred_key, False)}, 1: base | {(pred_key, True)}}
    return [data, data]


def merge(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    from ..graph import data_inputs

    keys = data_inputs(node)
    conds = [cx.conds.get(k, frozenset()) for k in keys]
    for i, a in enumerate(conds):
        for pred_key, branch in a:
            if not branch:
                continue
            for j, b in enumerate(conds):
                if j != i and (pred_key, False) in b:
                    return _select(cx, node, pred_key, ins[i], ins[j], (a | b) - {(pred_key, True), (pred_key, False)},
                                   i, j)
    if len(ins) == 1:
        return [ins[0], cx.constant(np.array(0, np.int32))]
    raise cx.unsupported(node, "a Merge that does not join the two branches of one tf.cond "
                               "(TF1 while loops are not converted)")


def _select(cx: Context, node: Any, pred_key: str, on_true: Value, on_false: Value, rest: frozenset[Any],
            i: int, j: int) -> list[Value]:
    pred = cx.lookup(pred_key)
    cx.out_conds = {0: rest, 1: rest}
    if pred.const is not None:
        taken = bool(np.asarray(pred.const).reshape(-1)[0])
        return [on_true if taken else on_false, cx.constant(np.array(i if taken else j, np.int32))]
    from .control import _as_bool

    if on_true.shape is not None and on_false.shape is not None and (
            len(on_true.shape) != len(on_false.shape) or any(
                isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(on_true.shape, on_false.shape))):
        # Where would broadcast one branch to the other's shape; TensorFlow returns the taken one as it is
        raise cx.unsupported(node, f"the tf.cond branches have different shapes ({on_true.shape} and "
                                   f"{on_false.shape})")
    cond = _as_bool(cx, pred)
    names, perm = common_layout(cx, [on_true, on_false])
    out = cx.emit1("Where", [cond] + names, hint=node.name)
    shape = on_true.shape if on_true.shape == on_false.shape else None
    index = cx.emit1("Where", [cond, cx.init(np.array(i, np.int32)), cx.init(np.array(j, np.int32))])
    from .. import dtypes as odt

    return [Value(out, on_true.dtype, shape, perm), Value(index, odt.INT32, ())]


def v1_loop(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    """One TF1 while frame (collapsed by ``v1_loops.collapse``) as an ONNX Loop."""
    from ..graph import convert_nodes, data_inputs, needed_nodes, tensor_key
    from .control import loop

    frame = cx.model.frames[node.name]
    nodes = frame.nodes
    variables = frame.variables
    n = len(variables)
    inits, invariants = ins[:n], ins[n:]
    plumbing = set(frame.entered) | {frame.loop_cond}
    for v in variables:
        plumbing |= {v.merge, v.switch, v.next_iteration} | ({v.exit} if v.exit else set())
    pred_key = data_inputs(nodes[frame.loop_cond])[0]
    cond_order = [m for m in needed_nodes(nodes, [pred_key.rpartition(":")[0]], stop=plumbing)
                  if m.name not in plumbing]
    next_keys = [tensor_key(nodes[v.next_iteration].input[0]) for v in variables]
    body_order = [m for m in needed_nodes(nodes, [k.rpartition(":")[0] for k in next_keys], stop=plumbing)
                  if m.name not in plumbing]

    def seed(scope: Context, merged: list[Value]) -> None:
        for v, value in zip(variables, merged):
            for key in (f"{v.merge}:0", f"{v.switch}:0", f"{v.switch}:1"):
                scope.values[key] = value.copy()
        for e, value in zip(frame.invariants, invariants):
            scope.values[f"{e}:0"] = value.copy()

    def test(parent: Context, merged: list[Value]) -> Value:
        scope = Context(cx.model, parent=parent, nodes=parent.nodes)
        scope.where = f"condition of TF1 loop {frame.name!r}"
        seed(scope, merged)
        convert_nodes(scope, cond_order)
        return scope.lookup(pred_key)

    def step(body: Context, carried: list[Value]) -> tuple[list[Value], Value]:
        seed(body, carried)
        convert_nodes(body, body_order)
        new = [body.lookup(k) for k in next_keys]
        return new, test(body, new)

    shapes = [None if v.shape is None else tuple(None for _ in v.shape) for v in inits]
    return loop(cx, node, inits, shapes, step, test(cx, list(inits)))


TABLE: dict[str, Handler] = {"Switch": switch, "Merge": merge, "_TFFormatsV1Loop": v1_loop}
