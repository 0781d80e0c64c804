"""Reductions (Mean, Sum, Max, Min, Prod, All, Any) and ArgMax/ArgMin, layout-aware."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import attrs
from .. import dtypes as odt
from ..context import Context
from ..values import Perm, Shape, Value
from .common import Folder, Handler, axis_in_layout, const_ints, dtype

_ONNX = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin", "Prod": "ReduceProd",
         "All": "ReduceMin", "Any": "ReduceMax"}


def _reduce_node(cx: Context, op: str, src: str, axes: list[int], keep: bool, hint: str) -> str:
    if op == "ReduceSum" or cx.opset >= 18:
        return cx.emit1(op, [src, cx.int64s(axes)], hint=hint, keepdims=int(keep))
    return cx.emit1(op, [src], hint=hint, axes=axes, keepdims=int(keep))


def reduce(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, axes_v = ins
    keep = attrs.get_bool(node, "keep_dims")
    axes = const_ints(cx, node, axes_v, "the reduction axes")
    rank = x.rank
    if rank is None:
        if any(a < 0 for a in axes) and x.perm is not None:
            raise cx.unsupported(node, "negative axes on a tensor of unknown rank")
        rank = len(x.perm) if x.perm is not None else None
    norm = sorted({a + rank if (a < 0 and rank is not None) else a for a in axes})
    op = _ONNX[node.op]
    perm: Optional[Perm] = x.perm
    if perm is not None:
        assert rank is not None
        onnx_axes = sorted(axis_in_layout(a, rank, perm) for a in norm)
        src = cx.form(x, perm)
        if keep:
            out_perm: Optional[Perm] = perm
        else:
            kept = [p for p in perm if p not in norm]
            renumber = {old: new for new, old in enumerate(sorted(kept))}
            out_perm = tuple(renumber[p] for p in kept)
    else:
        onnx_axes, src, out_perm = norm, cx.plain(x), None
    is_bool = node.op in ("All", "Any")
    if is_bool:
        src = cx.cast(src, odt.INT32)
    if not norm:
        return [x]
    name = _reduce_node(cx, op, src, onnx_axes, keep, node.name)
    if is_bool:
        name = cx.cast(name, odt.BOOL, hint=node.name)
    shape: Shape = None
    if x.shape is not None:
        shape = tuple((1 if keep else None) if i in norm else d for i, d in enumerate(x.shape))
        if not keep:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in norm)
    return [Value(name, x.dtype, shape, out_perm)]


def arg_max(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, axis_v = ins
    axis = const_ints(cx, node, axis_v, "the axis")[0]
    op = "ArgMax" if node.op == "ArgMax" else "ArgMin"
    name = cx.emit1(op, [cx.plain(x)], hint=node.name, axis=axis, keepdims=0)
    t = dtype(node, "output_type") if attrs.has(node, "output_type") else odt.INT64
    if t != odt.INT64:
        name = cx.cast(name, t)
    shape: Shape = None
    if x.shape is not None:
        a = axis + len(x.shape) if axis < 0 else axis
        shape = tuple(d for i, d in enumerate(x.shape) if i != a)
    return [Value(name, t, shape)]


def _fold(fn: Any) -> Folder:
    def fold(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
        axes = tuple(int(v) for v in a[1].reshape(-1))
        return [np.asarray(fn(a[0], axis=axes, keepdims=attrs.get_bool(node, "keep_dims"))).astype(a[0].dtype)]
    return fold


TABLE: dict[str, Handler] = {**{op: reduce for op in _ONNX}, "ArgMax": arg_max, "ArgMin": arg_max}
FOLD: dict[str, Folder] = {"Prod": _fold(np.prod), "Sum": _fold(np.sum), "Max": _fold(np.max),
                           "Min": _fold(np.min)}
