"""Replace ONNX Loops that run a Keras-style LSTM cell over a sequence with one ONNX LSTM node.

The converter turns a TensorFlow While loop into an ONNX Loop node by node; onnxruntime then pays its
per-round overhead for every time step. When a Loop's body is exactly an LSTM cell reading step ``t`` of
a tensor, this pass swaps the Loop for ONNX's LSTM operator, which computes the same recurrence in one
kernel. The body must match completely (gates i, f, c, o in Keras' order, sigmoid and tanh, counters
starting at 0 and stepping by 1, a condition ``t < n [and counter < m]``); anything else keeps the Loop.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .context import Model
from .dtypes import from_numpy


class _Body:
    """Look-ups over one Loop body graph."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.producer = {o: n for n in graph.node for o in n.output}
        self.inputs = [i.name for i in graph.input]
        self.outputs = [o.name for o in graph.output]

    def src(self, name: str) -> str:
        for _ in range(len(self.graph.node) + 1):
            n = self.producer.get(name)
            if n is None or n.op_type != "Identity":
                break
            name = n.input[0]
        return name

    def node(self, name: str, op: str) -> Optional[Any]:
        n = self.producer.get(self.src(name))
        return n if n is not None and n.op_type == op else None

    def is_outer(self, name: str) -> bool:
        return name not in self.producer and name not in self.inputs


def _pair(body: _Body, node: Any, test_a: Any, test_b: Any) -> Optional[tuple[Any, Any]]:
    """The two operands of a commutative node, in the order the two tests accept them."""
    a, b = node.input[0], node.input[1]
    ra, rb = test_a(a), test_b(b)
    if ra is not None and rb is not None:
        return ra, rb
    ra, rb = test_a(b), test_b(a)
    if ra is not None and rb is not None:
        return ra, rb
    return None


def _scalar(model: Model, name: str) -> Optional[float]:
    a = model.arrays.get(name)
    return float(a.reshape(())) if a is not None and a.size == 1 else None


def _counter(body: _Body, model: Model, k: int) -> bool:
    """Carried variable ``k`` steps by one each round."""
    step = body.node(body.outputs[1 + k], "Add")
    var = body.inputs[2 + k]
    return step is not None and _pair(body, step, lambda n: n if n == var else None,
                                      lambda n: n if _scalar(model, n) == 1 else None) is not None


def _match(loop: Any, model: Model) -> Optional[dict[str, Any]]:
    graph = next((a.g for a in loop.attribute if a.name == "body"), None)
    if graph is None or loop.input[0]:
        return None
    body = _Body(graph)
    carried = len(loop.input) - 2
    splits = [n for n in graph.node if n.op_type == "Split"]
    if len(splits) != 1 or len(splits[0].output) != 4:
        return None
    split = splits[0]
    users: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    gates = []
    for out, op in zip(split.output, ("Sigmoid", "Sigmoid", "Tanh", "Sigmoid")):
        u = users.get(out, [])
        if len(u) != 1 or u[0].op_type != op:
            return None
        gates.append(u[0].output[0])
    i_gate, f_gate, g_gate, o_gate = gates
    z_add = body.node(split.input[0], "Add")
    if z_add is None:
        return None

    def bias_of(n: str) -> Optional[np.ndarray]:
        a = model.arrays.get(n)
        return a if a is not None and a.ndim == 1 else None

    def matmuls(n: str) -> Optional[Any]:
        return body.node(n, "Add")

    found = _pair(body, z_add, matmuls, bias_of)
    if found is None:
        return None
    mm_add, bias = found

    def x_side(n: str) -> Optional[tuple[str, str, np.ndarray]]:
        mm = body.node(n, "MatMul")
        if mm is None or mm.input[1] not in model.arrays:
            return None
        gather = body.node(mm.input[0], "Gather")
        if gather is None or not body.is_outer(gather.input[0]) or gather.input[1] not in body.inputs[2:]:
            return None
        if any(a.name == "axis" and a.i != 0 for a in gather.attribute):
            return None
        return gather.input[0], gather.input[1], model.arrays[mm.input[1]]

    def h_side(n: str) -> Optional[tuple[str, np.ndarray]]:
        mm = body.node(n, "MatMul")
        if mm is None or mm.input[1] not in model.arrays or mm.input[0] not in body.inputs[2:]:
            return None
        return mm.input[0], model.arrays[mm.input[1]]

    sides = _pair(body, mm_add, x_side, h_side)
    if sides is None:
        return None
    (x_outer, t_var, w), (h_var, r) = sides
    c_next = None
    h_next_node = None
    for k in range(carried):
        nxt = body.node(body.outputs[1 + k], "Mul")
        if nxt is None:
            continue
        tanh_c = _pair(body, nxt, lambda n: n if body.src(n) == o_gate else None,
                       lambda n: body.node(n, "Tanh"))
        if tanh_c is not None and body.inputs[2 + k] == h_var:
            h_next_node, c_next = nxt, body.src(tanh_c[1].input[0])
    if h_next_node is None or c_next is None:
        return None
    c_add = body.node(c_next, "Add")
    if c_add is None:
        return None

    def mul_of(a_name: str, other_test: Any) -> Any:
        def test(n: str) -> Optional[Any]:
            m = body.node(n, "Mul")
            if m is None:
                return None
            return _pair(body, m, lambda x: x if body.src(x) == a_name else None, other_test)
        return test

    c_var_holder: list[str] = []

    def is_c_var(n: str) -> Optional[str]:
        if n in body.inputs[2:]:
            c_var_holder.append(n)
            return n
        return None

    terms = _pair(body, c_add, mul_of(f_gate, is_c_var), mul_of(i_gate, lambda n: n if body.src(n) == g_gate
                                                                         else None))
    if terms is None or not c_var_holder:
        return None
    c_var = c_var_holder[-1]
    k_h, k_c, k_t = (body.inputs.index(v) - 2 for v in (h_var, c_var, t_var))
    if body.src(body.outputs[1 + k_c]) != c_next or body.src(body.outputs[1 + k_h]) != h_next_node.output[0]:
        return None
    others = [k for k in range(carried) if k not in (k_h, k_c)]
    if not all(_counter(body, model, k) for k in others) or k_t not in others:
        return None
    for k in others:  # every counter starts at 0
        if _scalar(model, loop.input[2 + k]) != 0:
            return None
    limits = _condition(body, model, others)
    if limits is None:
        return None
    h_out = h_next_node.output[0]
    if any(body.src(o) != h_out for o in body.outputs[1 + carried:]):
        return None
    hidden = r.shape[0]
    if w.ndim != 2 or r.ndim != 2 or w.shape[1] != 4 * hidden or r.shape[1] != 4 * hidden \
            or bias.shape != (4 * hidden,) or w.dtype != np.float32:
        return None
    return {"x": x_outer, "w": w, "r": r, "b": bias, "h0": loop.input[2 + k_h], "c0": loop.input[2 + k_c],
            "k_h": k_h, "k_c": k_c, "counters": others, "limits": limits, "hidden": hidden}


