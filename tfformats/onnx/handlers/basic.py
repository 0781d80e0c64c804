"""Constants, placeholders and the ops that pass a tensor through unchanged."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..context import Context
from ..values import Value
from .common import Folder, Handler


def _tensor_value(proto: Any) -> np.ndarray:
    """A TensorProto's value; raw ``tensor_content`` is viewed, not copied twice (weights are big)."""
    from ... import dtypes as tfd
    from ...tensor_proto import shape_of, to_numpy

    if proto.tensor_content and proto.dtype in (tfd.FLOAT, tfd.DOUBLE, tfd.INT32, tfd.INT64, tfd.HALF):
        dtype = tfd.numpy_dtype(proto.dtype)
        shape = shape_of(proto.tensor_shape)
        data = proto.tensor_content
        if len(data) == int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            return np.frombuffer(data, dtype).reshape(shape)
    return to_numpy(proto)


def const(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    value = _tensor_value(node.attr["value"].tensor)
    if value.dtype == object:
        raise cx.unsupported(node, "string constants are not converted")
    return [cx.constant(value)]


def identity(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    return [ins[0]]


def identity_n(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    return list(ins)


def placeholder(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    raise cx.unsupported(node, "a Placeholder that is not an input (list it in inputs=)")


def _fold_identity(node: Any, arrays: list[np.ndarray]) -> Optional[list[np.ndarray]]:
    return arrays[:1] if node.op != "IdentityN" else arrays


PASS_THROUGH = ("Identity", "StopGradient", "Snapshot", "PreventGradient", "EnsureShape", "CheckNumerics",
                "PlaceholderWithDefault", "FakeParam")

def no_op(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    return []


TABLE: dict[str, Handler] = {"Const": const, "NoOp": no_op, "Placeholder": placeholder, "IdentityN": identity_n,
                             **{op: identity for op in PASS_THROUGH}}
TABLE["FakeParam"] = placeholder
FOLD: dict[str, Folder] = {op: _fold_identity for op in ("Identity", "StopGradient", "Snapshot",
                                                        "PreventGradient", "EnsureShape", "CheckNumerics",
                                                        "IdentityN")}
