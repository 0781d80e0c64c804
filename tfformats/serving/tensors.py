"""Find graph tensors by name and tell their dtype and (when the graph records it) their shape.

A tensor is named ``node:index``; ``node`` alone means output 0. The dtype of
an output comes from the op's OpDef (the graph's function library for calls,
else TensorFlow's standard registry) and the node's attrs; the shape from the
``shape`` attr of a Placeholder, the value of a Const, the ``_output_shapes``
attr TensorFlow adds when it exports, or, for an Identity, its input's shape.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping, NamedTuple, Optional, Sequence

from ..errors import ArgumentError, GraphError
from ..graphs.names import parse_input

# Shape of a tensor: None = unknown rank; a dim of -1 = unknown size.
Shape = Optional[tuple[int, ...]]

_PASS_SHAPE_OPS = frozenset({"Identity", "StopGradient", "PreventGradient", "Snapshot", "CheckNumerics"})


class TensorSpec(NamedTuple):
    """One graph tensor: its canonical name (``node:index``), DataType enum and shape."""

    name: str
    dtype: int
    shape: Shape


class GraphIndex:
    """Name lookups over one GraphDef: nodes, output dtypes and shapes."""

    def __init__(self, graph_def: Any, source: Optional[str] = None) -> None:
        self.graph_def = graph_def
        self.source = source or "<graph>"
        self.nodes: dict[str, Any] = {n.name: n for n in graph_def.node}
        self.functions: dict[str, Any] = {f.signature.name: f for f in graph_def.library.function}

    def op_def(self, node: Any) -> Any:
        """The OpDef (or a function's signature) describing ``node``'s outputs."""
        if node.op in self.functions:
            return self.functions[node.op].signature
        from ..graphs.registry import op_def

        found = op_def(node.op)
        if found is None:
            raise GraphError(f"{self.source}: node {node.name!r} runs op {node.op!r}, which TensorFlow does not "
                             "register and the graph's library does not define")
        return found

    def _attrs(self, node: Any, op_def: Any) -> dict[str, Any]:
        attrs: dict[str, Any] = {a.name: a.default_value for a in getattr(op_def, "attr", [])
                                 if a.HasField("default_value")}
        attrs.update(node.attr)
        return attrs

    def output_dtypes(self, node: Any) -> list[int]:
        """DataType enum of every output of ``node``, in order."""
        op_def = self.op_def(node)
        attrs = self._attrs(node, op_def)
        out: list[int] = []
        for arg in op_def.output_arg:
            if arg.type_list_attr:
                if arg.type_list_attr not in attrs:
                    raise GraphError(f"{self.source}: node {node.name!r} lacks attr {arg.type_list_attr!r}")
                out.extend(int(t) for t in attrs[arg.type_list_attr].list.type)
                continue
            if arg.type:
                dtype = int(arg.type)
            elif arg.type_attr in attrs:
                dtype = int(attrs[arg.type_attr].type)
            else:
                raise GraphError(f"{self.source}: node {node.name!r} lacks attr {arg.type_attr!r}")
            count = int(attrs[arg.number_attr].i) if arg.number_attr and arg.number_attr in attrs else 1
            out.extend([dtype] * count)
        return out

    def shape(self, node: Any, index: int, depth: int = 0) -> Shape:
        """Recorded shape of output ``index`` of ``node``, or None when the graph does not say."""
        if node.op == "Placeholder" and "shape" in node.attr:
            return _shape_of(node.attr["shape"].shape)
        if node.op in ("Const", "HostConst") and "value" in node.attr:
            return tuple(int(d.size) for d in node.attr["value"].tensor.tensor_shape.dim)
        if "_output_shapes" in node.attr and index < len(node.attr["_output_shapes"].list.shape):
            return _shape_of(node.attr["_output_shapes"].list.shape[index])
        if node.op in _PASS_SHAPE_OPS and node.input and depth < 64:
            ref = parse_input(node.input[0])
            if ref.node in self.nodes and not ref.control:
                return self.shape(self.nodes[ref.node], ref.index, depth + 1)
        return None

    def spec(self, name: str, what: str = "tensor") -> TensorSpec:
        """The tensor ``name`` (``node`` or ``node:N``); ArgumentError with suggestions when it is not there."""
        ref = parse_input(name.strip())
        if ref.control or ref.node not in self.nodes:
            raise ArgumentError(f"{self.source}: no {what} {name!r} in the graph{_did_you_mean(ref.node, self.nodes)}")
        node = self.nodes[ref.node]
        dtypes = self.output_dtypes(node)
        if ref.index >= len(dtypes):
            raise ArgumentError(f"{self.source}: {what} {name!r}: node {ref.node!r} ({node.op}) has "
                                f"{len(dtypes)} output{'s' if len(dtypes) != 1 else ''}")
        return TensorSpec(f"{ref.node}:{ref.index}", dtypes[ref.index], self.shape(node, ref.index))

    def require(self, names: Sequence[str], what: str) -> None:
        """Raise one ArgumentError naming every tensor of ``names`` whose node is not in the graph."""
        missing = [n for n in names if parse_input(n.strip()).node not in self.nodes]
        if missing:
            hints = "; ".join(f"{n!r}{_did_you_mean(parse_input(n).node, self.nodes)}" for n in missing)
            raise ArgumentError(f"{self.source}: no {what} named {hints}")

    def specs(self, names: Sequence[str], what: str) -> list[TensorSpec]:
        """Every tensor of ``names``; one error naming all the unknown ones."""
        self.require(names, what)
        return [self.spec(n, what) for n in names]

    def placeholders(self) -> list[str]:
        """Names (``node:0``) of every Placeholder of the top-level graph, in graph order."""
        return [f"{n.name}:0" for n in self.graph_def.node if n.op in ("Placeholder", "PlaceholderWithDefault")]


def _shape_of(proto: Any) -> Shape:
    if proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in proto.dim)


def _did_you_mean(name: str, candidates: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'a', 'b'?)`` for a misspelt name, or an empty string."""
    return _did_you_mean(name, dict.fromkeys(candidates))


__all__ = ["GraphIndex", "Shape", "TensorSpec", "did_you_mean"]
