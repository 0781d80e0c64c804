"""Read NodeDef attributes as plain Python values."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..tensor_proto import to_numpy


def has(node: Any, name: str) -> bool:
    return name in node.attr


def get_int(node: Any, name: str, default: int = 0) -> int:
    return int(node.attr[name].i) if name in node.attr else default


def get_float(node: Any, name: str, default: float = 0.0) -> float:
    return float(node.attr[name].f) if name in node.attr else default


def get_bool(node: Any, name: str, default: bool = False) -> bool:
    return bool(node.attr[name].b) if name in node.attr else default


def get_str(node: Any, name: str, default: str = "") -> str:
    return node.attr[name].s.decode("utf-8", "replace") if name in node.attr else default


def get_type(node: Any, name: str, default: int = 0) -> int:
    return int(node.attr[name].type) if name in node.attr else default


def get_ints(node: Any, name: str, default: Optional[list[int]] = None) -> list[int]:
    if name not in node.attr:
        return list(default or [])
    return [int(v) for v in node.attr[name].list.i]


def get_types(node: Any, name: str) -> list[int]:
    return [int(t) for t in node.attr[name].list.type] if name in node.attr else []


def get_shape(node: Any, name: str) -> Optional[list[int]]:
    """A shape attr as a list (-1 for unknown dims), None for unknown rank or no attr."""
    if name not in node.attr:
        return None
    shape = node.attr[name].shape
    if shape.unknown_rank:
        return None
    return [int(d.size) for d in shape.dim]


def get_tensor(node: Any, name: str) -> np.ndarray:
    return to_numpy(node.attr[name].tensor)


def get_func(node: Any, name: str) -> str:
    return str(node.attr[name].func.name)


def data_format(node: Any) -> str:
    return get_str(node, "data_format", "NHWC")
