"""Elementwise math: unary functions, arithmetic, comparisons, casts, BiasAdd, Select."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .. import attrs
from .. import dtypes as odt
from ..context import Context
from ..values import Value, broadcast_shapes
from .common import Folder, Handler, common_layout, dtype, elementwise, same_layout


def _unary(op: str, **kw: Any) -> Handler:
    def handle(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
        return [same_layout(cx, node, op, ins[0], **kw)]
    return handle


# x * 1, x / 1, x + 0, x - 0 with a scalar constant are x, exactly: no node for them
_NEUTRAL = {"Mul": (1, (0, 1)), "Div": (1, (1,)), "Add": (0, (0, 1)), "Sub": (0, (1,))}


def _neutral(op: str, ins: list[Value]) -> Optional[Value]:
    rule = _NEUTRAL.get(op)
    if rule is None or len(ins) != 2:
        return None
    unit, positions = rule
    for pos in positions:
        c, other = ins[pos], ins[1 - pos]
        if c.const is not None and c.const.size == 1 and c.const.ndim == 0 and c.dtype == other.dtype \
                and other.const is None and c.const.reshape(()) == unit:
            return other
    return None


def _binary(op: str, out_bool: bool = False) -> Handler:
    def handle(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
        same = None if out_bool else _neutral(op, ins)
        if same is not None:
            return [same]
        return [elementwise(cx, node, op, ins, odt.BOOL if out_bool else None)]
    return handle


def _scalar_like(cx: Context, v: Value, value: float) -> str:
    np_dtype = odt.numpy_of(v.dtype)
    return cx.init(np.array(value, dtype=np_dtype), hint="scalar")


def _then(cx: Context, node: Any, v: Value, ops: list[tuple[str, Optional[float]]]) -> list[Value]:
    """Apply a chain of unary ops, or binary ops with a scalar second operand, keeping the layout."""
    name = v.forms.get(v.perm) if v.const is None else cx.plain(v)
    assert name is not None
    for i, (op, scalar) in enumerate(ops):
        hint = node.name if i == len(ops) - 1 else f"{node.name}/{op}"
        if scalar is None:
            name = cx.emit1(op, [name], hint=hint)
        elif op == "RSub":
            name = cx.emit1("Sub", [_scalar_like(cx, v, scalar), name], hint=hint)
        else:
            name = cx.emit1(op, [name, _scalar_like(cx, v, scalar)], hint=hint)
    return [Value(name, v.dtype, v.shape, v.perm if v.const is None else None)]


def _chain(*ops: tuple[str, Optional[float]]) -> Handler:
    def handle(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
        return _then(cx, node, ins[0], list(ops))
    return handle


def relu6(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    v = ins[0]
    name = v.forms.get(v.perm) if v.const is None else cx.plain(v)
    assert name is not None
    out = cx.emit1("Clip", [name, _scalar_like(cx, v, 0.0), _scalar_like(cx, v, 6.0)], hint=node.name)
    return [Value(out, v.dtype, v.shape, v.perm)]


def leaky_relu(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    return [same_layout(cx, node, "LeakyRelu", ins[0], alpha=attrs.get_float(node, "alpha", 0.2))]


def selu(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    return [same_layout(cx, node, "Selu", ins[0])]


def square(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    names, perm = common_layout(cx, [ins[0]])
    out = cx.emit1("Mul", [names[0], names[0]], hint=node.name)
    return [Value(out, ins[0].dtype, ins[0].shape, perm)]


def squared_difference(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    d = elementwise(cx, node, "Sub", ins)
    name = d.forms[d.perm]
    out = cx.emit1("Mul", [name, name], hint=node.name + "/square")
    return [Value(out, d.dtype, d.shape, d.perm)]


def not_equal(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    eq = elementwise(cx, node, "Equal", ins, odt.BOOL)
    out = cx.emit1("Not", [eq.forms[eq.perm]], hint=node.name + "/not")
    return [Value(out, odt.BOOL, eq.shape, eq.perm)]


def real_div(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    same = _neutral("Div", ins)
    return [same if same is not None else elementwise(cx, node, "Div", ins)]


def floor_div(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    q = elementwise(cx, node, "Div", ins)
    if q.dtype in odt.FLOATS:
        out = cx.emit1("Floor", [q.forms[q.perm]], hint=node.name + "/floor")
        return [Value(out, q.dtype, q.shape, q.perm)]
    # integer Div truncates; step down by one where the remainder's sign differs from the divisor's
    names, perm = common_layout(cx, ins)
    x, y = names
    qn = q.forms[q.perm] if q.perm == perm else cx.form(q, perm)
    r = cx.emit1("Sub", [x, cx.emit1("Mul", [qn, y])])
    zero = _scalar_like(cx, ins[0], 0)
    nonzero = cx.emit1("Not", [cx.emit1("Equal", [r, zero])])
    signs = cx.emit1("Xor", [cx.emit1("Less", [r, zero]), cx.emit1("Less", [y, zero])])
    fix = cx.cast(cx.emit1("And", [nonzero, signs]), q.dtype)
    out = cx.emit1("Sub", [qn, fix], hint=node.name + "/floor")
    return [Value(out, q.dtype, q.shape, perm)]


def floor_mod(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    if ins[0].dtype in odt.FLOATS:
        names, perm = common_layout(cx, ins)
        x, y = names
        q = cx.emit1("Floor", [cx.emit1("Div", [x, y])])
        out = cx.emit1("Sub", [x, cx.emit1("Mul", [q, y])], hint=node.name)
        return [Value(out, ins[0].dtype, broadcast_shapes(ins[0].shape, ins[1].shape), perm)]
    return [elementwise(cx, node, "Mod", ins, fmod=0)]


def cast(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    to = dtype(node, "DstT")
    v = ins[0]
    if v.dtype == to:
        return [v]
    if v.const is not None:
        np_to = odt.numpy_of(to)
        if np_to is not None:
            return [cx.constant(v.const.astype(np_to), to)]
    name = v.forms[v.perm]
    out = cx.emit1("Cast", [name], hint=node.name, to=to)
    return [Value(out, to, v.shape, v.perm)]


def bias_add(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, b = ins
    fmt = attrs.data_format(node)
    if fmt.startswith("NC") and x.rank is not None and b.const is not None:
        bias = b.const.reshape((-1,) + (1,) * (x.rank - 2))
        return [elementwise(cx, node, "Add", [x, cx.constant(bias)])]
    if fmt.startswith("NC"):
        raise cx.unsupported(node, "channels-first BiasAdd needs a constant bias and a known rank")
    return [elementwise(cx, node, "Add", [x, b])]


def add_n(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    if len(ins) == 1:
        return [ins[0]]
    return [elementwise(cx, node, "Sum", ins)]


def select(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    c, x, y = ins
    if node.op == "Select" and c.rank == 1 and x.rank is not None and x.rank > 1:
        axes = cx.int64s(list(range(1, x.rank)))
        c = Value(cx.emit1("Unsqueeze", [cx.plain(c), axes]), odt.BOOL, (c.shape or (None,)) + (1,) * (x.rank - 1))
    names, perm = common_layout(cx, [c, x, y])
    out = cx.emit1("Where", names, hint=node.name)
    shape = broadcast_shapes(broadcast_shapes(c.shape, x.shape), y.shape)
    return [Value(out, x.dtype, shape, perm)]


def clip_by_value(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    x, lo, hi = ins
    low = elementwise(cx, node, "Max", [x, lo])
    return [elementwise(cx, node, "Min", [low, hi])]


UNARY = {"Relu": "Relu", "Elu": "Elu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
         "Sqrt": "Sqrt", "Neg": "Neg", "Abs": "Abs", "Sign": "Sign", "Floor": "Floor", "Ceil": "Ceil",
         "Round": "Round", "Reciprocal": "Reciprocal", "Inv": "Reciprocal", "Erf": "Erf", "Softplus": "Softplus",
         "Softsign": "Softsign", "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos",
         "Atan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh",
         "LogicalNot": "Not", "IsNan": "IsNaN", "IsInf": "IsInf"}
BINARY = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Maximum": "Max",
          "Minimum": "Min", "Pow": "Pow", "LogicalAnd": "And", "LogicalOr": "Or", "BitwiseAnd": "BitwiseAnd",
          "BitwiseOr": "BitwiseOr", "BitwiseXor": "BitwiseXor"}
COMPARE = {"Less": "Less", "Greater": "Greater", "LessEqual": "LessOrEqual", "GreaterEqual": "GreaterOrEqual",
           "Equal": "Equal"}

TABLE: dict[str, Handler] = {
    **{tf: _unary(o) for tf, o in UNARY.items()},
    **{tf: _binary(o) for tf, o in BINARY.items()},
    **{tf: _binary(o, out_bool=True) for tf, o in COMPARE.items()},
    "Relu6": relu6, "LeakyRelu": leaky_relu, "Selu": selu, "Square": square,
    "Rsqrt": _chain(("Sqrt", None), ("Reciprocal", None)),
    "Erfc": _chain(("Erf", None), ("RSub", 1.0)),
    "Log1p": _chain(("Add", 1.0), ("Log", None)),
    "Expm1": _chain(("Exp", None), ("Sub", 1.0)),
    "SquaredDifference": squared_difference, "NotEqual": not_equal, "RealDiv": real_div,
    "FloorDiv": floor_div, "FloorMod": floor_mod, "Cast": cast, "BiasAdd": bias_add, "BiasAddV1": bias_add,
    "AddN": add_n, "Select": select, "SelectV2": select, "ClipByValue": clip_by_value,
}


def _np_unary(fn: Callable[[np.ndarray], np.ndarray]) -> Folder:
    def fold(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [np.asarray(fn(a[0])).astype(a[0].dtype)]
    return fold


def _np_binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], keep_dtype: bool = True) -> Folder:
    def fold(node: Any, a: list[np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(a[0], a[1]))
        return [out.astype(a[0].dtype) if keep_dtype else out]
    return fold


def _fold_cast(node: Any, a: list[np.ndarray]) -> Optional[list[np.ndarray]]:
    to = odt.numpy_of(dtype(node, "DstT"))
    return None if to is None else [a[0].astype(to)]


def _fold_bias(node: Any, a: list[np.ndarray]) -> Optional[list[np.ndarray]]:
    if attrs.data_format(node).startswith("NC"):
        return None
    return [(a[0] + a[1]).astype(a[0].dtype)]


def _fold_floor_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(np.floor_divide(x, y))


FOLD: dict[str, Folder] = {
    "Neg": _np_unary(np.negative), "Sqrt": _np_unary(np.sqrt), "Rsqrt": _np_unary(lambda x: 1 / np.sqrt(x)),
    "Reciprocal": _np_unary(lambda x: 1 / x), "Exp": _np_unary(np.exp), "Log": _np_unary(np.log),
    "Square": _np_unary(np.square), "Abs": _np_unary(np.abs),
    "Add": _np_binary(np.add), "AddV2": _np_binary(np.add), "Sub": _np_binary(np.subtract),
    "Mul": _np_binary(np.multiply), "RealDiv": _np_binary(np.divide), "Maximum": _np_binary(np.maximum),
    "Minimum": _np_binary(np.minimum), "FloorDiv": _np_binary(_fold_floor_div),
    "FloorMod": _np_binary(np.mod), "Less": _np_binary(np.less, False), "Greater": _np_binary(np.greater, False),
    "Equal": _np_binary(np.equal, False), "LogicalAnd": _np_binary(np.logical_and, False),
    "Cast": _fold_cast, "BiasAdd": _fold_bias,
}
