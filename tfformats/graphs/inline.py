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

Work is bounded for hostile graphs: a function that calls itself is refused,
and so is a graph whose inlining would expand more than ``max_calls`` calls or
emit more than ``max_nodes`` nodes (functions that each call the next twice
grow exponentially with depth).

Functional control flow (``If``, ``While``, ...) is not inlined: those nodes
keep calling their branch and body functions in the library.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ..errors import GraphError, UnsupportedError
from .names import node_name, parse_input
from .opdefs import output_layout
from .registry import OpResolver

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})

# Deeper nesting than this is refused even without recursion.
MAX_DEPTH = 100
# Default bounds on the work of one inline_calls: expanded calls and nodes emitted.
MAX_CALLS = 10_000
MAX_NODES = 1_000_000


class _Layouts:
    """Flat output indices of ``node:out_arg:index`` for ops and library functions."""

    def __init__(self, op_defs: Mapping[str, Any], functions: Mapping[str, Any]) -> None:
        self.op_defs = op_defs if isinstance(op_defs, OpResolver) else OpResolver(op_defs)
        self.functions = functions

    def flat_index(self, node: Any, arg: str, index: int, where: str) -> int:
        if node.op in self.functions:
            op_def = self.functions[node.op].signature
        else:
            op_def = self.op_defs.require(node.op, f"{where}, node {node.name!r}")
        for name, start, count in output_layout(op_def, node.attr):
            if name == arg:
                if index >= count:
                    raise GraphError(f"{where}: {node.name}:{arg}:{index} is out of range "
                                     f"({node.op} output {arg!r} has {count} tensors)")
                return start + index
        raise GraphError(f"{where}: op {node.op} of node {node.name!r} has no output {arg!r}")


def _tensor(node: str, index: int) -> str:
    return node if index == 0 else f"{node}:{index}"


class _Body:
    """One call being expanded: argument bindings and the new names of the callee's nodes."""

    def __init__(self, call: Any, fdef: Any, renamed: Mapping[str, str], layouts: _Layouts) -> None:
        self.call = call
        self.fdef = fdef
        self.where = f"function {fdef.signature.name} (called by node {call.name!r})"
        self.data_inputs = [i for i in call.input if not i.startswith("^")]
        self.controls = [i for i in call.input if i.startswith("^")]
        self.args = {arg.name: text for arg, text in zip(fdef.signature.input_arg, self.data_inputs)}
        self.nodes = {n.name: n for n in fdef.node_def}
        self.renamed = renamed
        self.layouts = layouts

    def check_signature(self) -> None:
        sig = self.fdef.signature
        for arg in list(sig.input_arg) + list(sig.output_arg):
            if arg.number_attr or arg.type_list_attr:
                raise UnsupportedError(f"{self.where}: argument {arg.name!r} is a list; only functions with "
                                       "one tensor per argument can be inlined")
        if len(self.data_inputs) != len(sig.input_arg):
            raise GraphError(f"{self.where}: the call passes {len(self.data_inputs)} inputs, the function takes "
                             f"{len(sig.input_arg)}")
        for inner in self.fdef.node_def:
            for attr in inner.attr.values():
                if attr.placeholder:
                    raise UnsupportedError(f"{self.where}: node {inner.name!r} has attr placeholder "
                                           f"{attr.placeholder!r}; polymorphic functions cannot be inlined")

    def _control(self, src: str) -> tuple[str, bool]:
        if src in self.renamed:
            return "^" + self.renamed[src], True
        if src in self.args:
            return "^" + node_name(self.args[src]), False
        raise GraphError(f"{self.where}: control input '^{src}' names no node or argument")

    def translate(self, text: str) -> tuple[str, bool]:
        """Graph-style input for a function-style one, and whether it comes from the body."""
        if text.startswith("^"):
            return self._control(text[1:])
        parts = text.split(":")
        if len(parts) == 1:
            if text not in self.args:
                raise GraphError(f"{self.where}: input {text!r} names no argument")
            return self.args[text], False
        src = parts[0]
        if src not in self.nodes:
            raise GraphError(f"{self.where}: input {text!r} names no node of the body")
        if len(parts) == 2:
            index = int(parts[1]) if parts[1].isdigit() else \
                self.layouts.flat_index(self.nodes[src], parts[1], 0, self.where)
        elif len(parts) == 3 and parts[2].isdigit():
            index = self.layouts.flat_index(self.nodes[src], parts[1], int(parts[2]), self.where)
        else:
            raise GraphError(f"{self.where}: cannot parse input {text!r}")
        return _tensor(self.renamed[src], index), True

    def copy_node(self, inner: Any) -> Any:
        """The body node ``inner`` as a graph node: renamed, inputs translated, call's device and controls."""
        node = type(inner)()
        node.CopyFrom(inner)
        node.name = self.renamed[inner.name]
        translated = [self.translate(text) for text in inner.input]
        node.ClearField("input")
        node.input.extend(text for text, _ in translated)
        if self.controls and not any(from_body for _, from_body in translated):
            node.input.extend(c for c in self.controls if c not in node.input)
        if not node.device and self.call.device:
            node.device = self.call.device
        return node

    def returned(self) -> tuple[list[str], list[str]]:
        """Graph tensors of the outputs, in order, and the control inputs the call's NoOp waits for."""
        sig, fdef = self.fdef.signature, self.fdef
        tensors: list[str] = []
        waits: list[str] = []
        for arg in sig.output_arg:
            if arg.name not in fdef.ret:
                raise GraphError(f"{self.where}: output {arg.name!r} has no ret entry")
            tensor, _ = self.translate(fdef.ret[arg.name])
            tensors.append(tensor)
            waits.append("^" + node_name(tensor))
        for key in sig.control_output:
            target = fdef.control_ret.get(key, key)
            if target not in self.renamed:
                raise GraphError(f"{self.where}: control output {key!r} names no node of the body")
            waits.append("^" + self.renamed[target])
        return tensors, waits


