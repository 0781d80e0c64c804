"""Convolutions, pooling, batch normalization, softmax, matrix products.

TensorFlow's channels-last tensors (NHWC, NDHWC) are fed to ONNX's channels-first ops through
:meth:`Context.form`, and results are left channels-first (``perm`` set), so a chain of layers
needs no transposes between them.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import attrs
from ..context import Context, contiguous
from ..values import Dim, Shape, Value, channels_first, inverse
from .common import Handler, axis_in_layout


def _spatial(node: Any, name: str, rank: int, channels_last: bool) -> list[int]:
    values = attrs.get_ints(node, name, [1] * rank)
    return values[1:-1] if channels_last else values[2:]


def _out_size(size: Dim, k: int, stride: int, dilation: int, padding: str) -> Dim:
    if not isinstance(size, int):
        return None
    if padding == "SAME":
        return -(-size // stride)
    return (size - (k - 1) * dilation - 1) // stride + 1


def _same_pads(size: Dim, k: int, stride: int, dilation: int) -> Optional[tuple[int, int]]:
    if not isinstance(size, int):
        return None
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _padding(cx: Context, node: Any, in_spatial: list[Dim], kernel: list[int], strides: list[int],
             dilations: list[int], channels_last: bool) -> dict[str, Any]:
    padding = attrs.get_str(node, "padding", "VALID")
    n = len(kernel)
    if padding == "VALID":
        return {"pads": [0] * (2 * n)}
    if padding == "SAME":
        pads = [_same_pads(s, k, st, d) for s, k, st, d in zip(in_spatial, kernel, strides, dilations)]
        if all(p is not None for p in pads):
            return {"pads": [p[0] for p in pads if p] + [p[1] for p in pads if p]}
        return {"auto_pad": "SAME_UPPER"}
    if padding == "EXPLICIT":
        ex = attrs.get_ints(node, "explicit_paddings")
        pairs = [ex[2 * i: 2 * i + 2] for i in range(len(ex) // 2)]
        pairs = pairs[1:-1] if channels_last else pairs[2:]
        return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}
    raise cx.unsupported(node, f"padding {padding!r}")


def _input_cf(cx: Context, x: Value, channels_last: bool, rank: int) -> tuple[str, Shape]:
    """The input in channels-first layout and its channels-first shape."""
    if not channels_last:
        return cx.plain(x), x.shape
    perm = channels_first(rank)
    shape = None if x.shape is None else tuple(x.shape[p] for p in perm)
    return cx.form(x, perm), shape


def _result(name: str, dtype: int, cf_shape: list[Dim], channels_last: bool) -> Value:
    rank = len(cf_shape)
    if not channels_last:
        return Value(name, dtype, tuple(cf_shape))
    perm = channels_first(rank)
    inv = inverse(perm)
    return Value(name, dtype, tuple(cf_shape[i] for i in inv), perm)


def _kernel(cx: Context, node: Any, w: Value, depthwise: bool) -> tuple[str, list[int], Optional[int]]:
    """ONNX kernel [Cout, Cin/groups, k...] from TF's [k..., Cin, Cout] (depthwise: [k..., Cin, M])."""
    if w.const is not None:
        k = w.const
        if depthwise:
            k = k.reshape(k.shape[:-2] + (1, k.shape[-2] * k.shape[-1]))
        n = k.ndim
        arr = contiguous(np.transpose(k, (n - 1, n - 2) + tuple(range(n - 2))))
        return cx.model.initializer(arr, node.name + "/kernel"), list(k.shape[:-2]), int(arr.shape[0])
    if depthwise or w.shape is None or not all(isinstance(d, int) for d in w.shape):
        raise cx.unsupported(node, "the filter must be a constant")
    n = len(w.shape)
    name = cx.emit1("Transpose", [cx.plain(w)], perm=[n - 1, n - 2] + list(range(n - 2)))
    return name, [int(d) for d in w.shape[:-2] if isinstance(d, int)], int(w.shape[-1] or 0)


