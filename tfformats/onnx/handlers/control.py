"""Functional control flow (If, While, function calls) and TensorList ops.

If becomes an ONNX If whose branches read the outer values; While becomes an ONNX Loop whose body
also evaluates the condition for the next round (the first test is made before the Loop).
TensorLists are ONNX sequences of tensors.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from .. import attrs
from .. import dtypes as odt
from ...errors import GraphError
from ..context import Context
from ..values import SEQUENCE, Shape, Value
from .common import Handler, dtype


def _function(cx: Context, node: Any, name: str) -> Any:
    fdef = cx.model.functions.get(name)
    if fdef is None:
        raise cx.unsupported(node, f"function {name!r} is not in the graph's library")
    return fdef


def run_function(cx: Context, node: Any, fname: str, args: Sequence[Value]) -> list[Value]:
    """Convert the body of ``fname`` into ``cx``'s graph, fed ``args``; returns its outputs."""
    from ...graphs.registry import op_def
    from ..graph import convert_nodes, flat_ref, function_nodes, needed_nodes

    fdef = _function(cx, node, fname)
    inputs = list(fdef.signature.input_arg)
    if len(inputs) != len(args):
        raise cx.unsupported(node, f"function {fname} takes {len(inputs)} arguments, got {len(args)}")
    scope = Context(cx.model, parent=None, nodes=cx.nodes)
    scope.where = f"function {fname}"
    for arg, v in zip(inputs, args):
        scope.values[f"{arg.name}:0"] = v.copy()
    body = function_nodes(fdef, op_def)
    by_name = {n.name: n for n in body}
    rets = [flat_ref(fdef.ret[o.name], by_name, fname, op_def) for o in fdef.signature.output_arg]
    order = needed_nodes(by_name, [r.rpartition(":")[0] for r in rets], stop={a.name for a in inputs})
    convert_nodes(scope, order)
    return [scope.lookup(r) for r in rets]