class _Inliner:
    def __init__(self, graph_def: Any, op_defs: Mapping[str, Any], functions: Mapping[str, Any],
                 max_calls: int, max_nodes: int) -> None:
        self.graph = graph_def
        self.functions = functions
        self.layouts = _Layouts(op_defs, functions)
        self.taken = {n.name for n in graph_def.node}
        # (call node, output index) -> the tensor that replaces it
        self.alias: dict[tuple[str, int], str] = {}
        self.out: list[Any] = []
        self.inlined = 0
        self.max_calls = max_calls
        self.max_nodes = max_nodes
        self.stack: list[str] = []

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

    def emit(self, node: Any) -> None:
        if self.is_call(node):
            self.expand(node)
            return
        if len(self.out) >= self.max_nodes:
            raise GraphError(f"inlining would emit more than {self.max_nodes} nodes (at node {node.name!r}); "
                             "refusing a graph that grows this much")
        self.out.append(node)

    def _enter(self, call: Any) -> str:
        name: str = call.attr["f"].func.name
        if name in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(name):] + [name])
            raise GraphError(f"function calls nest deeper than any run could: function {name!r} calls itself "
                             f"({chain}) at node {call.name!r}")
        if len(self.stack) >= MAX_DEPTH:
            raise GraphError(f"function calls nest deeper than {MAX_DEPTH} levels at node {call.name!r}")
        if self.inlined >= self.max_calls:
            raise GraphError(f"inlining would expand more than {self.max_calls} function calls (at node "
                             f"{call.name!r}); refusing a graph that grows this much")
        self.inlined += 1
        return name

    def expand(self, call: Any) -> None:
        name = self._enter(call)
        fdef = self.functions[name]
        # Claim the call's own name for the control NoOp before naming the body.
        self.taken.discard(call.name)
        done_name = self.unique(call.name)
        renamed = {n.name: self.unique(f"{call.name}/{n.name}") for n in fdef.node_def}
        body = _Body(call, fdef, renamed, self.layouts)
        body.check_signature()
        self.stack.append(name)
        for inner in fdef.node_def:
            self.emit(body.copy_node(inner))
        self.stack.pop()
        tensors, waits = body.returned()
        for index, tensor in enumerate(tensors):
            self.alias[(call.name, index)] = tensor
        done = type(call)()
        done.name = done_name
        done.op = "NoOp"
        done.input.extend(dict.fromkeys(waits or body.controls))
        if call.device:
            done.device = call.device
        self.out.append(done)

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


def inline_calls(graph_def: Any, op_defs: Mapping[str, Any], *, functions: Optional[Mapping[str, Any]] = None,
                 max_calls: int = MAX_CALLS, max_nodes: int = MAX_NODES) -> Any:
    """Return a copy of ``graph_def`` with every call to a library function inlined, recursively.

    Args:
        graph_def: the graph; its ``library`` supplies the functions unless ``functions`` is given.
        op_defs: ``{op name: OpDef}`` or an :class:`~tfformats.graphs.registry.OpResolver`; ops it
            lacks are looked up in the bundled registry of standard ops. Needed to turn
            ``node:out_arg:index`` into a flat output index.
        functions: ``{name: FunctionDef}`` to inline from (defaults to the graph's library).
        max_calls, max_nodes: bounds on the calls expanded and the nodes emitted (GraphError beyond).

    The result keeps ``versions`` and the whole library; prune it afterwards to drop what the
    graph no longer uses.
    """
    if functions is None:
        functions = {f.signature.name: f for f in graph_def.library.function}
    inliner = _Inliner(graph_def, op_defs, functions, max_calls, max_nodes)
    for node in graph_def.node:
        copy = type(node)()
        copy.CopyFrom(node)
        inliner.emit(copy)
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


__all__ = ["CALL_OPS", "MAX_CALLS", "MAX_NODES", "count_calls", "inline_calls"]