def _condition(body: _Body, model: Model, counters: list[int]) -> Optional[list[str]]:
    """The outer limits n of a condition ``counter_next < n`` (joined by And) over the counters."""
    nexts = {body.src(body.outputs[1 + k]) for k in counters}
    node = body.producer.get(body.src(body.outputs[0]))
    terms = [node] if node is not None and node.op_type == "Less" else []
    if node is not None and node.op_type == "And":
        terms = [body.producer.get(body.src(i)) for i in node.input]
    limits = []
    for t in terms:
        if t is None or t.op_type != "Less" or body.src(t.input[0]) not in nexts or not body.is_outer(t.input[1]):
            return None
        limits.append(t.input[1])
    return limits or None


def _gates_ifco_to_iofc(a: np.ndarray, hidden: int) -> np.ndarray:
    i, f, c, o = (a[..., k * hidden:(k + 1) * hidden] for k in range(4))
    return np.concatenate([i, o, f, c], axis=-1)


def fuse_lstm_loops(graph: Any, model: Model) -> int:
    """Replace every matching Loop of ``graph`` by an LSTM node; returns how many were replaced."""
    helper = model.helper
    replaced = 0
    new_nodes: list[Any] = []
    for loop in graph.node:
        found = _match(loop, model) if loop.op_type == "Loop" else None
        if found is None:
            new_nodes.append(loop)
            continue
        replaced += 1
        hidden = found["hidden"]
        base = loop.name
        emit: list[Any] = []

        def node(op: str, inputs: list[str], outputs: Optional[list[str]] = None, **attrs: Any) -> list[str]:
            outs = outputs or [model.unique(f"{base}/lstm/{op}")]
            emit.append(helper.make_node(op, inputs, outs, name=model.unique(f"n/{base}/lstm/{op}"), **attrs))
            return outs

        def i64(values: Any) -> str:
            return model.initializer(np.array(values, np.int64), "const")

        limits = [node("Cast", [n], to=7)[0] for n in found["limits"]]
        steps = limits[0] if len(limits) == 1 else node("Min", limits)[0]
        steps = node("Max", [steps, i64(0)])[0]
        x = node("Slice", [found["x"], i64([0]), node("Unsqueeze", [steps, i64([0])])[0], i64([0])])[0]
        w = model.initializer(np.ascontiguousarray(_gates_ifco_to_iofc(found["w"], hidden).T[None]), "lstm/W")
        r = model.initializer(np.ascontiguousarray(_gates_ifco_to_iofc(found["r"], hidden).T[None]), "lstm/R")
        b = np.concatenate([_gates_ifco_to_iofc(found["b"], hidden), np.zeros(4 * hidden, found["b"].dtype)])
        h0 = node("Unsqueeze", [found["h0"], i64([0])])[0]
        c0 = node("Unsqueeze", [found["c0"], i64([0])])[0]
        y, y_h, y_c = node("LSTM", [x, w, r, model.initializer(b[None], "lstm/B"), "", h0, c0],
                           [model.unique(f"{base}/lstm/Y"), model.unique(f"{base}/lstm/Y_h"),
                            model.unique(f"{base}/lstm/Y_c")], hidden_size=hidden)
        carried = len(loop.input) - 2
        outs = list(loop.output)
        node("Squeeze", [y_h, i64([0])], [outs[found["k_h"]]])
        node("Squeeze", [y_c, i64([0])], [outs[found["k_c"]]])
        for k in found["counters"]:
            if k < len(outs) and outs[k]:  # a counter ends at the number of rounds run
                node("Cast", [steps], [outs[k]], to=from_numpy(model.arrays[loop.input[2 + k]].dtype))
        for scan in outs[carried:]:
            node("Squeeze", [y, i64([1])], [scan])
        new_nodes.extend(emit)
    if replaced:
        del graph.node[:]
        graph.node.extend(new_nodes)
    return replaced