def call(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    return run_function(cx, node, attrs.get_func(node, "f"), ins)


def _type_proto(cx: Context, name: str, v: Value) -> Any:
    helper = cx.model.helper
    if v.dtype >= SEQUENCE:  # ONNX's checker wants the element rank; v.shape is the element shape here
        elem = [d if isinstance(d, int) else None for d in v.shape] if v.shape is not None else None
        if elem is None:
            raise GraphError(f"{name}: a TensorList whose element rank is unknown")
        return helper.make_tensor_sequence_value_info(name, v.dtype - SEQUENCE, elem)
    dims = None if v.shape is None else [d if isinstance(d, int) else None for d in v.shape]
    return helper.make_tensor_value_info(name, v.dtype, dims)


def _branch(cx: Context, node: Any, fname: str, args: Sequence[Value], label: str) -> tuple[Any, list[Value]]:
    sub = Context(cx.model, parent=cx)
    sub.where = f"{label} of {node.name}"
    outs = run_function(sub, node, fname, args)
    names = []
    for v in outs:
        name = sub.plain(v)
        produced = {o for n in sub.nodes for o in n.output}
        if name not in produced or name in names:
            name = sub.emit1("Identity", [name], hint=f"{node.name}/{label}_out")
        names.append(name)
    graph = cx.model.helper.make_graph(sub.nodes, cx.model.unique(f"{node.name}/{label}"), [],
                                       [_type_proto(cx, n, Value(n, v.dtype, v.shape if v.dtype >= SEQUENCE else None))
                                        for n, v in zip(names, outs)])
    return graph, outs


def _as_bool(cx: Context, v: Value) -> str:
    name = cx.plain(v)
    if v.dtype != odt.BOOL:
        name = cx.cast(name, odt.BOOL)
    if v.rank not in (0, None):
        name = cx.emit1("Reshape", [name, cx.int64s([])])
    return name


def if_(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    cond, args = ins[0], ins[1:]
    then_g, then_out = _branch(cx, node, attrs.get_func(node, "then_branch"), args, "then")
    else_g, else_out = _branch(cx, node, attrs.get_func(node, "else_branch"), args, "else")
    n = len(then_out)
    names = cx.emit("If", [_as_bool(cx, cond)], outputs=n, hint=node.name, then_branch=then_g, else_branch=else_g)
    shapes = [a.shape if a.shape == b.shape else None for a, b in zip(then_out, else_out)]
    return [Value(name, v.dtype, s) for name, v, s in zip(names, then_out, shapes)]


def _loop_shapes(node: Any, ins: Sequence[Value]) -> list[Shape]:
    out: list[Shape] = []
    listed = node.attr["output_shapes"].list.shape if "output_shapes" in node.attr else []
    for i, v in enumerate(ins):
        if v.dtype >= SEQUENCE:
            out.append(v.shape)
        elif i < len(listed) and not listed[i].unknown_rank:
            out.append(tuple(int(d.size) if d.size >= 0 else None for d in listed[i].dim))
        else:
            out.append(None if v.shape is None else tuple(None for _ in v.shape))
    return out


def loop(cx: Context, node: Any, inits: Sequence[Value], shapes: Sequence[Shape],
         step: Callable[[Context, list[Value]], tuple[list[Value], Value]], first: Value,
         invariant: frozenset[int] = frozenset(), scans: Optional[dict[int, str]] = None) -> list[Value]:
    """An ONNX Loop carrying ``inits``; ``step(body, values)`` gives the next values and the test on them.

    ``first`` is the test on ``inits`` (computed before the Loop, as TensorFlow tests before each round).
    Variables in ``invariant`` never change: the body reads them from the enclosing graph instead of
    carrying them. ``scans`` are TensorLists the body only writes, one element per round: they become
    scan outputs ("all": every element; "last": only the last one written, a list of one element).
    """
    scans = scans or {}
    body = Context(cx.model, parent=cx)
    body.where = f"body of {node.name}"
    helper = cx.model.helper
    iter_name = cx.model.unique(f"{node.name}/iteration")
    cond_in = cx.model.unique(f"{node.name}/cond_in")
    graph_inputs = [helper.make_tensor_value_info(iter_name, odt.INT64, []),
                    helper.make_tensor_value_info(cond_in, odt.BOOL, [])]
    carried = []
    for i, v in enumerate(inits):
        if i in invariant:
            carried.append(v.copy())
            continue
        if i in scans:
            slot = Value(None, v.dtype, v.shape)
            slot.role = "scan-slot"
            carried.append(slot)
            continue
        name = cx.model.unique(f"{node.name}/var{i}")
        carried.append(Value(name, v.dtype, shapes[i]))
        graph_inputs.append(_type_proto(cx, name, carried[-1]))
    new, again = step(body, carried)
    outs = [body.emit1("Identity", [_as_bool(body, again)], hint=f"{node.name}/cond_out")]
    moving = [i for i in range(len(inits)) if i not in invariant and i not in scans]
    for i in moving:
        v = new[i]
        name = body.plain(v)
        produced = {o for n in body.nodes for o in n.output}
        if name not in produced or name in outs:
            name = body.emit1("Identity", [name], hint=f"{node.name}/out{i}")
        outs.append(name)
    items = []
    for k in scans:
        written = new[k]
        if written.role != "scan-written" or written.source is None:
            raise GraphError(f"{body.where}: TensorList {k} is not written once per round")
        items.append(written.source)
        name = body.plain(written.source)
        if name in outs or name not in {o for n in body.nodes for o in n.output}:
            name = body.emit1("Identity", [name], hint=f"{node.name}/item{k}")
        outs.append(name)
    graph = helper.make_graph(body.nodes, cx.model.unique(f"{node.name}/body"), graph_inputs,
                              [_type_proto(cx, outs[0], Value(outs[0], odt.BOOL, ()))] +
                              [_type_proto(cx, n, Value(n, carried[i].dtype, carried[i].shape))
                               for n, i in zip(outs[1:], moving)] +
                              [_type_proto(cx, n, Value(n, it.dtype, it.shape))
                               for n, it in zip(outs[1 + len(moving):], items)])
    names = cx.emit("Loop", ["", _as_bool(cx, first)] + [cx.plain(inits[i]) for i in moving],
                    outputs=len(moving) + len(scans), hint=node.name, body=graph)
    results = list(inits)
    for name, i in zip(names, moving):
        results[i] = Value(name, inits[i].dtype, shapes[i])
    for name, (k, how), item in zip(names[len(moving):], scans.items(), items):
        stacked = Value(name, item.dtype, None if item.shape is None else (None,) + tuple(item.shape))
        reserved = inits[k].reserved
        if how == "all" and reserved is not None:
            stacked = _pad_rows(cx, stacked, reserved)
        if how == "last":
            last = cx.emit1("Slice", [name, cx.int64s([-1]), cx.int64s([np.iinfo(np.int64).max]), cx.int64s([0])])
            stacked = Value(last, item.dtype, None if item.shape is None else (1,) + tuple(item.shape))
        out = Value(None, inits[k].dtype, item.shape)
        out.source = stacked
        results[k] = out
    return results


def _pad_rows(cx: Context, stacked: Value, reserved: Value) -> Value:
    """Zero rows after the scanned ones, up to the reserved size: a round that did not run left its slot
    unset, and TensorFlow stacks an unset element as zeros."""
    if stacked.shape is None:
        raise GraphError(f"{cx.where}: a TensorList of elements of unknown rank")
    rank = len(stacked.shape)
    from .common import int64

    rows = cx.emit1("Slice", [cx.emit1("Shape", [stacked.forms[None]]), cx.int64s([0]), cx.int64s([1])])
    want = cx.emit1("Reshape", [int64(cx, reserved), cx.int64s([1])])
    missing = cx.emit1("Max", [cx.emit1("Sub", [want, rows]), cx.int64s([0])])
    pads = cx.emit1("Concat", [cx.int64s([0] * rank), missing, cx.int64s([0] * (rank - 1))], axis=0)
    return Value(cx.emit1("Pad", [stacked.forms[None], pads]), stacked.dtype, stacked.shape)


def _through_identities(ref: str, body: dict[str, Any]) -> str:
    for _ in range(len(body) + 1):
        head, _, rest = ref.partition(":")
        n = body.get(head)
        if n is None or n.op != "Identity" or not rest.startswith("output:"):
            break
        ref = n.input[0]
    return ref


def _const_node(body: dict[str, Any], ref: str) -> Optional[Any]:
    from ...tensor_proto import to_numpy

    n = body.get(ref.partition(":")[0])
    if n is None or n.op != "Const":
        return None
    return to_numpy(n.attr["value"].tensor)


def _scan_lists(cx: Context, ins: Sequence[Value], body_f: str, cond_f: str) -> dict[int, str]:
    """TensorList loop variables a While body only writes, at the round number or always at 0."""
    from ...graphs.names import parse_function_input

    fdef, cond = cx.model.functions.get(body_f), cx.model.functions.get(cond_f)
    if fdef is None or cond is None:
        return {}
    args = [a.name for a in fdef.signature.input_arg]
    body = {n.name: n for n in fdef.node_def}
    uses: dict[str, int] = {}
    for n in fdef.node_def:
        for text in n.input:
            ref = parse_function_input(text)
            if ref.arg is None:
                uses[ref.node] = uses.get(ref.node, 0) + 1
    cond_args = [a.name for a in cond.signature.input_arg]
    cond_used = {parse_function_input(t).node for n in cond.node_def for t in n.input}
    rets = [_through_identities(fdef.ret.get(o.name, ""), body) for o in fdef.signature.output_arg]
    found: dict[int, str] = {}
    for k, v in enumerate(ins):
        if v.dtype < SEQUENCE or v.reserved is None or k >= len(args) or k >= len(cond_args):
            continue
        setter = body.get(rets[k].partition(":")[0])
        if setter is None or setter.op != "TensorListSetItem" or setter.input[0] != args[k] \
                or uses.get(args[k]) != 1 or cond_args[k] in cond_used:
            continue
        index = setter.input[1]
        if index in args:
            j = args.index(index)
            step = body.get(rets[j].partition(":")[0]) if j < len(rets) else None
            start = ins[j].const
            if start is None or start.size != 1 or int(start.reshape(())) != 0 or step is None \
                    or step.op not in ("AddV2", "Add") or uses.get(index, 0) < 1:
                continue
            others = [t for t in step.input if t != index]
            one = _const_node(body, others[0]) if len(others) == 1 and len(step.input) == 2 else None
            if one is not None and one.size == 1 and int(one.reshape(())) == 1:
                found[k] = "all"
        else:
            zero = _const_node(body, index)
            size = v.reserved.const
            if zero is not None and zero.size == 1 and int(zero.reshape(())) == 0 and size is not None \
                    and size.size == 1 and int(size.reshape(())) == 1:
                found[k] = "last"
    return found


def _unchanged(cx: Context, node: Any, fname: str) -> frozenset[int]:
    """Loop variables a While body returns as it got them (directly or through Identity nodes)."""
    fdef = cx.model.functions.get(fname)
    if fdef is None:
        return frozenset()
    args = [a.name for a in fdef.signature.input_arg]
    body = {n.name: n for n in fdef.node_def}
    same = set()
    for k, out in enumerate(fdef.signature.output_arg):
        ref = _through_identities(fdef.ret.get(out.name, ""), body)
        if k < len(args) and ref == args[k]:
            same.add(k)
    return frozenset(same)


def while_(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    cond_f, body_f = attrs.get_func(node, "cond"), attrs.get_func(node, "body")
    first = run_function(cx, node, cond_f, ins)[0]

    def step(body: Context, carried: list[Value]) -> tuple[list[Value], Value]:
        new = run_function(body, node, body_f, carried)
        return new, run_function(body, node, cond_f, new)[0]

    return loop(cx, node, ins, _loop_shapes(node, ins), step, first, _unchanged(cx, node, body_f),
                _scan_lists(cx, ins, body_f, cond_f))


# -- TensorLists -----------------------------------------------------------------------------------

def _seq(cx: Context, node: Any) -> int:
    return SEQUENCE + dtype(node, "element_dtype")


def _elem_shape(v: Value) -> Shape:
    """An element_shape input (-1: unknown dim) as a shape; None when it says nothing."""
    if v.const is None or v.const.ndim != 1:
        return None
    return tuple(int(d) if d >= 0 else None for d in v.const)


def list_from_tensor(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    name = cx.emit1("SplitToSequence", [cx.plain(ins[0])], hint=node.name, axis=0, keepdims=0)
    shape = tuple(ins[0].shape[1:]) if ins[0].shape is not None else _elem_shape(ins[1])
    out = Value(name, _seq(cx, node), shape)
    out.source = ins[0]  # reads can index the tensor itself (an unused sequence is dropped later)
    return [out]


def list_reserve(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    name = cx.emit1("SequenceEmpty", [], hint=node.name, dtype=dtype(node, "element_dtype"))
    out = Value(name, _seq(cx, node), _elem_shape(ins[0]))
    out.reserved = ins[1]
    return [out]


def list_get(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    seq, index = ins[0], ins[1]
    if seq.source is not None:
        name = cx.emit1("Gather", [cx.plain(seq.source), cx.plain(index)], hint=node.name, axis=0)
    else:
        name = cx.emit1("SequenceAt", [cx.plain(seq), cx.plain(index)], hint=node.name)
    shape = _elem_shape(ins[2]) if len(ins) > 2 else None
    return [Value(name, dtype(node, "element_dtype"), shape if shape is not None else seq.shape)]


def list_set(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    seq, index, item = ins[:3]
    if seq.role == "scan-slot":  # the Loop collects the item as a scan output (see loop())
        out = Value(None, seq.dtype, item.shape if item.shape is not None else seq.shape)
        out.role, out.source = "scan-written", item
        return [out]
    s, i, x = cx.plain(seq), cx.plain(index), cx.plain(item)
    # Overwrite when the slot exists, append when it is the next one; a later slot fails at run time.
    exists = cx.emit1("Less", [i, cx.cast(cx.emit1("SequenceLength", [s]), odt.INT32 if index.dtype == odt.INT32
                                          else odt.INT64)])
    helper = cx.model.helper
    replaced = cx.model.unique(f"{node.name}/replaced")
    erased = cx.model.unique(f"{node.name}/erased")
    then_nodes = [helper.make_node("SequenceErase", [s, i], [erased], name=cx.model.unique("n/erase")),
                  helper.make_node("SequenceInsert", [erased, x, i], [replaced], name=cx.model.unique("n/insert"))]
    appended = cx.model.unique(f"{node.name}/appended")
    else_nodes = [helper.make_node("SequenceInsert", [s, x], [appended], name=cx.model.unique("n/append"))]
    elem = seq.shape if seq.shape is not None else item.shape
    result = Value(None, seq.dtype, elem)
    then_g = helper.make_graph(then_nodes, cx.model.unique("set_then"), [], [_type_proto(cx, replaced, result)])
    else_g = helper.make_graph(else_nodes, cx.model.unique("set_else"), [], [_type_proto(cx, appended, result)])
    name = cx.emit1("If", [exists], hint=node.name, then_branch=then_g, else_branch=else_g)
    return [Value(name, seq.dtype, elem)]


def list_stack(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    if ins[0].source is not None and ins[0].role is None:
        return [ins[0].source]  # a list made from a tensor, or filled as a scan output, stacks to that tensor
    name = cx.emit1("ConcatFromSequence", [cx.plain(ins[0])], hint=node.name, axis=0, new_axis=1)
    elem = ins[0].shape
    return [Value(name, dtype(node, "element_dtype"), None if elem is None else (None,) + tuple(elem))]


def list_length(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    name = cx.cast(cx.emit1("SequenceLength", [cx.plain(ins[0])]), odt.INT32, hint=node.name)
    return [Value(name, odt.INT32, ())]


def list_push(cx: Context, node: Any, ins: list[Value]) -> list[Value]:
    name = cx.emit1("SequenceInsert", [cx.plain(ins[0]), cx.plain(ins[1])], hint=node.name)
    return [Value(name, ins[0].dtype, ins[0].shape if ins[0].shape is not None else ins[1].shape)]


TABLE: dict[str, Handler] = {
    "PartitionedCall": call, "StatefulPartitionedCall": call,
    "If": if_, "StatelessIf": if_, "While": while_, "StatelessWhile": while_,
    "TensorListFromTensor": list_from_tensor, "TensorListReserve": list_reserve, "TensorListGetItem": list_get,
    "TensorListSetItem": list_set, "TensorListStack": list_stack, "TensorListLength": list_length,
    "TensorListPushBack": list_push,
}
