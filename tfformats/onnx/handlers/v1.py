"""TF1 ``tf.cond`` as a graph of Switch and Merge nodes.

Both branches are computed and each Merge picks its result with ``Where(pred, true, false)``
(or directly, when the predicate is a constant). Which branch a tensor belongs to comes from the
Switch outputs it depends on, through data and control edges: the converter keeps, for every tensor,
the set of ``(predicate tensor, branch)`` it was computed under (``Context.conds``).
"""

from __future__ import annotations

from typing import Any

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
        return [ins[0], cx.constant(__import__("numpy").array(0, "int32"))]
    raise cx.unsupported(node, "a Merge that does not join the two branches of one tf.cond "
                               "(TF1 while loops are not converted)")


def _select(cx: Context, node: Any, pred_key: str, on_true: Value, on_false: Value, rest: frozenset[Any],
            i: int, j: int) -> list[Value]:
    import numpy as np

    pred = cx.lookup(pred_key)
    cx.out_conds = {0: rest, 1: rest}
    if pred.const is not None:
        taken = bool(np.asarray(pred.const).reshape(-1)[0])
        return [on_true if taken else on_false, cx.constant(np.array(i if taken else j, np.int32))]
    from .control import _as_bool

    cond = _as_bool(cx, pred)
    names, perm = common_layout(cx, [on_true, on_false])
    out = cx.emit1("Where", [cond] + names, hint=node.name)
    shape = on_true.shape if on_true.shape == on_false.shape else None
    index = cx.emit1("Where", [cond, cx.init(np.array(i, np.int32)), cx.init(np.array(j, np.int32))])
    from .. import dtypes as odt

    return [Value(out, on_true.dtype, shape, perm), Value(index, odt.INT32, ())]


TABLE: dict[str, Handler] = {"Switch": switch, "Merge": merge}
