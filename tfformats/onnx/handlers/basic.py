"""Constants, placeholders and the ops that pass a tensor through unchanged."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import attrs
from ..context import Context
from ..values import Value
from .common import Folder, Handler


def const(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    value = attrs.get_tensor(node, "value")
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
