"""Walk a TensorFlow graph in dependency order and convert each node with its handler."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from ..errors import GraphError, UnsupportedError
from ..graphs.names import parse_function_input, parse_input
from .context import FOLD_LIMIT, Context
from .handlers import FOLDERS, HANDLERS
from .values import Value


def tensor_key(text: str) -> str:
    """Canonical ``node:index`` of a graph input name."""
    ref = parse_input(text)
    return f"{ref.node}:{ref.index}"


def data_inputs(node: Any) -> list[str]:
    return [tensor_key(i) for i in node.input if not i.startswith("^")]


def needed_nodes(nodes: Mapping[str, Any], outputs: Iterable[str], stop: Iterable[str] = ()) -> list[Any]:
    """Nodes the outputs depend on (data edges only), each after its inputs.

    A ``NextIteration`` node's input closes a v1 loop; it is visited after everything else so that the
    back edge does not count as a cycle.
    """
    order: list[Any] = []
    stops = set(stop)
    state: dict[str, int] = {}
    deferred: list[str] = []
    stack: list[tuple[str, bool]] = [(n, False) for n in reversed(list(outputs))]
    while stack or deferred:
        if not stack:
            stack.append((deferred.pop(), False))
            continue
        name, done = stack.pop()
        if done:
            state[name] = 2
            order.append(nodes[name])
            continue
        if state.get(name) == 2 or (name not in nodes and name in stops):
            continue
        if state.get(name) == 1:
            raise GraphError(f"the graph has a cycle through node {name!r}")
        node = nodes.get(name)
        if node is None:
            raise GraphError(f"node {name!r} is used but not in the graph")
        state[name] = 1
        stack.append((name, True))
        if name in stops:
            continue
        for inp in reversed(data_inputs(node)):
            dep = inp.rpartition(":")[0]
            if nodes[name].op == "NextIteration" and state.get(dep) != 2:
                deferred.append(dep)
                continue
            if dep not in nodes and dep in stops:
                continue
            if state.get(dep) != 2:
                stack.append((dep, False))
    return order


def flat_ref(text: str, body: Mapping[str, Any], fname: str, op_def: Any) -> str:
    """A function-body tensor reference (``node:arg:i`` or an argument) as a flat ``node:k``."""
    from ..graphs.opdefs import flat_output_index

    ref = parse_function_input(text)
    if ref.arg is None:
        return f"{ref.node}:0"
    producer = body.get(ref.node)
    if producer is None:
        raise GraphError(f"function {fname}: {text!r} names no node")
    od = op_def(producer.op)
    if od is None:
        raise UnsupportedError(f"function {fname}: op {producer.op} is not a standard TensorFlow op")
    return f"{ref.node}:{flat_output_index(od, producer.attr, ref.arg, ref.index)}"


def function_nodes(fdef: Any, op_def: Any) -> list[Any]:
    """The body of a FunctionDef as graph NodeDefs: ``node:arg:i`` inputs become flat ``node:k``."""
    from ..graphs.opdefs import flat_output_index
    from ..proto import NodeDef

    body = {n.name: n for n in fdef.node_def}
    out = []
    for n in fdef.node_def:
        g = NodeDef()
        g.CopyFrom(n)
        del g.input[:]
        for text in n.input:
            ref = parse_function_input(text)
            if ref.control:
                g.input.append("^" + ref.node)
            elif ref.arg is None:
                g.input.append(f"{ref.node}:{ref.index}" if ref.node not in body else f"{ref.node}:0")
            else:
                producer = body.get(ref.node)
                if producer is None:
                    raise GraphError(f"function {fdef.signature.name}: input {text!r} names no node")
                od = op_def(producer.op)
                if od is None:
                    raise UnsupportedError(f"function {fdef.signature.name}: op {producer.op} is not a standard "
                                           "TensorFlow op")
                g.input.append(f"{ref.node}:{flat_output_index(od, producer.attr, ref.arg, ref.index)}")
        out.append(g)
    return out


def unsupported_ops(nodes: Iterable[Any], functions: Mapping[str, Any], seen: Optional[set[str]] = None
                    ) -> dict[str, tuple[int, str]]:
    """``{op: (count, one node name)}`` for every op without a handler, function bodies included."""
    seen = set() if seen is None else seen
    found: dict[str, tuple[int, str]] = {}

    def visit(items: Iterable[Any], where: str) -> None:
        for node in items:
            if node.op not in HANDLERS:
                count, first = found.get(node.op, (0, f"{where}{node.name}"))
                found[node.op] = (count + 1, first)
            for attr in node.attr.values():
                names = [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
                for fname in names:
                    if fname and fname not in seen and fname in functions:
                        seen.add(fname)
                        visit(functions[fname].node_def, f"{fname}/")

    visit(nodes, "")
    return found


def format_unsupported(found: Mapping[str, tuple[int, str]]) -> str:
    parts = [f"{op} ({count}x, e.g. node {first!r})" for op, (count, first) in
             sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    return f"cannot convert {len(found)} op type{'s' if len(found) != 1 else ''} to ONNX: " + ", ".join(parts)


def _fold(node: Any, ins: Sequence[Value]) -> Optional[list[Value]]:
    folder = FOLDERS.get(node.op)
    if folder is None or not all(v.const is not None for v in ins):
        return None
    if sum(int(v.const.size) for v in ins if v.const is not None) > FOLD_LIMIT:
        return None
    arrays = [v.const for v in ins if v.const is not None]
    results = folder(node, arrays)
    if results is None:
        return None
    return [Value(None, _dtype_of(r), tuple(int(d) for d in r.shape), None, r) for r in results]


def _dtype_of(array: np.ndarray) -> int:
    from .dtypes import from_numpy

    return from_numpy(array.dtype)


def convert_nodes(cx: Context, order: Sequence[Any]) -> None:
    """Convert ``order`` (dependency order) into ``cx``."""
    conds = cx.conds
    empty: frozenset[Any] = frozenset()
    for node in order:
        keys = [tensor_key(i) if not i.startswith("^") else i[1:] + ":0" for i in node.input]
        base = empty
        for k in keys:
            c = conds.get(k)
            if c:
                base = base | c
        cx.node_conds, cx.out_conds = base, None
        if node.op == "NoOp":
            if base:
                conds[f"{node.name}:0"] = base
            continue
        ins = [cx.lookup(t) for t in data_inputs(node)]
        outs = _fold(node, ins) if node.op not in ("Switch", "Merge") else None
        if outs is None:
            handler = HANDLERS.get(node.op)
            if handler is None:
                raise UnsupportedError(format_unsupported({node.op: (1, node.name)}))
            outs = handler(cx, node, ins)
        for i, v in enumerate(outs):
            cx.values[f"{node.name}:{i}"] = v
        if cx.out_conds is not None:
            for i, c in cx.out_conds.items():
                if c:
                    conds[f"{node.name}:{i}"] = c
        elif base:
            for i in range(max(len(outs), 1)):
                conds[f"{node.name}:{i}"] = base