def conv(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, w = ins[0], ins[1]
    depthwise = node.op.startswith("DepthwiseConv")
    rank = 5 if node.op.startswith("Conv3D") else 4
    fmt = attrs.data_format(node)
    channels_last = fmt in ("NHWC", "NDHWC")
    src, cf_shape = _input_cf(cx, x, channels_last, rank)
    kernel_name, ksize, cout = _kernel(cx, node, w, depthwise)
    strides = _spatial(node, "strides", rank, channels_last)
    dilations = _spatial(node, "dilations", rank, channels_last)
    spatial: list[Dim] = list(cf_shape[2:]) if cf_shape is not None else [None] * (rank - 2)
    cin = cf_shape[1] if cf_shape is not None else None
    group = 1
    if depthwise:
        if not isinstance(cin, int):
            raise cx.unsupported(node, "depthwise convolution needs a known number of input channels")
        group = cin
    elif w.const is not None and isinstance(cin, int) and cin != w.const.shape[-2]:
        group = cin // int(w.const.shape[-2])
    kw = _padding(cx, node, spatial, ksize, strides, dilations, channels_last)
    out = cx.emit1("Conv", [src, kernel_name], hint=node.name, strides=strides, dilations=dilations,
                   kernel_shape=ksize, group=group, **kw)
    padding = attrs.get_str(node, "padding", "VALID")
    sizes = [_out_size(s, k, st, d, padding if padding != "EXPLICIT" else "VALID")
             for s, k, st, d in zip(spatial, ksize, strides, dilations)]
    if padding == "EXPLICIT":
        sizes = [None] * len(sizes)
    n = cf_shape[0] if cf_shape is not None else None
    return [_result(out, x.dtype, [n, cout] + sizes, channels_last)]


def conv_transpose(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    """Conv2DBackpropInput (tf.nn.conv2d_transpose): ONNX ConvTranspose with TensorFlow's padding."""
    sizes_v, w, x = ins
    fmt = attrs.data_format(node)
    channels_last = fmt == "NHWC"
    sizes: Optional[list[Dim]] = [int(d) for d in sizes_v.const.reshape(-1)] if sizes_v.const is not None \
        else sizes_v.parts
    if sizes is None or w.const is None:
        raise cx.unsupported(node, "the output size and the filter must be constants")
    out_spatial = sizes[1:-1] if channels_last else sizes[2:]
    if not all(isinstance(d, int) for d in out_spatial):
        raise cx.unsupported(node, "the output's spatial size must be known")
    src, cf_shape = _input_cf(cx, x, channels_last, 4)
    in_spatial = list(cf_shape[2:]) if cf_shape is not None else [None, None]
    if not all(isinstance(d, int) for d in in_spatial):
        raise cx.unsupported(node, "the input's spatial size must be known")
    k = w.const  # [kh, kw, out_channels, in_channels]
    kernel = cx.model.initializer(contiguous(np.transpose(k, (3, 2, 0, 1))), node.name + "/kernel")
    ksize = [int(k.shape[0]), int(k.shape[1])]
    strides = _spatial(node, "strides", 4, channels_last)
    dilations = _spatial(node, "dilations", 4, channels_last)
    padding = attrs.get_str(node, "padding", "VALID")
    if padding not in ("SAME", "VALID"):
        raise cx.unsupported(node, f"padding {padding!r}")
    begins, ends, extra = [], [], []
    for size_in, size_out, kk, s, d in zip(in_spatial, out_spatial, ksize, strides, dilations):
        assert isinstance(size_in, int) and isinstance(size_out, int)
        span = (kk - 1) * d + 1
        total = max((-(-size_out // s) - 1) * s + span - size_out, 0) if padding == "SAME" else 0
        begins.append(total // 2)
        ends.append(total - total // 2)
        extra.append(size_out - (s * (size_in - 1) + span - total))
    if any(e < 0 or e >= max(s, d) for e, s, d in zip(extra, strides, dilations)):
        raise cx.unsupported(node, "an output size this filter and stride cannot produce")
    out = cx.emit1("ConvTranspose", [src, kernel], hint=node.name, strides=strides, dilations=dilations,
                   kernel_shape=ksize, pads=begins + ends, output_padding=extra if any(extra) else None)
    n = cf_shape[0] if cf_shape is not None else None
    cf_out: list[Dim] = [n, int(k.shape[2])] + list(out_spatial)
    return [_result(out, x.dtype, cf_out, channels_last)]


def pool(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    rank = 5 if node.op.endswith("3D") else 4
    fmt = attrs.data_format(node)
    channels_last = fmt in ("NHWC", "NDHWC")
    if node.op == "MaxPoolV2":
        ksize_all = [int(v) for v in np.asarray(ins[1].const).reshape(-1)] if ins[1].const is not None else None
        strides_all = [int(v) for v in np.asarray(ins[2].const).reshape(-1)] if ins[2].const is not None else None
        if ksize_all is None or strides_all is None:
            raise cx.unsupported(node, "ksize and strides must be constants")
        ksize = ksize_all[1:-1] if channels_last else ksize_all[2:]
        strides = strides_all[1:-1] if channels_last else strides_all[2:]
    else:
        ksize = _spatial(node, "ksize", rank, channels_last)
        strides = _spatial(node, "strides", rank, channels_last)
    src, cf_shape = _input_cf(cx, x, channels_last, rank)
    spatial: list[Dim] = list(cf_shape[2:]) if cf_shape is not None else [None] * (rank - 2)
    ones = [1] * len(ksize)
    kw = _padding(cx, node, spatial, ksize, strides, ones, channels_last)
    op = "MaxPool" if node.op.startswith("MaxPool") else "AveragePool"
    out = cx.emit1(op, [src], hint=node.name, kernel_shape=ksize, strides=strides, **kw)
    padding = attrs.get_str(node, "padding", "VALID")
    sizes = [_out_size(s, k, st, 1, padding) for s, k, st in zip(spatial, ksize, strides)]
    lead: list[Dim] = list(cf_shape[:2]) if cf_shape is not None else [None, None]
    return [_result(out, x.dtype, lead + sizes, channels_last)]


def fused_batch_norm(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    if attrs.get_bool(node, "is_training", True):
        raise cx.unsupported(node, "batch normalization in training mode")
    x, scale, offset, mean, var = ins[:5]
    rank = x.rank if x.rank is not None else 4
    channels_last = attrs.data_format(node) in ("NHWC", "NDHWC")
    src, cf_shape = _input_cf(cx, x, channels_last, rank)
    params = [cx.plain(v) if v.dtype == x.dtype else cx.cast(cx.plain(v), x.dtype)
              for v in (scale, offset, mean, var)]
    out = cx.emit1("BatchNormalization", [src] + params, hint=node.name,
                   epsilon=attrs.get_float(node, "epsilon", 1e-4))
    shape: list[Dim] = list(cf_shape) if cf_shape is not None else [None] * rank
    return [_result(out, x.dtype, shape, channels_last), mean, var, mean, var, mean]


def lrn(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    """Local response normalization over channels (NHWC in TensorFlow, channels-first in ONNX)."""
    x = ins[0]
    radius = attrs.get_int(node, "depth_radius", 5)
    size = 2 * radius + 1
    src, cf_shape = _input_cf(cx, x, True, 4)
    # TF scales the plain sum of squares by alpha; ONNX scales its mean over the window (alpha / size)
    out = cx.emit1("LRN", [src], hint=node.name, size=size, alpha=attrs.get_float(node, "alpha", 1.0) * size,
                   beta=attrs.get_float(node, "beta", 0.5), bias=attrs.get_float(node, "bias", 1.0))
    return [_result(out, x.dtype, list(cf_shape) if cf_shape is not None else [None] * 4, True)]


def softmax(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    op = "Softmax" if node.op == "Softmax" else "LogSoftmax"
    if x.perm is not None:
        axis = axis_in_layout(-1, len(x.perm), x.perm)
        out = cx.emit1(op, [cx.form(x, x.perm)], hint=node.name, axis=axis)
        return [Value(out, x.dtype, x.shape, x.perm)]
    out = cx.emit1(op, [cx.plain(x)], hint=node.name, axis=-1)
    return [Value(out, x.dtype, x.shape)]


def _swap_last(cx: Context, v: Value, node: Any) -> Value:
    if v.const is not None:
        return cx.constant(np.swapaxes(v.const, -1, -2))
    if v.rank is None:
        raise cx.unsupported(node, "transposing an operand of unknown rank")
    r = v.rank
    perm = tuple(range(r - 2)) + (r - 1, r - 2)
    shape = None if v.shape is None else tuple(v.shape[p] for p in perm)
    return Value(cx.emit1("Transpose", [cx.plain(v)], perm=list(perm)), v.dtype, shape)


def matmul(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    a, b = ins
    if node.op == "MatMul":
        ta, tb = attrs.get_bool(node, "transpose_a"), attrs.get_bool(node, "transpose_b")
    else:
        ta, tb = attrs.get_bool(node, "adj_x"), attrs.get_bool(node, "adj_y")
    if ta:
        a = _swap_last(cx, a, node)
    if tb:
        b = _swap_last(cx, b, node)
    out = cx.emit1("MatMul", [cx.plain(a), cx.plain(b)], hint=node.name)
    shape: Shape = None
    if a.shape is not None and b.shape is not None and len(a.shape) >= 2 and len(b.shape) >= 2:
        from ..values import broadcast_shapes

        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        if batch is not None:
            shape = tuple(batch) + (a.shape[-2], b.shape[-1])
    dtype = a.dtype
    if node.op == "BatchMatMulV3":
        from .common import dtype as attr_dtype

        dtype = attr_dtype(node, "Tout")
    return [Value(out, dtype, shape)]


def einsum(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    equation = attrs.get_str(node, "equation").replace(" ", "")
    out = cx.emit1("Einsum", [cx.plain(v) for v in ins], hint=node.name, equation=equation)
    shape: Shape = None
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if "." not in equation and all(v.shape is not None and len(v.shape) == len(t) for v, t in zip(ins, terms)):
        sizes: dict[str, Dim] = {}
        for v, t in zip(ins, terms):
            assert v.shape is not None
            for letter, d in zip(t, v.shape):
                if sizes.get(letter) in (None, 1):
                    sizes[letter] = d
        shape = tuple(sizes.get(c) for c in rhs)
    return [Value(out, ins[0].dtype, shape)]


def depth_space(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x = ins[0]
    channels_last = attrs.data_format(node) == "NHWC"
    src, cf = _input_cf(cx, x, channels_last, 4)
    block = attrs.get_int(node, "block_size")
    if node.op == "DepthToSpace":
        # TF orders the moved values like ONNX's DCR mode
        out = cx.emit1("DepthToSpace", [src], hint=node.name, blocksize=block, mode="DCR")
    else:
        out = cx.emit1("SpaceToDepth", [src], hint=node.name, blocksize=block)
    shape: list[Dim] = [None] * 4
    if cf is not None:
        c, h, w = cf[1], cf[2], cf[3]
        if node.op == "DepthToSpace":
            shape = [cf[0], c // (block * block) if isinstance(c, int) else None,
                     h * block if isinstance(h, int) else None, w * block if isinstance(w, int) else None]
        else:
            shape = [cf[0], c * block * block if isinstance(c, int) else None,
                     h // block if isinstance(h, int) else None, w // block if isinstance(w, int) else None]
    return [_result(out, x.dtype, shape, channels_last)]


def resize(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, size = ins
    if attrs.get_bool(node, "align_corners"):
        mode = "align_corners"
    elif attrs.get_bool(node, "half_pixel_centers"):
        mode = "half_pixel" if node.op == "ResizeBilinear" else "tf_half_pixel_for_nn"
    else:
        mode = "asymmetric"
    src, cf = _input_cf(cx, x, True, 4)
    n_c = cx.emit1("Slice", [cx.emit1("Shape", [src]), cx.int64s([0]), cx.int64s([2])])
    from .common import int64

    sizes = cx.emit1("Concat", [n_c, int64(cx, size)], axis=0)
    kw: dict[str, Any] = {"coordinate_transformation_mode": mode}
    if node.op == "ResizeBilinear":
        kw["mode"] = "linear"
    else:
        kw["mode"] = "nearest"
        # TensorFlow rounds half away from zero with align_corners, and floors otherwise
        kw["nearest_mode"] = "round_prefer_ceil" if mode == "align_corners" else "floor"
    out = cx.emit1("Resize", [src, "", "", sizes], hint=node.name, **kw)
    hw: list[Dim] = [None, None]
    if size.const is not None:
        hw = [int(v) for v in size.const.reshape(-1)]
    lead: list[Dim] = list(cf[:2]) if cf is not None else [None, None]
    return [_result(out, x.dtype, lead + hw, True)]


TABLE: dict[str, Handler] = {
    "Conv2D": conv, "Conv3D": conv, "DepthwiseConv2dNative": conv, "Conv2DBackpropInput": conv_transpose,
    "MaxPool": pool, "MaxPoolV2": pool, "AvgPool": pool, "MaxPool3D": pool, "AvgPool3D": pool,
    "FusedBatchNorm": fused_batch_norm, "FusedBatchNormV2": fused_batch_norm, "FusedBatchNormV3": fused_batch_norm,
    "Softmax": softmax, "LogSoftmax": softmax, "LRN": lrn,
    "MatMul": matmul, "BatchMatMul": matmul, "BatchMatMulV2": matmul, "BatchMatMulV3": matmul,
    "Einsum": einsum, "DepthToSpace": depth_space, "SpaceToDepth": depth_space,
    "ResizeBilinear": resize, "ResizeNearestNeighbor": resize,
}
