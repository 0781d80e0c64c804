"""Make a graph with variables runnable without TensorFlow: each variable becomes a fed Placeholder.

This is how ``freeze --check`` runs "the original" graph, on purpose by a route
apart from the freezer's: the variable ops become ``Placeholder`` nodes fed at run
time with checkpoint values (not ``Const`` nodes), and what read them is
rewritten where a plain tensor now arrives instead of a resource or a ref:

* ``ReadVariableOp`` becomes ``Identity``, ``ResourceGather`` a ``GatherV2``;
* ops that pass a resource or ref on (``Identity``, ``Switch``, ``Enter``, ...) get the
  variable's dtype, their ``Ref*`` forms the plain ones; ``AssignAdd``/``AssignSub``
  become ``Add``/``Sub`` (what the one run computes);
* a functional ``If``/``While`` or a call that receives a variable gets a copy of its
  branch/body function whose argument is the plain tensor, rewritten the same way.

TF2 signature calls (``StatefulPartitionedCall``) are inlined first.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ..errors import GraphError
from ..graphs.names import parse_function_input, parse_input

VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
# Ops passing a resource or ref on unchanged: output arg names by output index.
_PASS_THROUGH: dict[str, tuple[str, ...]] = {
    "Identity": ("output",), "Enter": ("output",), "Exit": ("output",), "NextIteration": ("output",),
    "Merge": ("output",), "Switch": ("output_false", "output_true"),
}
_REF_TO_PLAIN = {"RefIdentity": "Identity", "RefEnter": "Enter", "RefSwitch": "Switch", "RefMerge": "Merge",
                 "RefExit": "Exit", "RefNextIteration": "NextIteration"}
_ASSIGN_MATH = {"AssignAdd": "Add", "AssignSub": "Sub"}
# Call-like ops: (function attrs, data inputs before the function arguments, type-list attr, loop).
_CALLS: dict[str, tuple[tuple[str, ...], int, str, bool]] = {
    "If": (("then_branch", "else_branch"), 1, "Tin", False),
    "StatelessIf": (("then_branch", "else_branch"), 1, "Tin", False),
    "While": (("cond", "body"), 0, "T", True), "StatelessWhile": (("cond", "body"), 0, "T", True),
    "PartitionedCall": (("f",), 0, "Tin", False), "StatefulPartitionedCall": (("f",), 0, "Tin", False),
}
LEFT_OVER = frozenset({"ReadVariableOp", "AssignVariableOp", "Assign", "ResourceGather", "AssignAddVariableOp",
                       "AssignSubVariableOp"})


class _Names:
    """How tensors are named in one body: the top-level graph (``node:N``) or a function (``node:arg:i``)."""

    def __init__(self, in_function: bool) -> None:
        self.in_function = in_function

    def key(self, text: str) -> Optional[str]:
        if text.startswith("^"):
            return None
        if not self.in_function:
            ref = parse_input(text)
            return f"{ref.node}:{ref.index}"
        fref = parse_function_input(text)
        return fref.node if fref.arg is None else f"{fref.node}:{fref.arg}:{fref.index}"

    def out(self, node: str, arg: str, index: int, flat: int) -> str:
        return f"{node}:{arg}:{index}" if self.in_function else f"{node}:{flat}"


def _placeholder(node: Any, value: np.ndarray) -> None:
    from ..dtypes import from_numpy

    name = node.name
    node.Clear()
    node.name, node.op = name, "Placeholder"
    node.attr["dtype"].type = from_numpy(value.dtype).enum
    node.attr["shape"].shape.SetInParent()  # a scalar too has a known shape (rank 0)
    for size in value.shape:
        node.attr["shape"].shape.dim.add(size=int(size))


def _retype(node: Any, op: str, dtype: int, attr: str = "T") -> None:
    """Turn ``node`` into ``op`` with the same inputs and only ``attr`` = ``dtype``."""
    inputs, name = list(node.input), node.name
    node.Clear()
    node.name, node.op = name, op
    node.input.extend(inputs)
    node.attr[attr].type = dtype


class _Rewriter:
    """Rewrites one graph and the copies of its functions that receive variables."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.functions = {f.signature.name: f for f in graph.library.function}
        self.made: dict[tuple[str, tuple[tuple[int, int], ...], bool], str] = {}

    def body(self, nodes: Any, carried: dict[str, int], names: _Names,
             add_node: Callable[[], Any]) -> dict[str, str]:
        """Rewrite ``nodes`` until nothing changes; returns renamed tensor references (function bodies)."""
        renamed: dict[str, str] = {}
        changed, rounds = True, 0
        while changed and rounds <= len(nodes) + 1:
            changed, rounds = False, rounds + 1
            for node in list(nodes):
                keys = [names.key(i) for i in node.input]
                data = [k for k in keys if k is not None]
                dtypes = [carried.get(k) for k in data]
                first = dtypes[0] if dtypes else None
                if node.op == "ReadVariableOp" and first is not None:
                    _retype(node, "Identity", first)
                    if names.in_function:
                        renamed[f"{node.name}:value:0"] = f"{node.name}:output:0"
                    changed = True
                elif node.op == "ResourceGather" and first is not None:
                    self._gather(node, first, names, add_node)
                    changed = True
                elif node.op in _ASSIGN_MATH and first is not None:
                    _retype(node, _ASSIGN_MATH[node.op], first)
                    changed = True
                elif _REF_TO_PLAIN.get(node.op, node.op) in _PASS_THROUGH and any(d is not None for d in dtypes):
                    dtype = next(d for d in dtypes if d is not None)
                    node.op = _REF_TO_PLAIN.get(node.op, node.op)
                    node.attr["T"].type = dtype
                    node.attr.pop("_output_shapes", None)
                    for flat, arg in enumerate(_PASS_THROUGH[node.op]):
                        key = names.out(node.name, arg, 0, flat)
                        if carried.get(key) != dtype:
                            carried[key] = dtype
                            changed = True
                elif node.op in _CALLS:
                    changed |= self._call(node, data, dtypes, carried, names)
            if renamed:
                for node in nodes:
                    fixed = [renamed.get(i, i) for i in node.input]
                    if fixed != list(node.input):
                        del node.input[:]
                        node.input.extend(fixed)
        return renamed

    def _gather(self, node: Any, dtype: int, names: _Names, add_node: Callable[[], Any]) -> None:
        batch_dims = int(node.attr["batch_dims"].i) if "batch_dims" in node.attr else 0
        indices_type = node.attr["Tindices"].type
        params, indices = node.input[0], node.input[1]
        controls = [i for i in node.input if i.startswith("^")]
        axis = add_node()
        axis.name, axis.op = f"{node.name}/check_axis", "Const"
        axis.attr["dtype"].type = indices_type
        axis.attr["value"].tensor.dtype = indices_type
        axis.attr["value"].tensor.int_val.append(batch_dims)
        name = node.name
        node.Clear()
        node.name, node.op = name, "GatherV2"
        node.input.extend([params, indices, f"{axis.name}:output:0" if names.in_function else axis.name, *controls])
        node.attr["Tparams"].type = dtype
        node.attr["Tindices"].type = indices_type
        node.attr["Taxis"].type = indices_type
        node.attr["batch_dims"].i = batch_dims

    def _call(self, node: Any, data: list[str], dtypes: list[Optional[int]], carried: dict[str, int],
              names: _Names) -> bool:
        attrs, skip, type_list, loop = _CALLS[node.op]
        positions = {i - skip: d for i, d in enumerate(dtypes) if d is not None and i >= skip}
        if not positions:
            return False
        changed = False
        for attr in attrs:
            name = node.attr[attr].func.name
            if name not in self.functions:
                raise GraphError(f"node {node.name!r} calls {name!r}, which the graph's library does not define")
            new = self.function(name, positions, loop and attr == "body")
            if new != name:
                node.attr[attr].func.name = new
                changed = True
        for pos, dtype in positions.items():
            if pos < len(node.attr[type_list].list.type) and node.attr[type_list].list.type[pos] != dtype:
                node.attr[type_list].list.type[pos] = dtype
                changed = True
            if loop:
                key = names.out(node.name, "output", pos, pos)
                changed |= carried.get(key) != dtype
                carried[key] = dtype
                for shapes_attr in ("output_shapes", "_output_shapes"):  # a resource is a scalar; the value is not
                    shapes = node.attr[shapes_attr].list.shape if shapes_attr in node.attr else []
                    if pos < len(shapes) and not shapes[pos].unknown_rank:
                        shapes[pos].Clear()
                        shapes[pos].unknown_rank = True
                        changed = True
        return changed

    def function(self, name: str, positions: Mapping[int, int], loop_body: bool) -> str:
        """A copy of function ``name`` whose arguments at ``positions`` are plain tensors of those dtypes."""
        key = (name, tuple(sorted(positions.items())), loop_body)
        if key in self.made:
            return self.made[key]
        if name in self.made.values():
            return name  # already a rewritten copy
        source = self.functions[name]
        copy = type(source)()
        copy.CopyFrom(source)
        new = f"{name}_check_{len(self.made)}"
        copy.signature.name = new
        self.made[key] = new
        carried: dict[str, int] = {}
        for pos, dtype in positions.items():
            if pos >= len(copy.signature.input_arg):
                continue
            arg = copy.signature.input_arg[pos]
            arg.type = dtype
            carried[arg.name] = dtype
            if pos in copy.arg_attr:  # shapes recorded for the resource handle, not for the value
                for attr in ("_output_shapes", "_handle_shapes", "_handle_dtypes"):
                    copy.arg_attr[pos].attr.pop(attr, None)
            if loop_body and pos < len(copy.signature.output_arg):
                copy.signature.output_arg[pos].type = dtype
        renamed = self.body(copy.node_def, carried, _Names(True), copy.node_def.add)
        for out, ref in list(copy.ret.items()):
            if ref in renamed:
                copy.ret[out] = renamed[ref]
        self.graph.library.function.add().CopyFrom(copy)
        self.functions[new] = copy
        return new


