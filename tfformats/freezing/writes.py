"""Refuse graphs whose outputs depend on a variable write that freezing cannot reproduce.

A frozen graph has no state: every variable is a Const holding its checkpoint
value. A write in the fetched subgraph is harmless only when nothing reads the
variable after it, and then only for writes the converter rewrites exactly
(``Assign``/``AssignAdd``/``AssignSub`` -> ``Identity``/``Add``/``Sub`` whose
result carries the new value; resource assignments -> ``NoOp``). Anything else,
such as ``v + x`` computed after ``Assign(v, v + 1)`` or an optimizer's
``ApplyAdam``, would silently compute with the old value, so it is refused
with a :class:`GraphError` naming the write and the variable.

"Reads after the write" follows TensorFlow's execution rules:

* a ref variable's ``Identity`` / ``Switch`` / ``Enter`` ... outputs share the
  variable's buffer, so the value is taken when a real consumer runs;
* a node runs after the write when any of its inputs (data or control) does;
* a ``Merge`` runs as soon as one input arrives, so a value that reaches it
  through a cond branch not taken after the write is not "after" it (this is
  what lets an ``AssignAdd`` in one ``tf.cond`` branch and a read in the other
  freeze exactly).

Inside functions (functional ``If``/``While`` and calls that receive a variable
handle), :class:`UseChecker` allows only reads and pass-throughs; any write
there is refused the same way.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Iterable, Mapping

from ..errors import GraphError
from ..graphs.names import node_name, parse_function_input, parse_input
from .constants import CALLERS

# Data edges through which a ref variable's buffer, or a resource handle, flows unchanged.
ALIAS_OPS = frozenset({"Identity", "RefIdentity", "Switch", "RefSwitch", "Enter", "RefEnter", "Exit", "RefExit",
                       "NextIteration", "RefNextIteration", "Merge", "RefMerge", "_SwitchN"})
MERGE_OPS = frozenset({"Merge", "RefMerge"})
# Writes the converter turns into an exact equivalent when nothing reads the variable afterwards.
EXACT_WRITES = frozenset({"Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp",
                          "AssignSubVariableOp"})
WRITE_OPS = EXACT_WRITES | frozenset({
    "CountUpTo", "ResourceCountUpTo", "StridedSliceAssign", "ResourceStridedSliceAssign",
    "ScatterUpdate", "ScatterAdd", "ScatterSub", "ScatterMul", "ScatterDiv", "ScatterMin", "ScatterMax",
    "ScatterNdUpdate", "ScatterNdAdd", "ScatterNdSub", "ScatterNdMax", "ScatterNdMin",
})
WRITE_PREFIXES = ("Apply", "SparseApply", "ResourceApply", "ResourceSparseApply", "ResourceScatter")


# Ops that read a resource variable without changing it and that freezing rewrites.
READ_OPS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd"})


def is_write(op: str) -> bool:
    """True for ops that change the variable passed as their first input."""
    return op in WRITE_OPS or op.startswith(WRITE_PREFIXES)


class _Flow:
    """Consumers and "runs after" sets of one top-level graph."""

    def __init__(self, nodes: Iterable[Any]) -> None:
        self.by_name = {n.name: n for n in nodes}
        self.consumers: dict[str, list[tuple[Any, int]]] = defaultdict(list)
        self.all_consumers: dict[str, list[Any]] = defaultdict(list)
        for node in self.by_name.values():
            for pos, text in enumerate(node.input):
                ref = parse_input(text)
                self.all_consumers[ref.node].append(node)
                if not ref.control:
                    self.consumers[ref.node].append((node, pos))

    def after(self, write: str) -> set[str]:
        """Names of the nodes that run after ``write`` (its descendants through any edge)."""
        seen = {write}
        todo = deque([write])
        while todo:
            for consumer in self.all_consumers.get(todo.popleft(), ()):
                if consumer.name not in seen:
                    seen.add(consumer.name)
                    todo.append(consumer.name)
        return seen


def _aliases(flow: _Flow, variable: str) -> tuple[set[str], list[tuple[Any, int]]]:
    """Nodes whose output is the variable (or its buffer), and every other consumer edge of them."""
    alias = {variable}
    edges: list[tuple[Any, int]] = []
    todo = deque([variable])
    while todo:
        for node, pos in flow.consumers.get(todo.popleft(), ()):
            if node.op in ALIAS_OPS and not (node.op.endswith("Switch") and pos == 1):
                if node.name not in alias:
                    alias.add(node.name)
                    todo.append(node.name)
            else:
                edges.append((node, pos))
    return alias, edges


def _late_alias(flow: _Flow, alias: set[str], after: set[str]) -> set[str]:
    """Alias nodes whose output can be the variable's buffer taken after the write.

    A pass-through is late when its aliased input is late, or when another of its inputs
    runs after the write; a Merge only when an aliased input is late.
    """
    late: set[str] = set()
    changed = True
    while changed:  # a fixed point: loops feed Merges back through NextIteration
        changed = False
        for name in alias:
            if name in late or name not in flow.by_name:
                continue
            node = flow.by_name[name]
            if _input_late(node, alias, late, after, merge=node.op in MERGE_OPS):
                late.add(name)
                changed = True
    return late


def _input_late(node: Any, alias: set[str], late: set[str], after: set[str], merge: bool = False) -> bool:
    """Whether ``node`` takes an aliased input that is late or waits for the write through another input."""
    refs = [parse_input(text) for text in node.input]
    for i, ref in enumerate(refs):
        if ref.control or ref.node not in alias:
            continue
        if ref.node in late:
            return True
        if not merge and any(j != i and other.node in after for j, other in enumerate(refs)):
            return True
    return False


def _label(variable: str, labels: Mapping[str, str]) -> str:
    return labels.get(variable, repr(variable))


def check_writes(graph_def: Any, variables: Iterable[str], outputs: Iterable[str] = (),
                 labels: Mapping[str, str] | None = None) -> list[str]:
    """Raise GraphError when the graph writes one of ``variables`` in a way freezing would lose.

    Returns the writes found to be exact (nothing reads their variable afterwards), which the
    converter then rewrites.

    Args:
        graph_def: the pruned graph (only what the outputs need), before any conversion.
        variables: names of the variable nodes about to become Const.
        outputs: the fetched node names (a fetched alias of a variable is read at the end).
        labels: how to name a variable in messages (default: its node name).
    """
    labels = labels or {}
    flow = _Flow(graph_def.node)
    fetched = {node_name(o) for o in outputs}
    exact: list[str] = []
    for variable in variables:
        alias, edges = _aliases(flow, variable)
        writes = [node for node, pos in edges if pos == 0 and is_write(node.op)]
        for write in writes:
            if write.op not in EXACT_WRITES:
                raise GraphError(f"node {write.name!r} ({write.op}) changes variable {_label(variable, labels)}; "
                                 "a frozen graph holds constants, so it cannot compute what this write does")
            after = flow.after(write.name)
            late = _late_alias(flow, alias, after)
            for node, _ in edges:
                if node is not write and node.name in after and _input_late(node, alias, late, after):
                    raise _read_after_write(write, node, variable, labels)
            for name in sorted(fetched & late):
                raise _read_after_write(write, flow.by_name[name], variable, labels)
            exact.append(write.name)
    return exact


def _read_after_write(write: Any, reader: Any, variable: str, labels: Mapping[str, str]) -> GraphError:
    return GraphError(f"node {write.name!r} ({write.op}) writes variable {_label(variable, labels)} and node "
                      f"{reader.name!r} ({reader.op}) reads it afterwards; a frozen graph would read the old "
                      "value, so it cannot be frozen (fetch outputs that do not depend on the write)")


class UseChecker:
    """Refuse variables the graph changes: only reads, pass-throughs and function calls may use a handle."""

    def __init__(self, graph_def: Any, labels: Mapping[str, str]) -> None:
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.labels = labels
        self.seen: set[tuple[str, int]] = set()
        self.top = self._consumers(graph_def.node, function=False)
        self._fn_consumers: dict[str, dict[str, list[tuple[Any, int]]]] = {}

    @staticmethod
    def _consumers(nodes: Iterable[Any], function: bool) -> dict[str, list[tuple[Any, int]]]:
        out: dict[str, list[tuple[Any, int]]] = {}
        for node in nodes:
            for pos, text in enumerate(node.input):
                if text.startswith("^"):
                    continue
                if function:
                    ref = parse_function_input(text)
                    key = ref.node if ref.arg is None else f"{ref.node}:{ref.arg}:{ref.index}"
                else:
                    key = str(parse_input(text))
                out.setdefault(key, []).append((node, pos))
        return out

    def check(self, handle: str) -> None:
        """Walk every use of top-level variable ``handle``, into the functions it is passed to."""
        self._walk(self.top, handle, self.labels[handle], where="the graph", function=False)

    def check_call(self, node: Any, pos: int, variable: str) -> None:
        """Walk the uses of ``variable`` inside the functions a top-level caller passes it to."""
        if node.op in CALLERS:
            self._enter_callee(node, pos, self.labels.get(variable, repr(variable)))

    def _walk(self, consumers: Mapping[str, list[tuple[Any, int]]], key: str, label: str, where: str,
              function: bool) -> None:
        for node, pos in consumers.get(key, ()):
            op = node.op
            if op in READ_OPS:
                continue
            if op == "Identity":
                out = f"{node.name}:output:0" if function else node.name
                self._walk(consumers, out, label, where, function)
            elif op in CALLERS:
                self._enter_callee(node, pos, label)
            elif is_write(op):
                raise GraphError(f"variable {label} is assigned by node {node.name!r} ({op}) in {where}; "
                                 "a frozen graph cannot change variables")
            else:
                raise GraphError(f"variable {label} is used by node {node.name!r} ({op}) in {where}; "
                                 "only reads of a variable can be frozen")

    def _enter_callee(self, node: Any, pos: int, label: str) -> None:
        first, _, fn_attrs = CALLERS[node.op]
        if pos < first:
            return
        index = pos - first
        for attr_name in fn_attrs:
            if attr_name not in node.attr:
                continue
            attr = node.attr[attr_name]
            names = [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
            for name in names:
                if (name, index) in self.seen or name not in self.functions:
                    continue
                self.seen.add((name, index))
                fn = self.functions[name]
                if index >= len(fn.signature.input_arg):
                    raise GraphError(f"function {name!r} has {len(fn.signature.input_arg)} arguments; "
                                     f"node {node.name!r} passes more")
                if name not in self._fn_consumers:
                    self._fn_consumers[name] = self._consumers(fn.node_def, function=True)
                self._walk(self._fn_consumers[name], fn.signature.input_arg[index].name, label,
                           where=f"function {name!r}", function=True)


__all__ = ["ALIAS_OPS", "EXACT_WRITES", "UseChecker", "WRITE_OPS", "check_writes", "is_write"]
