"""Parse the tensor and input names used in GraphDefs and function bodies.

Graph inputs are ``node`` (output 0), ``node:N`` or ``^node`` (a control
dependency). Inside a ``FunctionDef`` body a data input is either a function
argument name or ``node:out_arg:index`` (an index into one named output arg),
and ``^node`` is again a control input.
"""

from __future__ import annotations

from typing import NamedTuple


class TensorRef(NamedTuple):
    """One parsed graph input: node name, output index, and whether it is a control edge."""

    node: str
    index: int  # type: ignore[assignment]  # field name shadows tuple.index on purpose
    control: bool

    def __str__(self) -> str:
        return format_input(self.node, self.index, control=self.control)


class FunctionRef(NamedTuple):
    """One parsed function-body input: ``node:arg:index``, an argument name, or ``^node``."""

    node: str  # node name, or the function argument name when ``arg`` is None
    arg: str | None  # output arg name of ``node``; None for a function argument
    index: int  # type: ignore[assignment]  # field name shadows tuple.index on purpose
    control: bool


def parse_input(text: str) -> TensorRef:
    """Split a graph input such as ``^a``, ``a``, ``a:2``."""
    if text.startswith("^"):
        return TensorRef(text[1:], -1, True)
    node, sep, index = text.rpartition(":")
    if sep and index.isdigit():
        return TensorRef(node, int(index), False)
    return TensorRef(text, 0, False)


def node_name(text: str) -> str:
    """Node part of an input or tensor name: ``^a`` -> ``a``, ``a:1`` -> ``a``."""
    if text.startswith("^"):
        text = text[1:]
    node, sep, index = text.rpartition(":")
    return node if sep and index.isdigit() else text


def format_input(node: str, index: int = 0, *, control: bool = False) -> str:
    """Inverse of :func:`parse_input` in TensorFlow's canonical form (``a`` for output 0)."""
    if control:
        return "^" + node
    return node if index == 0 else f"{node}:{index}"


def tensor_name(text: str) -> str:
    """Full tensor name with its output index: ``a`` -> ``a:0``, ``a:1`` stays."""
    ref = parse_input(text)
    if ref.control:
        raise ValueError(f"{text!r} is a control input, not a tensor")
    return f"{ref.node}:{ref.index}"


def is_control(text: str) -> bool:
    return text.startswith("^")


def parse_function_input(text: str) -> FunctionRef:
    """Split an input inside a FunctionDef body (``x``, ``MatMul:product:0``, ``^n``)."""
    if text.startswith("^"):
        return FunctionRef(text[1:], None, -1, True)
    parts = text.split(":")
    if len(parts) == 1:
        return FunctionRef(text, None, 0, False)
    if len(parts) == 2:
        # "node:arg" means index 0 of that output arg.
        return FunctionRef(parts[0], parts[1], 0, False)
    if len(parts) == 3 and parts[2].isdigit():
        return FunctionRef(parts[0], parts[1], int(parts[2]), False)
    raise ValueError(f"cannot parse function input {text!r}")


def format_function_input(ref: FunctionRef) -> str:
    if ref.control:
        return "^" + ref.node
    if ref.arg is None:
        return ref.node
    return f"{ref.node}:{ref.arg}:{ref.index}"


__all__ = ["FunctionRef", "TensorRef", "format_function_input", "format_input", "is_control", "node_name",
           "parse_function_input", "parse_input", "tensor_name"]
