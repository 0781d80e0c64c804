"""Inline function calls (``PartitionedCall`` / ``StatefulPartitionedCall``) into a GraphDef.

TF2 graphs keep almost everything in the function library: a signature node
calls a wrapper function, which calls the traced function, which may call
more. Inlining copies each callee's body into the graph under the call
node's name (``call/body_node``), turning function-style tensor names
(``node:out_arg:index``, or an argument name) into graph-style ones
(``node:flat_index``) with the output-arg layout of each op's OpDef.

What stays true after inlining:

* consumers of ``call:i`` read the tensor the callee returns as output ``i``;
* a ``NoOp`` named like the call node waits for every returned tensor and
  every ``control_ret`` node, so ``^call`` keeps its meaning;
* body nodes that take no input from other body nodes get the call's own
  control inputs, so nothing in the body starts before the call could have;
* node names are unique (a numeric suffix is added on a clash).

Functional control flow (``If``, ``While``, ...) is not inlined: those nodes
keep calling their branch and body functions in the library.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ..errors import GraphError, UnsupportedError
from .names import node_name, parse_input
from .opdefs import output_layout

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})

# Recursion deeper than this means a function (indirectly) calls itself.
MAX_DEPTH = 100


class _Layouts:
    """Flat output indices of ``node:out_arg:index`` for ops and library functions."""

    def __init__(self, op_defs: Mapping[str, Any], functions: Mapping[str, Any]) -> None:
        self.op_defs = op_defs
        self.functions = functions

    def flat_index(self, node: Any, arg: str, index: int, where: str) -> int:
        op_def = self.op_defs.get(node.op)
        if op_def is None and node.op in self.functions:
            op_def = self.functions[node.op].signature
        if op_def is None:
            raise GraphError(f"{where}: no OpDef for op {node.op!r} of node {node.name!r}; the meta graph's "
                             "stripped_op_list should list it")
        for name, start, count in output_layout(op_def, node.attr):
            if name == arg:
                if index >= count:
                    raise GraphError(f"{where}: {node.name}:{arg}:{index} is out of range "
                                     f"({node.op} output {arg!r} has {count} tensors)")
                return start + index
        raise GraphError(f"{where}: op {node.op} of node {node.name!r} has no output {arg!r}")


def _tensor(node: str, index: int) -> str:
    return node if index == 0 else f"{node}:{index}"


class _Inliner:
    def __init__(self, graph_def: Any, op_defs: Mapping[str, Any], functions: Mapping[str, Any]) -> None:
        self.graph = graph_def
        self.functions = functions
        self.layouts = _Layouts(op_defs, functions)
        self.taken = {n.name for n in graph_def.node}
        # (call node, output index) -> the tensor that replaces it
        self.alias: dict[tuple[str, int], str] = {}
        self.out: list[Any] = []
        self.inlined = 0

    def is_call(self, node: Any) -> bool:
        return node.op in CALL_OPS and "f" in node.attr and node.attr["f"].func.name in self.functions

    def unique(self, name: str) -> str:
        if name not in self.taken:
            self.taken.add(name)
            return name
        n = 1
        while f"{name}_{n}" in self.taken:
            n += 1
        self.taken.add(f"{name}_{n}")
        return f"{name}_{n}"

    def emit(self, node: Any, depth: int) -> None:
        if self.is_call(node):
            if depth > MAX_DEPTH:
                raise GraphError(f"function calls nest deeper than {MAX_DEPTH} levels at node {node.name!r}; "
                                 "is a function calling itself?")
            self.expand(node, depth)
        else:
            self.out.append(node)

    def expand(self, call: Any, depth: int) -> None:
        fdef = self.functions[call.attr["f"].func.name]
        sig = fdef.signature
        where = f"function {sig.name} (called by node {call.name!r})"
        data_inputs = [i for i in call.input if not i.startswith("^")]
        controls = [i for i in call.input if i.startswith("^")]
        for arg in list(sig.input_arg) + list(sig.output_arg):
            if arg.number_attr or arg.type_list_attr:
                raise UnsupportedError(f"{where}: argument {arg.name!r} is a list; only functions with "
                                       "one tensor per argument can be inlined")
        if len(data_inputs) != len(sig.input_arg):
            raise GraphError(f"{where}: the call passes {len(data_inputs)} inputs, the function takes "
                             f"{len(sig.input_arg)}")
        args = {arg.name: text for arg, text in zip(sig.input_arg, data_inputs)}
        body = {n.name: n for n in fdef.node_def}
        # Claim the call's own name for the control NoOp before naming the body.
        self.taken.discard(call.name)
        done_name = self.unique(call.name)
        renamed = {name: self.unique(f"{call.name}/{name}") for name in body}

        def translate(text: str) -> tuple[str, bool]:
            """Graph-style input for a function-style one, and whether it comes from the body."""
            if text.startswith("^"):
                src = text[1:]
                if src in renamed:
                    return "^" + renamed[src], True
                if src in args:
                    return "^" + node_name(args[src]), False
                raise GraphError(f"{where}: control input {text!r} names no node or argument")
            parts = text.split(":")
            if len(parts) == 1:
                if text not in args:
                    raise GraphError(f"{where}: input {text!r} names no argument")
                return args[text], False
            src = parts[0]
            if src not in body:
                raise GraphError(f"{where}: input {text!r} names no node of the body")
            if len(parts) == 2:
                index = self.layouts.flat_index(body[src], parts[1], 0, where) if not parts[1].isdigit() \
                    else int(parts[1])
            elif len(parts) == 3 and parts[2].isdigit():
                index = self.layouts.flat_index(body[src], parts[1], int(parts[2]), where)
            else:
                raise GraphError(f"{where}: cannot parse input {text!r}")
            return _tensor(renamed[src], index), True

        for inner in fdef.node_def:
            for attr in inner.attr.values():
                if attr.placeholder:
                    raise UnsupportedError(f"{where}: node {inner.name!r} has attr placeholder "
                                           f"{attr.placeholder!r}; polymorphic functions cannot be inlined")
            node = type(inner)()
            node.CopyFrom(inner)
            node.name = renamed[inner.name]
            translated = [translate(text) for text in inner.input]
            node.ClearField("input")
            node.input.extend(text for text, _ in translated)
            if controls and not any(from_body for _, from_body in translated):
                node.input.extend(c for c in controls if c not in node.input)
            if not node.device and call.device:
                node.device = call.device
            self.emit(node, depth + 1)

        waits: list[str] = []
        for index, arg in enumerate(sig.output_arg):
            if arg.name not in fdef.ret:
                raise GraphError(f"{where}: output {arg.name!r} has no ret entry")
            tensor, _ = translate(fdef.ret[arg.name])
            self.alias[(call.name, index)] = tensor
            waits.append("^" + node_name(tensor))
        for key in sig.control_output:
            target = fdef.control_ret.get(key, key)
            if target not in renamed:
                raise GraphError(f"{where}: control output {key!r} names no node of the body")
            waits.append("^" + renamed[target])
        done = type(call)()
        done.name = done_name
        done.op = "NoOp"
        done.input.extend(dict.fromkeys(waits or controls))
        if call.device:
            done.device = call.device
        self.out.append(done)
        self.inlined += 1

    def resolve(self, text: str) -> str:
        if text.startswith("^"):
            return text
        seen = 0
        while True:
            ref = parse_input(text)
            replacement = self.alias.get((ref.node, ref.index))
            if replacement is None:
                return text
            text = replacement
            seen += 1
            if seen > len(self.alias):
                raise GraphError(f"function outputs refer to each other in a cycle at {text!r}")


def inline_calls(graph_def: Any, op_defs: Mapping[str, Any], *,
                 functions: Optional[Mapping[str, Any]] = None) -> Any:
    """Return a copy of ``graph_def`` with every call to a library function inlined, recursively.

    Args:
        graph_def: the graph; its ``library`` supplies the functions unless ``functions`` is given.
        op_defs: ``{op name: OpDef}``, e.g. from the MetaGraphDef's ``stripped_op_list``; needed to
            turn ``node:out_arg:index`` into a flat output index.
        functions: ``{name: FunctionDef}`` to inline from (defaults to the graph's library).

    The result keeps ``versions`` and the whole library; prune it afterwards to drop what the
    graph no longer uses.
    """
    if functions is None:
        functions = {f.signature.name: f for f in graph_def.library.function}
    inliner = _Inliner(graph_def, op_defs, functions)
    for node in graph_def.node:
        copy = type(node)()
        copy.CopyFrom(node)
        inliner.emit(copy, 0)
    out = type(graph_def)()
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    if graph_def.HasField("library"):
        out.library.CopyFrom(graph_def.library)
    for node in inliner.out:
        if inliner.alias:
            resolved = [inliner.resolve(text) for text in node.input]
            if resolved != list(node.input):
                node.ClearField("input")
                node.input.extend(resolved)
    out.node.extend(inliner.out)
    return out


def count_calls(nodes: Iterable[Any], functions: Mapping[str, Any]) -> int:
    """How many nodes call a library function through PartitionedCall/StatefulPartitionedCall."""
    return sum(1 for n in nodes if n.op in CALL_OPS and n.attr["f"].func.name in functions)


__all__ = ["CALL_OPS", "count_calls", "inline_calls"]
