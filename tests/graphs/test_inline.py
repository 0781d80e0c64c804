"""Inlining bounds: recursion, exponential call trees and node counts end in GraphError quickly."""

from __future__ import annotations

import pytest

from tfformats.errors import GraphError
from tfformats.graphs.inline import MAX_CALLS, inline_calls
from tfformats.proto import GraphDef


def _doubling_graph(depth: int) -> GraphDef:
    """f0 calls f1 twice, f1 calls f2 twice, ...: 2**depth calls when fully inlined."""
    graph = GraphDef()
    call = graph.node.add(name="call", op="PartitionedCall")
    call.attr["f"].func.name = "f0"
    for level in range(depth + 1):
        fn = graph.library.function.add()
        fn.signature.name = f"f{level}"
        if level == depth:
            fn.node_def.add(name="leaf", op="NoOp")
            continue
        for copy in ("a", "b"):
            node = fn.node_def.add(name=copy, op="PartitionedCall")
            node.attr["f"].func.name = f"f{level + 1}"
    return graph


def test_shallow_call_tree_inlines_every_call() -> None:
    out = inline_calls(_doubling_graph(4), {})
    assert sum(1 for n in out.node if n.name.endswith("/leaf")) == 2 ** 4
    assert not any(n.op == "PartitionedCall" for n in out.node)


def test_exponential_call_tree_is_refused_after_a_bounded_number_of_expansions() -> None:
    with pytest.raises(GraphError, match=f"more than {MAX_CALLS} function calls"):
        inline_calls(_doubling_graph(16), {})


def test_node_budget_is_enforced() -> None:
    with pytest.raises(GraphError, match="more than 10 nodes"):
        inline_calls(_doubling_graph(5), {}, max_nodes=10)


def test_call_budget_can_be_raised_by_the_caller() -> None:
    out = inline_calls(_doubling_graph(6), {}, max_calls=200)
    assert sum(1 for n in out.node if n.name.endswith("/leaf")) == 2 ** 6
    with pytest.raises(GraphError, match="more than 20 function calls"):
        inline_calls(_doubling_graph(6), {}, max_calls=20)


def test_function_calling_itself_is_named_with_its_call_chain() -> None:
    graph = GraphDef()
    graph.node.add(name="call", op="PartitionedCall").attr["f"].func.name = "f"
    for name, callee in (("f", "g"), ("g", "f")):
        fn = graph.library.function.add()
        fn.signature.name = name
        fn.node_def.add(name="again", op="PartitionedCall").attr["f"].func.name = callee
    with pytest.raises(GraphError, match=r"function 'f' calls itself \(f -> g -> f\)"):
        inline_calls(graph, {})


def test_body_op_unknown_to_graph_and_registry_is_named() -> None:
    graph = GraphDef()
    graph.node.add(name="call", op="PartitionedCall").attr["f"].func.name = "f"
    fn = graph.library.function.add()
    fn.signature.name = "f"
    out = fn.signature.output_arg.add()
    out.name, out.type = "y", 1
    fn.node_def.add(name="custom", op="MyCustomOp")
    fn.ret["y"] = "custom:out:0"
    with pytest.raises(GraphError, match=r"op 'MyCustomOp' is neither in the graph's stripped_op_list"):
        inline_calls(graph, {})
