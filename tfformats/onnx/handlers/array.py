"""Shapes and indexing: Reshape, Squeeze, Transpose, Concat, Pack, Shape, slices, gathers, pads, fills."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import attrs
from .. import dtypes as odt
from ..context import Context, contiguous
from ..values import Dim, Perm, Shape, Value, inverse
from .common import Folder, Handler, axis_in_layout, const_ints, dtype, int64

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def _num(d: Dim) -> Optional[int]:
    return d if isinstance(d, int) else None


# -- reshapes ------------------------------------------------------------------------------------

def _reshape_shape(x: Value, target: list[Dim]) -> Shape:
    out = list(target)
    if -1 in out:
        known = [d for d in out if d != -1]
        if x.shape is not None and all(isinstance(d, int) for d in x.shape) and \
                all(isinstance(d, int) for d in known):
            total = int(np.prod([int(d) for d in x.shape if isinstance(d, int)]))
            rest = int(np.prod([int(d) for d in known if isinstance(d, int)]))
            out[out.index(-1)] = total // rest if rest else 0
        else:
            out[out.index(-1)] = None
    return tuple(out)


def _inserts_ones(x: Value, target: list[Dim]) -> Optional[list[int]]:
    """Where ``target`` adds size-1 axes to ``x``'s shape and changes nothing else, those positions."""
    if x.shape is None or any(d == 1 or d is None for d in x.shape) or any(d is None or d == -1 for d in target):
        return None
    if [d for d in target if d != 1] != list(x.shape):
        return None
    return [i for i, d in enumerate(target) if d == 1]


def _copy_dims(x: Value, parts: Optional[list[Dim]]) -> Optional[list[int]]:
    """A constant Reshape target for ``parts``: known sizes, -1, and 0 where a part is the input's own dim."""
    if parts is None or x.shape is None:
        return None
    target = []
    for i, p in enumerate(parts):
        if isinstance(p, int) and p != 0 and p >= -1:
            target.append(p)
        elif isinstance(p, str) and i < len(x.shape) and x.shape[i] == p:
            target.append(0)
        else:
            return None
    return target if target.count(-1) <= 1 else None


