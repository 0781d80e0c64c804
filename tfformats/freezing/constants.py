"""Turn variables into Const nodes by editing a GraphDef in place.

Follows what ``convert_variables_to_constants`` does, and fixes the cases it
leaves broken (see FORMATS.md, freezing facts):

* ``VariableV2``, ``VarHandleOp`` and the legacy ``Variable`` become ``Const``.
* Type attrs are updated along data edges through pass-through ops
  (Identity, Enter, Exit, Switch, Merge, NextIteration); their ``Ref*``
  twins become the plain op, since a Const has no reference output.
* ``ReadVariableOp`` becomes ``Identity`` (keeping its control inputs),
  ``ResourceGather`` becomes ``GatherV2`` with an appended ``<name>/axis``
  Const, ``ResourceGatherNd`` becomes ``GatherNd``.
* ``Assign`` / ``AssignAdd`` / ``AssignSub`` reached by a frozen variable
  become ``Identity`` / ``Add`` / ``Sub``; resource assignments become ``NoOp``.
* Functional control flow (If, Case, While, PartitionedCall, ...) passes the
  value instead of the resource: the caller's type attr and the callee's
  argument type change, and the callee body is converted the same way. A
  converted function is renamed ``<name>_frozen`` so it cannot clash with the
  original in a runtime's function cache.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional, Sequence

import numpy as np

from .. import dtypes
from ..errors import GraphError
from ..graphs.names import parse_function_input, parse_input
from ..tensor_proto import from_numpy

PASS_THROUGH = frozenset({"Identity", "Enter", "Exit", "NextIteration", "Switch", "_SwitchN", "Merge"})
REF_PASS_THROUGH = {"RefIdentity": "Identity", "RefEnter": "Enter", "RefExit": "Exit",
                    "RefNextIteration": "NextIteration", "RefSwitch": "Switch", "RefMerge": "Merge"}
REF_ASSIGN = {"Assign": "Identity", "AssignAdd": "Add", "AssignSub": "Sub"}
RESOURCE_ASSIGN = frozenset({"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"})
# op -> (index of the first input passed to the functions, type attr, function attrs)
CALLERS = {
    "If": (1, "Tin", ("then_branch", "else_branch")),
    "StatelessIf": (1, "Tin", ("then_branch", "else_branch")),
    "Case": (1, "Tin", ("branches",)),
    "StatelessCase": (1, "Tin", ("branches",)),
    "PartitionedCall": (0, "Tin", ("f",)),
    "StatefulPartitionedCall": (0, "Tin", ("f",)),
    "While": (0, "T", ("cond", "body")),
    "StatelessWhile": (0, "T", ("cond", "body")),
}
FROZEN_SUFFIX = "_frozen"


class Value:
    """The value a variable is frozen to: dtype enum and (known) shape."""

    def __init__(self, dtype: int, shape: Sequence[int]) -> None:
        self.dtype = dtype
        self.shape = tuple(shape)


class _Scope:
    """Either the top-level graph (``fn`` None) or one function body."""

    def __init__(self, nodes: Any, fn: Any = None) -> None:
        self.fn = fn
        self.nodes = nodes
        self.by_name = {n.name: n for n in nodes}
        # producer name -> [(consumer node, input position, output label)]
        self.consumers: dict[str, list[tuple[Any, int, Any]]] = defaultdict(list)
        for node in nodes:
            for pos, text in enumerate(node.input):
                if text.startswith("^"):
                    continue
                if fn is None:
                    ref = parse_input(text)
                    self.consumers[ref.node].append((node, pos, ref.index))
                else:
                    fref = parse_function_input(text)
                    label = fref.index if fref.arg is None else (fref.arg, fref.index)
                    self.consumers[fref.node].append((node, pos, label))

    def ref(self, name: str, index: int = 0) -> str:
        if self.fn is None:
            return name if index == 0 else f"{name}:{index}"
        return f"{name}:output:{index}"


def _type_attr(node: Any, attr: str, dtype: int, index: int = 0) -> None:
    value = node.attr[attr]
    if value.HasField("list"):
        if index < len(value.list.type):
            value.list.type[index] = dtype
            return
        raise GraphError(f"node {node.name!r}: attr {attr} has {len(value.list.type)} types, no index {index}")
    value.type = dtype


def _control_inputs(node: Any) -> list[str]:
    return [i for i in node.input if i.startswith("^")]


class Converter:
    """Freeze variables of one GraphDef (mutated in place)."""

    def __init__(self, graph_def: Any) -> None:
        self.graph = graph_def
        self.top = _Scope(graph_def.node)
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self._fn_scopes: dict[str, _Scope] = {}
        self.renamed: dict[str, str] = {}
        self._visited: set[tuple[int, str, int]] = set()
        self._appended: list[Any] = []

    # -- variables ------------------------------------------------------------------

    def freeze_variable(self, name: str, value: np.ndarray) -> None:
        node = self.top.by_name.get(name)
        if node is None:
            raise GraphError(f"variable {name!r} is not in the graph")
        dtype = dtypes.base_enum(node.attr["dtype"].type)
        row = dtypes.lookup(dtype, tensor=name)
        if row.numpy is not None and value.dtype != row.numpy and not (row.is_string and value.dtype == object):
            raise GraphError(f"variable {name!r} has dtype {row.tf_name} but its checkpoint value is "
                             f"{value.dtype}")
        declared = node.attr["shape"].shape if "shape" in node.attr else None
        if declared is not None and not declared.unknown_rank and all(d.size >= 0 for d in declared.dim):
            if tuple(d.size for d in declared.dim) != tuple(value.shape):
                raise GraphError(f"variable {name!r} has shape {[d.size for d in declared.dim]} but its "
                                 f"checkpoint value has shape {list(value.shape)}")
        node.ClearField("input")
        node.ClearField("device")
        node.ClearField("attr")
        node.op = "Const"
        node.attr["dtype"].type = dtype
        from_numpy(value, row, out=node.attr["value"].tensor)
        self._propagate(self.top, name, None, Value(dtype, value.shape))

    def finish(self) -> None:
        """Append new nodes and point callers at renamed functions."""
        self.graph.node.extend(self._appended)
        self._appended = []
        if not self.renamed:
            return
        for node in self.graph.node:
            self._rename_calls(node)
        for fn in self.graph.library.function:
            for node in fn.node_def:
                self._rename_calls(node)

    def _rename_calls(self, node: Any) -> None:
        for value in node.attr.values():
            if value.HasField("func") and value.func.name in self.renamed:
                value.func.name = self.renamed[value.func.name]
            elif value.HasField("list"):
                for f in value.list.func:
                    if f.name in self.renamed:
                        f.name = self.renamed[f.name]

    # -- propagation ----------------------------------------------------------------

    def _propagate(self, scope: _Scope, producer: str, label_filter: Optional[Any], value: Value) -> None:
        for consumer, pos, label in list(scope.consumers.get(producer, ())):
            if label_filter is not None and not label_filter(label):
                continue
            key = (id(scope), consumer.name, pos)
            if key in self._visited:
                continue
            self._visited.add(key)
            self._convert_consumer(scope, consumer, pos, value)

    def _convert_consumer(self, scope: _Scope, node: Any, pos: int, value: Value) -> None:
        op = node.op
        if op in REF_PASS_THROUGH:
            node.op = op = REF_PASS_THROUGH[op]
        if op in PASS_THROUGH:
            if op == "Merge":
                _type_attr(node, "T", value.dtype)
                label_filter = (lambda lb: lb in (0, ("output", 0)))
            else:
                _type_attr(node, "T", value.dtype, pos if op == "_SwitchN" else 0)
                label_filter = None
            if "_output_shapes" in node.attr:
                del node.attr["_output_shapes"]
            self._propagate(scope, node.name, label_filter, value)
        elif op == "ReadVariableOp":
            self._read_to_identity(scope, node)
        elif op == "ResourceGather" and pos == 0:
            self._gather(scope, node)
        elif op == "ResourceGatherNd" and pos == 0:
            self._gather_nd(node)
        elif op in REF_ASSIGN and pos == 0:
            self._ref_assign(scope, node, value)
        elif op in RESOURCE_ASSIGN and pos == 0:
            deps = [i if i.startswith("^") else "^" + (parse_input(i).node if scope.fn is None
                                                          else parse_function_input(i).node)
                    for i in node.input]
            node.ClearField("input")
            node.input.extend(dict.fromkeys(deps))
            node.ClearField("attr")
            node.op = "NoOp"
        elif op in CALLERS:
            self._caller(node, pos, value)

    def _read_to_identity(self, scope: _Scope, node: Any) -> None:
        dtype = node.attr["dtype"].type
        klass = node.attr["_class"] if "_class" in node.attr else None
        inputs = [node.input[0]] + _control_inputs(node)
        node.ClearField("input")
        node.input.extend(inputs)
        keep_class = klass.SerializeToString() if klass is not None else None
        node.ClearField("attr")
        node.op = "Identity"
        node.attr["T"].type = dtype
        if keep_class is not None:
            node.attr["_class"].ParseFromString(keep_class)
        if scope.fn is not None:
            # ReadVariableOp's output arg is "value", Identity's is "output".
            for consumer, pos, label in scope.consumers.get(node.name, ()):
                if isinstance(label, tuple) and label[0] == "value":
                    consumer.input[pos] = f"{node.name}:output:{label[1]}"
            self._relabel(scope, node.name, "value", "output")
            for key, ref in list(scope.fn.ret.items()):
                fref = parse_function_input(ref)
                if fref.node == node.name and fref.arg == "value":
                    scope.fn.ret[key] = f"{node.name}:output:{fref.index}"

    @staticmethod
    def _relabel(scope: _Scope, producer: str, old: str, new: str) -> None:
        entries = scope.consumers.get(producer, [])
        for i, (consumer, pos, label) in enumerate(entries):
            if isinstance(label, tuple) and label[0] == old:
                entries[i] = (consumer, pos, (new, label[1]))

    def _gather(self, scope: _Scope, node: Any) -> None:
        if "batch_dims" in node.attr and node.attr["batch_dims"].i != 0:
            raise GraphError(f"node {node.name!r}: ResourceGather with batch_dims="
                             f"{node.attr['batch_dims'].i} cannot be frozen")
        tindices = node.attr["Tindices"].type
        axis_name = node.name + "/axis"
        if axis_name not in scope.by_name:
            axis = type(node)()
            axis.name = axis_name
            axis.op = "Const"
            axis.attr["dtype"].type = tindices
            axis.attr["value"].tensor.CopyFrom(from_numpy(np.array(0, dtypes.numpy_dtype(tindices)),
                                                          dtypes.lookup(tindices)))
            if scope.fn is None:
                self._appended.append(axis)
            else:
                scope.fn.node_def.append(axis)
            scope.by_name[axis_name] = axis
        klass = node.attr["_class"].SerializeToString() if "_class" in node.attr else None
        dtype = node.attr["dtype"].type
        inputs = [node.input[0], node.input[1], scope.ref(axis_name)] + _control_inputs(node)
        node.ClearField("input")
        node.input.extend(inputs)
        node.ClearField("attr")
        node.op = "GatherV2"
        node.attr["Tparams"].type = dtype
        node.attr["Tindices"].type = tindices
        node.attr["Taxis"].type = tindices
        node.attr["batch_dims"].i = 0
        if klass is not None:
            node.attr["_class"].ParseFromString(klass)

    @staticmethod
    def _gather_nd(node: Any) -> None:
        klass = node.attr["_class"].SerializeToString() if "_class" in node.attr else None
        dtype, tindices = node.attr["dtype"].type, node.attr["Tindices"].type
        node.ClearField("attr")
        node.op = "GatherNd"
        node.attr["Tparams"].type = dtype
        node.attr["Tindices"].type = tindices
        if klass is not None:
            node.attr["_class"].ParseFromString(klass)

    def _ref_assign(self, scope: _Scope, node: Any, value: Value) -> None:
        new_op = REF_ASSIGN[node.op]
        klass = node.attr["_class"].SerializeToString() if "_class" in node.attr else None
        node.ClearField("attr")
        if new_op == "Identity":
            # Assign returns the new value: forward the assigned tensor, keep the old one as a dependency.
            first = node.input[0]
            dep = "^" + (parse_input(first).node if scope.fn is None else parse_function_input(first).node)
            rest = list(node.input[1:])
            node.ClearField("input")
            node.input.extend([rest[0]] + [i for i in rest[1:]] + [dep])
        node.op = new_op
        node.attr["T"].type = value.dtype
        if klass is not None:
            node.attr["_class"].ParseFromString(klass)
        self._propagate(scope, node.name, None, value)

    # -- functions --------------------------------------------------------------------

    def _caller(self, node: Any, pos: int, value: Value) -> None:
        first, type_attr, fn_attrs = CALLERS[node.op]
        if pos < first:
            return
        index = pos - first
        _type_attr(node, type_attr, value.dtype, index)
        for attr_name in fn_attrs:
            if attr_name not in node.attr:
                continue
            attr = node.attr[attr_name]
            funcs = [attr.func] if attr.HasField("func") else list(attr.list.func)
            for f in funcs:
                f.name = self._convert_function_arg(f.name, index, value)
        if node.op in ("While", "StatelessWhile"):
            # A While's outputs are its loop variables, so their recorded shapes change too.
            for attr_name in ("output_shapes", "_output_shapes"):
                shapes = node.attr[attr_name].list.shape if attr_name in node.attr else []
                if index < len(shapes):
                    shapes[index].Clear()
                    for d in value.shape:
                        shapes[index].dim.add().size = d
            body = self.functions.get(node.attr["body"].func.name)
            if body is not None and index < len(body.signature.output_arg):
                body.signature.output_arg[index].type = value.dtype

    def _function_scope(self, name: str) -> _Scope:
        if name not in self._fn_scopes:
            fn = self.functions[name]
            self._fn_scopes[name] = _Scope(fn.node_def, fn)
        return self._fn_scopes[name]

    def _convert_function_arg(self, name: str, index: int, value: Value) -> str:
        name = self.renamed.get(name, name)
        fn = self.functions.get(name)
        if fn is None:
            raise GraphError(f"function {name!r} is called but not in the graph's library")
        if name not in self.renamed.values():
            new_name = name + FROZEN_SUFFIX
            while new_name in self.functions:
                new_name += "_"
            fn.signature.name = new_name
            self.functions[new_name] = self.functions.pop(name)
            if name in self._fn_scopes:
                self._fn_scopes[new_name] = self._fn_scopes.pop(name)
            self.renamed[name] = new_name
            name = new_name
        args = fn.signature.input_arg
        if index >= len(args):
            raise GraphError(f"function {name!r} has {len(args)} arguments; a caller passes more")
        if args[index].type == value.dtype:
            return name
        args[index].type = value.dtype
        if "_input_shapes" in fn.attr:
            shapes = fn.attr["_input_shapes"].list.shape
            if index < len(shapes):
                shapes[index].Clear()
                shapes[index].unknown_rank = True
        if index in fn.arg_attr and "_output_shapes" in fn.arg_attr[index].attr:
            for shape in fn.arg_attr[index].attr["_output_shapes"].list.shape:
                shape.Clear()
                shape.unknown_rank = True
        scope = self._function_scope(name)
        self._propagate(scope, args[index].name, lambda lb: not isinstance(lb, tuple), value)
        return name


__all__ = ["CALLERS", "Converter", "PASS_THROUGH", "REF_ASSIGN", "REF_PASS_THROUGH", "Value"]
