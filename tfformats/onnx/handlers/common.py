"""Pieces the op handlers share: types, layouts of elementwise operands, small constants."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from .. import attrs
from ..context import Context, contiguous
from ..dtypes import onnx_type
from ..values import Perm, Shape, Value, broadcast_shapes, inverse

Handler = Callable[[Context, Any, list[Value]], list[Value]]
Folder = Callable[[Any, list[np.ndarray]], Optional[list[np.ndarray]]]


def dtype(node: Any, name: str = "T") -> int:
    return onnx_type(attrs.get_type(node, name), f"node {node.name!r}")


def common_layout(cx: Context, values: Sequence[Value]) -> tuple[list[str], Optional[Perm]]:
    """ONNX names of ``values`` in one shared layout, for elementwise ops.

    Keeps a channels-first layout when every non-scalar operand either has it already or is a constant
    (constants are permuted at conversion time); otherwise everything goes back to TF's layout.
    """
    perms = {v.perm for v in values if v.perm is not None}
    if len(perms) == 1:
        perm = next(iter(perms))
        rank = len(perm)
        names: list[str] = []
        for v in values:
            if v.perm == perm:
                names.append(v.forms.get(perm) or cx.form(v, perm))
            elif v.shape is not None and (len(v.shape) == 0 or all(d == 1 for d in v.shape)):
                names.append(cx.plain(v))  # scalars broadcast the same in any layout
            elif v.const is not None and v.const.ndim <= rank:
                full = v.const.reshape((1,) * (rank - v.const.ndim) + v.const.shape)
                arr = contiguous(np.transpose(full, perm))
                names.append(cx.model.initializer(arr, "const"))
            elif v.rank == rank:
                names.append(cx.form(v, perm))
            else:
                break
        else:
            return names, perm
    return [cx.plain(v) for v in values], None


def elementwise(cx: Context, node: Any, op: str, ins: Sequence[Value], out_dtype: Optional[int] = None,
                **kw: Any) -> Value:
    names, perm = common_layout(cx, ins)
    shape: Shape = ins[0].shape
    for v in ins[1:]:
        shape = broadcast_shapes(shape, v.shape)
    out = cx.emit1(op, names, hint=node.name, **kw)
    return Value(out, ins[0].dtype if out_dtype is None else out_dtype, shape, perm)


def same_layout(cx: Context, node: Any, op: str, v: Value, **kw: Any) -> Value:
    """A unary op that does not care about layout: keep ``v``'s."""
    name = v.forms.get(v.perm) if v.const is None else cx.plain(v)
    assert name is not None
    out = cx.emit1(op, [name], hint=node.name, **kw)
    return Value(out, v.dtype, v.shape, v.perm if v.const is None else None)


def const_ints(cx: Context, node: Any, v: Value, what: str) -> list[int]:
    """A constant integer input as a list; UnsupportedError when it is computed at run time."""
    if v.const is None:
        raise cx.unsupported(node, f"{what} must be a constant")
    return [int(x) for x in np.asarray(v.const).reshape(-1)]


def axis_in_layout(axis: int, rank: int, perm: Optional[Perm]) -> int:
    """Where TF axis ``axis`` sits in the ONNX tensor."""
    axis = axis + rank if axis < 0 else axis
    return axis if perm is None else inverse(perm)[axis]


def int64(cx: Context, v: Value) -> str:
    """``v`` (an int32 or int64 tensor) as int64, as ONNX shape inputs want."""
    if v.const is not None:
        return cx.init(np.asarray(v.const, np.int64), hint="i64")
    from ..dtypes import INT64

    name = cx.plain(v)
    return name if v.dtype == INT64 else cx.cast(name, INT64)


def known_int(d: Any) -> Optional[int]:
    return d if isinstance(d, int) and d >= 0 else None


def shape_from_attr(dims: Optional[list[int]], sym: str) -> Shape:
    if dims is None:
        return None
    return tuple(d if d >= 0 else f"{sym}_dim{i}" for i, d in enumerate(dims))