def reshape(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, shape = ins
    target_parts = [int(v) for v in shape.const.reshape(-1)] if shape.const is not None else shape.parts
    ones = _inserts_ones(x, list(target_parts)) if target_parts is not None and len(target_parts) > (x.rank or 0) \
        else None
    if ones is not None and target_parts is not None:
        # only size-1 axes appear: an Unsqueeze, made channels-first at once for [N, 1, ..., 1, C]
        rank = len(target_parts)
        new_shape: Shape = tuple(target_parts)
        if rank >= 3 and ones == list(range(1, rank - 1)):
            name = cx.emit1("Unsqueeze", [cx.plain(x), cx.int64s(list(range(2, rank)))], hint=node.name)
            from ..values import channels_first

            return [Value(name, x.dtype, new_shape, channels_first(rank))]
        name = cx.emit1("Unsqueeze", [cx.plain(x), cx.int64s(ones)], hint=node.name)
        return [Value(name, x.dtype, new_shape)]
    if shape.const is not None:
        target = [int(v) for v in shape.const.reshape(-1)]
        name = cx.emit1("Reshape", [cx.plain(x), cx.int64s(target, "shape")], hint=node.name,
                        allowzero=1 if 0 in target else None)
        return [Value(name, x.dtype, _reshape_shape(x, list(target)))]
    copied = _copy_dims(x, shape.parts)
    if copied is not None:
        # a run-time shape like [batch, -1] (Keras' Flatten): a constant target whose 0s copy the input's dims
        name = cx.emit1("Reshape", [cx.plain(x), cx.int64s(copied, "shape")], hint=node.name)
        assert shape.parts is not None
        return [Value(name, x.dtype, _reshape_shape(x, [p for p in shape.parts]))]
    name = cx.emit1("Reshape", [cx.plain(x), int64(cx, shape)], hint=node.name, allowzero=1)
    out_shape: Shape = None
    if shape.parts is not None:
        out_shape = _reshape_shape(x, [p if p is not None else None for p in shape.parts])
    elif shape.shape is not None and isinstance(shape.shape[0], int):
        out_shape = (None,) * shape.shape[0]
    return [Value(name, x.dtype, out_shape)]


def squeeze(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    dims = attrs.get_ints(node, "squeeze_dims") or attrs.get_ints(node, "axis")
    if not dims:
        if x.shape is None or any(not isinstance(d, int) for d in x.shape):
            name = cx.emit1("Squeeze", [cx.plain(x)], hint=node.name)
            return [Value(name, x.dtype, None)]
        dims = [i for i, d in enumerate(x.shape) if d == 1]
    if x.rank is None:
        name = cx.emit1("Squeeze", [cx.plain(x), cx.int64s(dims)], hint=node.name)
        return [Value(name, x.dtype, None)]
    rank = x.rank
    dims = sorted(d + rank if d < 0 else d for d in dims)
    assert x.shape is not None
    shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
    if x.perm is None:
        name = cx.emit1("Squeeze", [cx.plain(x), cx.int64s(dims)], hint=node.name)
        return [Value(name, x.dtype, shape)]
    onnx_axes = sorted(axis_in_layout(d, rank, x.perm) for d in dims)
    kept = [p for p in x.perm if p not in dims]  # TF axes in ONNX order
    renumber = {old: new for new, old in enumerate(sorted(kept))}
    perm = tuple(renumber[p] for p in kept)
    name = cx.emit1("Squeeze", [cx.form(x, x.perm), cx.int64s(onnx_axes)], hint=node.name)
    return [Value(name, x.dtype, shape, perm)]


def _insert_axis(perm: Perm, axis: int) -> Perm:
    """Choose where a new TF axis goes in the ONNX tensor, preferring a channels-first result."""
    from ..values import channels_first

    rank = len(perm) + 1
    bumped = [p + 1 if p >= axis else p for p in perm]
    options = [tuple(bumped[:i] + [axis] + bumped[i:]) for i in range(rank)]
    wanted = channels_first(rank)
    for option in options:
        if option == wanted:
            return option
    return options[0]


def expand_dims(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, axis_v = ins
    axis = const_ints(cx, node, axis_v, "the axis")[0]
    if x.rank is not None and axis < 0:
        axis += x.rank + 1
    shape: Shape = None
    if x.shape is not None and axis >= 0:
        shape = tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis:])
    if x.perm is not None and axis >= 0:
        perm = _insert_axis(x.perm, axis)
        pos = perm.index(axis)
        name = cx.emit1("Unsqueeze", [cx.form(x, x.perm), cx.int64s([pos])], hint=node.name)
        return [Value(name, x.dtype, shape, perm)]
    name = cx.emit1("Unsqueeze", [cx.plain(x), cx.int64s([axis])], hint=node.name)
    return [Value(name, x.dtype, shape)]


def transpose(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, p = ins
    q = tuple(const_ints(cx, node, p, "the permutation"))
    shape = None if x.shape is None else tuple(x.shape[i] for i in q)
    # y = transpose(x, q) is x's ONNX tensor seen through another layout: no node until one is needed
    src_perm = x.perm or tuple(range(len(q)))
    inv_q = inverse(q)
    perm = tuple(inv_q[s] for s in src_perm)
    return [Value(cx.form(x, x.perm), x.dtype, shape, perm)]


def _concat_layout(cx: Context, values: list[Value]) -> tuple[list[str], Optional[Perm]]:
    perms = {v.perm for v in values if v.const is None}
    if len(perms) == 1:
        perm = next(iter(perms))
        if perm is not None and all(v.const is None or v.const.ndim == len(perm) for v in values):
            return [cx.form(v, perm) for v in values], perm
    return [cx.plain(v) for v in values], None


def concat(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    if node.op == "Concat":
        axis_v, values = ins[0], ins[1:]
    else:
        values, axis_v = ins[:-1], ins[-1]
    axis = const_ints(cx, node, axis_v, "the axis")[0]
    if len(values) == 1:
        return [values[0]]
    names, perm = _concat_layout(cx, values)
    rank = next((v.rank for v in values if v.rank is not None), None)
    if perm is not None:
        onnx_axis = axis_in_layout(axis, len(perm), perm)
    else:
        onnx_axis = axis
    name = cx.emit1("Concat", names, hint=node.name, axis=onnx_axis)
    shape: Shape = None
    if rank is not None and all(v.shape is not None and len(v.shape) == rank for v in values):
        a = axis + rank if axis < 0 else axis
        dims = [v.shape[a] for v in values if v.shape is not None]
        total: Dim = sum(int(d) for d in dims if isinstance(d, int)) if all(isinstance(d, int) for d in dims) \
            else None
        first = values[0].shape
        assert first is not None
        shape = tuple(total if i == a else first[i] for i in range(rank))
    out = Value(name, values[0].dtype, shape, perm)
    if all(v.rank == 1 and (v.const is not None or v.parts is not None) for v in values):
        parts: list[Dim] = []
        for v in values:
            parts.extend(v.parts if v.parts is not None else [int(e) for e in np.asarray(v.const).reshape(-1)])
        out.parts = parts
    return [out]


def pack(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    axis = attrs.get_int(node, "axis")
    rank = ins[0].rank
    axes = cx.int64s([axis])
    names = [cx.emit1("Unsqueeze", [cx.plain(v), axes], hint=f"{node.name}/in") for v in ins]
    name = cx.emit1("Concat", names, hint=node.name, axis=axis) if len(names) > 1 else names[0]
    shape: Shape = None
    if rank is not None and ins[0].shape is not None:
        a = axis + rank + 1 if axis < 0 else axis
        s = list(ins[0].shape)
        shape = tuple(s[:a] + [len(ins)] + s[a:])
    out = Value(name, ins[0].dtype, shape)
    if rank == 0:
        out.parts = [(int(v.const) if v.const is not None else (v.parts[0] if v.parts else None)) for v in ins]
    return [out]


def unpack(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    num = attrs.get_int(node, "num")
    axis = attrs.get_int(node, "axis")
    src = cx.plain(x)
    parts = cx.emit("Split", [src, cx.int64s([1] * num)], outputs=num, hint=f"{node.name}/split", axis=axis)
    shape: Shape = None
    if x.shape is not None:
        a = axis + len(x.shape) if axis < 0 else axis
        shape = tuple(d for i, d in enumerate(x.shape) if i != a)
    return [Value(cx.emit1("Squeeze", [p, cx.int64s([axis])], hint=node.name), x.dtype, shape) for p in parts]


# -- shapes --------------------------------------------------------------------------------------

def _out_int(node: Any) -> int:
    return dtype(node, "out_type") if attrs.has(node, "out_type") else odt.INT32


def shape(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    out_type = _out_int(node)
    results = []
    for x in ins:
        if x.shape is not None and all(isinstance(d, int) for d in x.shape):
            results.append(cx.constant(np.array(x.shape, odt.numpy_of(out_type))))
            continue
        if x.const is not None:
            results.append(cx.constant(np.array(x.const.shape, odt.numpy_of(out_type))))
            continue
        name = cx.emit1("Shape", [cx.form(x, x.perm)], hint=f"{node.name}/shape")
        if x.perm is not None:
            name = cx.emit1("Gather", [name, cx.int64s(list(inverse(x.perm)))], axis=0)
        if out_type != odt.INT64:
            name = cx.cast(name, out_type, hint=node.name)
        v = Value(name, out_type, (x.rank,) if x.rank is not None else (None,))
        v.parts = list(x.shape) if x.shape is not None else None
        results.append(v)
    return results


def size(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    out_type = _out_int(node)
    name = cx.emit1("Size", [x.forms.get(x.perm) or cx.plain(x)], hint=node.name)
    if out_type != odt.INT64:
        name = cx.cast(name, out_type)
    return [Value(name, out_type, ())]


def rank(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    if x.rank is not None:
        return [cx.constant(np.array(x.rank, np.int32))]
    name = cx.emit1("Size", [cx.emit1("Shape", [cx.plain(x)])])
    return [Value(cx.cast(name, odt.INT32, hint=node.name), odt.INT32, ())]


def _shape_from_parts(v: Value) -> Shape:
    if v.const is not None:
        return tuple(int(d) for d in v.const.reshape(-1))
    if v.parts is not None:
        return tuple(v.parts)
    if v.shape is not None and isinstance(v.shape[0], int):
        return (None,) * v.shape[0]
    return None


def fill(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    dims, value = ins
    if value.const is not None:
        tensor = cx.model.onnx.numpy_helper.from_array(np.asarray(value.const).reshape(1))
        name = cx.emit1("ConstantOfShape", [int64(cx, dims)], hint=node.name, value=tensor)
    else:
        name = cx.emit1("Expand", [cx.plain(value), int64(cx, dims)], hint=node.name)
    return [Value(name, value.dtype, _shape_from_parts(dims))]


def zeros_like(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    np_dtype = odt.numpy_of(x.dtype)
    value = np.zeros(1, np_dtype) if node.op == "ZerosLike" else np.ones(1, np_dtype)
    src = x.forms.get(x.perm) or cx.plain(x)
    name = cx.emit1("ConstantOfShape", [cx.emit1("Shape", [src])], hint=node.name,
                    value=cx.model.onnx.numpy_helper.from_array(value))
    return [Value(name, x.dtype, x.shape, x.perm if x.const is None else None)]


def range_(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    start, limit, delta = ins
    t = dtype(node, "Tidx")
    names = [cx.plain(v) if v.dtype == t else cx.cast(cx.plain(v), t) for v in ins]
    return [Value(cx.emit1("Range", names, hint=node.name), t, (None,))]


def tile(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, m = ins
    name = cx.emit1("Tile", [cx.plain(x), int64(cx, m)], hint=node.name)
    shape: Shape = None
    if x.shape is not None and m.const is not None:
        shape = tuple(d * int(k) if isinstance(d, int) else (d if k == 1 else None)
                      for d, k in zip(x.shape, m.const.reshape(-1)))
    return [Value(name, x.dtype, shape)]


def broadcast_to(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, s = ins
    name = cx.emit1("Expand", [cx.plain(x), int64(cx, s)], hint=node.name)
    return [Value(name, x.dtype, _shape_from_parts(s))]


def pad(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, paddings = ins[0], ins[1]
    mode = "constant"
    if node.op == "MirrorPad":
        m = attrs.get_str(node, "mode", "REFLECT")
        if m != "REFLECT":
            raise cx.unsupported(node, f"MirrorPad mode {m}")
        mode = "reflect"
    inputs: list[str]
    if paddings.const is not None:
        p = paddings.const.astype(np.int64).reshape(-1, 2)
        perm = x.perm
        rows = p if perm is None else p[list(perm)]
        pads = cx.int64s(list(rows[:, 0]) + list(rows[:, 1]), "pads")
        src = x.forms[perm] if perm is not None else cx.plain(x)
        shape = None
        if x.shape is not None:
            shape = tuple(d + int(a + b) if isinstance(d, int) else (d if a == b == 0 else None)
                          for d, (a, b) in zip(x.shape, p))
    else:
        perm = None
        flat = cx.emit1("Reshape", [cx.emit1("Transpose", [int64(cx, paddings)], perm=[1, 0]),
                                    cx.int64s([-1])])
        pads, src, shape = flat, cx.plain(x), (None,) * x.rank if x.rank is not None else None
    inputs = [src, pads]
    if node.op == "PadV2":
        inputs.append(cx.plain(ins[2]))
    name = cx.emit1("Pad", inputs, hint=node.name, mode=mode)
    return [Value(name, x.dtype, shape, perm)]


# -- slicing -------------------------------------------------------------------------------------

def _strided_index(node: Any, begin: list[int], end: list[int], strides: list[int]) -> list[Any]:
    """The numpy index that does what a StridedSlice node's spec does."""
    index: list[Any] = []
    bm, em = attrs.get_int(node, "begin_mask"), attrs.get_int(node, "end_mask")
    ell, new, shrink = (attrs.get_int(node, "ellipsis_mask"), attrs.get_int(node, "new_axis_mask"),
                        attrs.get_int(node, "shrink_axis_mask"))
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ell & bit:
            index.append(Ellipsis)
        elif new & bit:
            index.append(None)
        elif shrink & bit:
            index.append(b)
        else:
            index.append(slice(None if bm & bit else b, None if em & bit else e, s))
    return index


def _apply_index_shape(shape: tuple[Dim, ...], index: list[Any]) -> Shape:
    """Shape after a numpy basic index, with unknown dims where the size depends on them."""
    if index.count(Ellipsis) > 1:
        return None
    real = [i for i in index if i is not None and i is not Ellipsis]
    if Ellipsis in index:
        k = index.index(Ellipsis)
        fill = len(shape) - len(real)
        index = index[:k] + [slice(None)] * fill + index[k + 1:]
    out: list[Dim] = []
    axis = 0
    for item in index:
        if item is None:
            out.append(1)
            continue
        if axis >= len(shape):
            return None
        d = shape[axis]
        axis += 1
        if isinstance(item, int):
            continue
        if item == slice(None):
            out.append(d)
        elif isinstance(d, int):
            out.append(len(range(d)[item]))
        else:
            out.append(None)
    out.extend(shape[axis:])
    return tuple(out)


def strided_slice(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, b_v, e_v, s_v = ins
    strides = const_ints(cx, node, s_v, "strides")
    if b_v.const is None or e_v.const is None:
        return _dynamic_strided_slice(cx, node, ins, strides)
    begin, end = const_ints(cx, node, b_v, "begin"), const_ints(cx, node, e_v, "end")
    index = _strided_index(node, begin, end, strides)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    rank = x.rank
    if Ellipsis in index and rank is None:
        raise cx.unsupported(node, "an ellipsis slice of a tensor of unknown rank")
    if x.parts is not None and len(index) == 1 and isinstance(index[0], (int, slice)):
        sliced: Any = x.parts[index[0]]
    else:
        sliced = None
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = 0
    out_pos = 0
    for item in index:
        if item is Ellipsis:
            assert rank is not None
            covered = rank - n_real
            axis += covered
            out_pos += covered
            continue
        if item is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(item, int):
            starts.append(item)
            ends.append(item + 1 if item != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
            axis += 1
            continue
        s = item.step
        b = item.start if item.start is not None else (0 if s > 0 else INT64_MAX)
        e = item.stop if item.stop is not None else (INT64_MAX if s > 0 else INT64_MIN)
        if not (b == 0 and e == INT64_MAX and s == 1):
            starts.append(b)
            ends.append(e)
            axes.append(axis)
            steps.append(s)
        axis += 1
        out_pos += 1
    name = cx.plain(x)
    if axes:
        name = cx.emit1("Slice", [name, cx.int64s(starts), cx.int64s(ends), cx.int64s(axes), cx.int64s(steps)],
                        hint=node.name)
    if squeeze:
        name = cx.emit1("Squeeze", [name, cx.int64s(squeeze)], hint=node.name)
    if unsqueeze:
        name = cx.emit1("Unsqueeze", [name, cx.int64s(unsqueeze)], hint=node.name)
    if not axes and not squeeze and not unsqueeze:
        return [x]
    shape = _apply_index_shape(x.shape, index) if x.shape is not None else None
    out = Value(name, x.dtype, shape)
    if sliced is not None:
        out.parts = sliced if isinstance(sliced, list) else [sliced]
        if isinstance(index[0], int):
            out.parts = [sliced]
    return [out]


def _dynamic_strided_slice(cx: Context, node: Any, ins: list[Value], strides: list[int]) -> list[Value]:
    x, b_v, e_v, _ = ins
    masks = [attrs.get_int(node, m) for m in ("ellipsis_mask", "new_axis_mask")]
    bm, em, shrink = (attrs.get_int(node, "begin_mask"), attrs.get_int(node, "end_mask"),
                      attrs.get_int(node, "shrink_axis_mask"))
    n = len(strides)
    if any(masks) or bm or em:
        raise cx.unsupported(node, "a strided slice with run-time bounds and masks")
    src = cx.plain(x)
    begin, end = int64(cx, b_v), int64(cx, e_v)
    keep = [i for i in range(n) if not shrink & (1 << i)]
    if keep:
        idx = cx.int64s(keep)
        src = cx.emit1("Slice", [src, cx.emit1("Gather", [begin, idx], axis=0),
                                 cx.emit1("Gather", [end, idx], axis=0), idx,
                                 cx.int64s([strides[i] for i in keep])], hint=node.name)
    for i in reversed([i for i in range(n) if shrink & (1 << i)]):
        at = cx.emit1("Gather", [begin, cx.init(np.array(i, np.int64))], axis=0)
        src = cx.emit1("Gather", [src, at], hint=node.name, axis=i)
    shape: Shape = None
    if x.shape is not None:
        shape = tuple(None if i < n and i in keep else d for i, d in enumerate(x.shape)
                      if not (i < n and shrink & (1 << i)))
    return [Value(src, x.dtype, shape)]


def slice_(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, b_v, s_v = ins
    if b_v.const is not None and s_v.const is not None:
        begin = [int(v) for v in b_v.const.reshape(-1)]
        sizes = [int(v) for v in s_v.const.reshape(-1)]
        ends = [INT64_MAX if s == -1 else b + s for b, s in zip(begin, sizes)]
        name = cx.emit1("Slice", [cx.plain(x), cx.int64s(begin), cx.int64s(ends)], hint=node.name)
        shape: Shape = None
        if x.shape is not None:
            shape = tuple(s if s != -1 else (d - b if isinstance(d, int) else None)
                          for d, b, s in zip(x.shape, begin, sizes))
        return [Value(name, x.dtype, shape)]
    starts, lengths = int64(cx, b_v), int64(cx, s_v)
    minus = cx.emit1("Equal", [lengths, cx.init(np.array(-1, np.int64))])
    stops = cx.emit1("Where", [minus, cx.init(np.array(INT64_MAX, np.int64)), cx.emit1("Add", [starts, lengths])])
    name = cx.emit1("Slice", [cx.plain(x), starts, stops], hint=node.name)
    return [Value(name, x.dtype, (None,) * x.rank if x.rank is not None else None)]


def gather(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    params, indices = ins[0], ins[1]
    axis = const_ints(cx, node, ins[2], "the axis")[0] if len(ins) > 2 else 0
    if attrs.get_int(node, "batch_dims") != 0:
        raise cx.unsupported(node, "batch_dims other than 0")
    name = cx.emit1("Gather", [cx.plain(params), cx.plain(indices)], hint=node.name, axis=axis)
    shape: Shape = None
    if params.shape is not None and indices.shape is not None:
        a = axis + len(params.shape) if axis < 0 else axis
        shape = tuple(params.shape[:a]) + tuple(indices.shape) + tuple(params.shape[a + 1:])
    out = Value(name, params.dtype, shape)
    if params.parts is not None and indices.const is not None and indices.const.ndim <= 1:
        picked = [params.parts[int(i)] for i in indices.const.reshape(-1)]
        out.parts = picked
    return [out]


def gather_nd(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    params, indices = ins
    name = cx.emit1("GatherND", [cx.plain(params), int64(cx, indices)], hint=node.name)
    shape: Shape = None
    if params.shape is not None and indices.shape is not None and isinstance(indices.shape[-1], int):
        shape = tuple(indices.shape[:-1]) + tuple(params.shape[indices.shape[-1]:])
    return [Value(name, params.dtype, shape)]


def split(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    num = attrs.get_int(node, "num_split")
    if node.op == "Split":
        axis_v, x = ins
        sizes: Optional[list[int]] = None
    else:
        x, s_v, axis_v = ins
        sizes = const_ints(cx, node, s_v, "size_splits")
    axis = const_ints(cx, node, axis_v, "the axis")[0]
    rank = x.rank
    a = axis + rank if rank is not None and axis < 0 else axis
    dim = x.shape[a] if x.shape is not None and 0 <= a < len(x.shape) else None
    if sizes is None:
        if isinstance(dim, int):
            sizes = [dim // num] * num
    elif -1 in sizes:
        if not isinstance(dim, int):
            raise cx.unsupported(node, "a -1 split size on a dimension of unknown size")
        sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    perm = x.perm
    src = x.forms[perm] if perm is not None else cx.plain(x)
    onnx_axis = axis_in_layout(a, len(perm), perm) if perm is not None else axis
    inputs = [src] if sizes is None else [src, cx.int64s(sizes)]
    kw: dict[str, Any] = {}
    if sizes is None:
        if cx.opset < 18:
            raise cx.unsupported(node, "an even split of a dimension of unknown size needs opset 18")
        kw["num_outputs"] = num
    names = cx.emit("Split", inputs, outputs=num, hint=node.name, axis=onnx_axis, **kw)
    outs = []
    for i, name in enumerate(names):
        shape: Shape = None
        if x.shape is not None:
            shape = tuple((sizes[i] if sizes is not None else None) if j == a else d for j, d in enumerate(x.shape))
        outs.append(Value(name, x.dtype, shape, perm))
    return outs


def one_hot(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    indices, depth, on, off = ins
    values = cx.emit1("Concat", [cx.emit1("Unsqueeze", [cx.plain(off), cx.int64s([0])]),
                                 cx.emit1("Unsqueeze", [cx.plain(on), cx.int64s([0])])], axis=0)
    axis = attrs.get_int(node, "axis", -1)
    # onnxruntime implements OneHot for int64 indices and depth with float, int32 or int64 values
    name = cx.emit1("OneHot", [int64(cx, indices), int64(cx, depth), values], hint=node.name, axis=axis)
    shape: Shape = None
    if indices.shape is not None:
        d: Dim = int(depth.const.reshape(())) if depth.const is not None else None
        dims = list(indices.shape)
        dims.insert(len(dims) if axis == -1 else axis, d)
        shape = tuple(dims)
    return [Value(name, on.dtype, shape)]


def where(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    nz = cx.emit1("NonZero", [cx.plain(ins[0])])
    return [Value(cx.emit1("Transpose", [nz], hint=node.name, perm=[1, 0]), odt.INT64, (None, ins[0].rank))]


def cumsum(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, axis = ins
    name = cx.emit1("CumSum", [cx.plain(x), int64(cx, axis)], hint=node.name,
                    exclusive=int(attrs.get_bool(node, "exclusive")), reverse=int(attrs.get_bool(node, "reverse")))
    return [Value(name, x.dtype, x.shape)]


def top_k(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, k = ins
    kk = cx.emit1("Reshape", [int64(cx, k), cx.int64s([1])])
    values, idx = cx.emit("TopK", [cx.plain(x), kk], outputs=2, hint=node.name, axis=-1, largest=1, sorted=1)
    t = dtype(node, "index_type") if attrs.has(node, "index_type") else odt.INT32
    shape: Shape = None
    if x.shape is not None:
        shape = tuple(x.shape[:-1]) + ((int(k.const.reshape(())) if k.const is not None else None),)
    return [Value(values, x.dtype, shape), Value(cx.cast(idx, t), t, shape)]


def reverse(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, axes_v = ins
    axes = const_ints(cx, node, axes_v, "the axes")
    n = len(axes)
    name = cx.emit1("Slice", [cx.plain(x), cx.int64s([-1] * n), cx.int64s([INT64_MIN] * n), cx.int64s(axes),
                              cx.int64s([-1] * n)], hint=node.name)
    return [Value(name, x.dtype, x.shape)]


# -- folding -------------------------------------------------------------------------------------

def _fold_strided(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    index = _strided_index(node, *(list(int(v) for v in arr.reshape(-1)) for arr in a[1:4]))
    return [np.asarray(a[0][tuple(index)])]


def _fold_concat(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    if node.op == "Concat":
        return [np.concatenate(a[1:], axis=int(a[0]))]
    return [np.concatenate(a[:-1], axis=int(a[-1]))]


def _fold_pack(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(a, axis=attrs.get_int(node, "axis"))]


def _fold_reshape(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    return [a[0].reshape([int(d) for d in a[1].reshape(-1)])]


def _fold_squeeze(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    dims = attrs.get_ints(node, "squeeze_dims") or attrs.get_ints(node, "axis")
    return [np.squeeze(a[0], axis=tuple(dims)) if dims else np.squeeze(a[0])]


def _fold_expand(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.expand_dims(a[0], int(a[1].reshape(-1)[0]))]


def _fold_transpose(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    return [contiguous(np.transpose(a[0], [int(p) for p in a[1].reshape(-1)]))]


def _fold_gather(node: Any, a: list[np.ndarray]) -> Optional[list[np.ndarray]]:
    if attrs.get_int(node, "batch_dims") != 0:
        return None
    axis = int(a[2]) if len(a) > 2 else 0
    return [np.take(a[0], a[1], axis=axis)]


def _fold_fill(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.full([int(d) for d in a[0].reshape(-1)], a[1], dtype=a[1].dtype)]


def _fold_range(node: Any, a: list[np.ndarray]) -> Optional[list[np.ndarray]]:
    t = odt.numpy_of(dtype(node, "Tidx"))
    return [np.arange(a[0].item(), a[1].item(), a[2].item()).astype(t)]


def _fold_prod_shape(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
    return [a[0]]


TABLE: dict[str, Handler] = {
    "Reshape": reshape, "Squeeze": squeeze, "ExpandDims": expand_dims, "Transpose": transpose,
    "ConcatV2": concat, "Concat": concat, "Pack": pack, "Unpack": unpack, "Shape": shape, "ShapeN": shape,
    "Size": size, "Rank": rank, "Fill": fill, "ZerosLike": zeros_like, "OnesLike": zeros_like, "Range": range_,
    "Tile": tile, "BroadcastTo": broadcast_to, "Pad": pad, "PadV2": pad, "MirrorPad": pad,
    "StridedSlice": strided_slice, "Slice": slice_, "GatherV2": gather, "Gather": gather, "GatherNd": gather_nd,
    "Split": split, "SplitV": split, "OneHot": one_hot, "Where": where, "Cumsum": cumsum, "TopKV2": top_k,
    "ReverseV2": reverse,
}
FOLD: dict[str, Folder] = {
    "StridedSlice": _fold_strided, "ConcatV2": _fold_concat, "Concat": _fold_concat, "Pack": _fold_pack,
    "Reshape": _fold_reshape, "Squeeze": _fold_squeeze, "ExpandDims": _fold_expand, "Transpose": _fold_transpose,
    "GatherV2": _fold_gather, "Fill": _fold_fill, "Range": _fold_range,
}