def _fetch_nodes(graph_def: Any, outputs: Sequence[str], dtypes: Sequence[int]) -> tuple[Any, list[str]]:
    """A copy of ``graph_def`` with one Identity per output, so inlining cannot rename what is fetched."""
    graph = type(graph_def)()
    graph.CopyFrom(graph_def)
    taken = {n.name for n in graph.node}
    names = []
    for i, (tensor, dtype) in enumerate(zip(outputs, dtypes)):
        name = f"check_output_{i}"
        while name in taken:
            name += "_"
        taken.add(name)
        node = graph.node.add(name=name, op="Identity", input=[tensor])
        node.attr["T"].type = dtype
        names.append(name)
    return graph, names


def runnable_original(graph_def: Any, values: Mapping[str, np.ndarray], outputs: Sequence[str], *,
                      op_defs: Optional[Mapping[str, Any]] = None) -> tuple[Any, list[str]]:
    """A copy of ``graph_def`` that runs without variables, and the tensors to fetch for ``outputs``.

    Each variable node in ``values`` becomes a Placeholder of the value's dtype and shape.
    """
    from ..dtypes import from_numpy
    from ..graphs.inline import CALL_OPS, inline_calls
    from ..graphs.prune import extract_sub_graph
    from ..graphs.registry import OpResolver
    from .tensors import GraphIndex

    lookup = GraphIndex(graph_def)
    graph, fetch = _fetch_nodes(graph_def, outputs, [lookup.spec(o).dtype for o in outputs])
    graph = extract_sub_graph(graph, fetch)
    if any(n.op in CALL_OPS for n in graph.node):
        graph = extract_sub_graph(inline_calls(graph, op_defs if op_defs is not None else OpResolver()), fetch)
    carried: dict[str, int] = {}
    for node in graph.node:
        if node.op in VARIABLE_OPS:
            if node.name not in values:
                raise GraphError(f"variable {node.name!r} is needed by the outputs but has no checkpoint value")
            _placeholder(node, values[node.name])
            carried[f"{node.name}:0"] = from_numpy(values[node.name].dtype).enum
    rewriter = _Rewriter(graph)
    rewriter.body(graph.node, carried, _Names(False), graph.node.add)
    left = sorted({n.op for n in graph.node if n.op in LEFT_OVER}
                  | {n.op for f in graph.library.function if f.signature.name in rewriter.made.values()
                     for n in f.node_def if n.op in LEFT_OVER})
    if left:
        raise GraphError(f"the original graph still uses variables through {', '.join(left)} after "
                         "feeding them as inputs; the check cannot run it")
    return graph, [f"{n}:0" for n in fetch]


__all__ = ["VARIABLE_OPS", "runnable_original"]
