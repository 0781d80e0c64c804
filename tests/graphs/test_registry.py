"""The bundled registry of standard OpDefs and the resolver that prefers a graph's own OpDefs."""

from __future__ import annotations

import zlib

import pytest

from tfformats.errors import FormatError, GraphError
from tfformats.graphs.registry import (OpResolver, bundled_registry, op_def, parse_registry, registry_version,
                                       standard_op_names)
from tfformats.proto import MetaGraphDef, OpList


def test_bundled_registry_knows_ops_old_stripped_op_lists_leave_out() -> None:
    matmul = op_def("MatMul")
    assert matmul is not None
    assert [a.name for a in matmul.output_arg] == ["product"]
    assert {a.name for a in matmul.attr} >= {"transpose_a", "transpose_b", "T"}
    assert op_def("ReadVariableOp") is not None


def test_custom_op_is_absent_from_the_registry() -> None:
    assert op_def("MyCompanyCustomOp") is None
    assert "MyCompanyCustomOp" not in standard_op_names()


def test_registry_keeps_no_documentation() -> None:
    for op in bundled_registry().ops.values():
        assert not op.summary and not op.description
        assert all(not a.description for a in list(op.input_arg) + list(op.output_arg))


def test_registry_names_its_tensorflow_version_and_agrees_with_the_audit_list() -> None:
    from tfformats.audit import default_catalog

    catalog = default_catalog()
    assert registry_version() == catalog.tf_version
    assert standard_op_names() == catalog.standard_ops


def test_resolver_prefers_the_graph_own_op_def() -> None:
    meta = MetaGraphDef()
    own = meta.meta_info_def.stripped_op_list.op.add()
    own.CopyFrom(op_def("MatMul"))
    own.attr[0].default_value.b = True  # a writer with different defaults
    resolver = OpResolver(meta)
    assert resolver.get("MatMul") is not op_def("MatMul")
    assert resolver.get("MatMul").attr[0].default_value.b
    assert resolver.get("Conv2D") is op_def("Conv2D")
    assert "Conv2D" in resolver and "Nope" not in resolver


def test_resolver_names_an_op_neither_source_defines() -> None:
    resolver = OpResolver(OpList())
    with pytest.raises(GraphError, match=r"function f: op 'FancyOp' is neither in the graph's stripped_op_list"):
        resolver.require("FancyOp", "function f")


def test_resolver_without_registry_uses_only_the_graph_op_list() -> None:
    assert OpResolver(OpList(), use_registry=False).get("MatMul") is None
    assert len(OpResolver(None)) == len(standard_op_names())


@pytest.mark.parametrize("data, message", [
    (b"", "no 'tensorflow <version>' header"),
    (b"tensorflow 2.21.0\nnot zlib", "damaged"),
    (b"tensorflow 2.21.0\n" + zlib.compress(b"\xff\xff\xff"), "not a serialized OpList"),
])
def test_damaged_registry_data_is_a_format_error(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_registry(data, "standard_ops.bin")


def test_registry_bomb_is_refused_before_inflating_it_all() -> None:
    data = b"tensorflow 2.21.0\n" + zlib.compress(b"\0" * (70 << 20))
    with pytest.raises(FormatError, match="inflates to more than"):
        parse_registry(data)


def test_stripped_defaults_come_back_for_ops_the_op_list_leaves_out() -> None:
    from tfformats.graphs.opdefs import add_default_attrs_to_graph
    from tfformats.proto import GraphDef

    graph = GraphDef()
    node = graph.node.add(name="mm", op="MatMul")
    fn = graph.library.function.add()
    inner = fn.node_def.add(name="conv", op="Conv2D")
    added = add_default_attrs_to_graph(graph, OpList())
    assert added > 0
    assert node.attr["transpose_a"].b is False and "transpose_a" in node.attr
    assert inner.attr["data_format"].s == b"NHWC"
