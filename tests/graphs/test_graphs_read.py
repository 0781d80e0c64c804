"""Reading GraphDef, MetaGraphDef and SavedModel files, and the graph helpers (no TensorFlow)."""

from __future__ import annotations

import shutil

import pytest

from graph_cases import load_case
from tfformats.errors import FormatError, GraphError
from tfformats.graphs import names
from tfformats.graphs.opdefs import add_default_attrs_to_graph, flat_output_index, op_defs_by_name
from tfformats.graphs.prune import extract_sub_graph
from tfformats.graphs.read import (detect_kind, read_graph_def, read_message, read_meta_graph, read_saved_model,
                                   select_meta_graph, write_graph_def)
from tfformats.proto import format_text


def test_text_and_binary_graph_written_by_tensorflow_read_the_same() -> None:
    case = load_case("seed_add")
    assert read_graph_def(case.dir / "graph.pbtxt") == read_graph_def(case.graph)


def test_format_is_detected_from_content_not_suffix(tmp_path) -> None:
    case = load_case("seed_add")
    swapped_text = tmp_path / "graph.pb"
    swapped_bin = tmp_path / "graph.pbtxt"
    shutil.copy(case.dir / "graph.pbtxt", swapped_text)
    shutil.copy(case.graph, swapped_bin)
    assert read_graph_def(swapped_text) == read_graph_def(swapped_bin) == read_graph_def(case.graph)


def test_read_message_tells_graph_meta_and_saved_model_apart(tmp_path) -> None:
    case = load_case("mlp")
    assert read_message(case.graph)[0] == "graph"
    renamed = tmp_path / "model.bin"
    shutil.copy(case.meta, renamed)
    assert read_message(renamed)[0] == "meta"
    assert read_message(load_case("tf1_saved_model").saved_model)[0] == "saved_model"
    meta = read_meta_graph(case.meta)
    assert detect_kind(format_text(meta).encode()) == "meta"
    assert detect_kind(format_text(meta.graph_def).encode()) == "graph"


def test_saved_model_pb_is_preferred_over_pbtxt(tmp_path) -> None:
    src = load_case("tf1_saved_model").saved_model
    shutil.copytree(src, tmp_path / "sm")
    (tmp_path / "sm" / "saved_model.pbtxt").write_text("saved_model_schema_version: 99\n")
    assert read_saved_model(tmp_path / "sm").saved_model_schema_version == 1
    (tmp_path / "sm" / "saved_model.pb").unlink()
    assert read_saved_model(tmp_path / "sm").saved_model_schema_version == 99


def test_select_meta_graph_uses_tag_set_equality() -> None:
    saved = read_saved_model(load_case("tf1_saved_model").saved_model)
    assert list(select_meta_graph(saved, ["serve"]).meta_info_def.tags) == ["serve"]
    with pytest.raises(FormatError, match="available tag sets: serve"):
        select_meta_graph(saved, ["serve", "gpu"])


def test_garbage_text_fails_naming_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("node { name: \"x\" op: }\n")
    with pytest.raises(FormatError, match="bad.pbtxt: not a text-format GraphDef"):
        read_graph_def(bad)


def test_truncated_binary_fails_naming_the_file(tmp_path) -> None:
    data = load_case("mlp").graph.read_bytes()
    bad = tmp_path / "cut.pb"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="cut.pb: not a binary GraphDef"):
        read_graph_def(bad)


def test_missing_saved_model_file_is_file_not_found(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no saved_model.pb"):
        read_saved_model(tmp_path)


def test_write_graph_def_round_trips_binary_and_text(tmp_path) -> None:
    graph = read_graph_def(load_case("mlp").graph)
    write_graph_def(graph, tmp_path / "g.pb")
    write_graph_def(graph, tmp_path / "g.pbtxt", as_text=True)
    assert read_graph_def(tmp_path / "g.pb") == graph
    assert read_graph_def(tmp_path / "g.pbtxt") == graph
    assert (tmp_path / "g.pbtxt").read_text().startswith("node {")


@pytest.mark.parametrize("text, expected", [("a", ("a", 0, False)), ("a:3", ("a", 3, False)),
                                            ("^a/b", ("a/b", -1, True)), ("x:y", ("x:y", 0, False))])
def test_parse_input(text: str, expected: tuple) -> None:
    assert tuple(names.parse_input(text)) == expected


def test_format_input_is_inverse_of_parse_input() -> None:
    for text in ["a", "a:1", "^a", "a/b:12"]:
        ref = names.parse_input(text)
        assert names.format_input(ref.node, ref.index, control=ref.control) == text


@pytest.mark.parametrize("text, expected", [("MatMul:product:0", ("MatMul", "product", 0, False)),
                                            ("x", ("x", None, 0, False)), ("^n", ("n", None, -1, True)),
                                            ("Split:output:2", ("Split", "output", 2, False))])
def test_parse_function_input(text: str, expected: tuple) -> None:
    ref = names.parse_function_input(text)
    assert tuple(ref) == expected
    assert names.format_function_input(ref) == text


def test_extract_sub_graph_follows_colocation_and_keeps_order() -> None:
    meta = read_meta_graph(load_case("mlp").meta)
    sub = extract_sub_graph(meta.graph_def, ["dense1/kernel/read"])
    assert [n.name for n in sub.node] == ["dense1/kernel", "dense1/kernel/read"]
    order = {n.name: i for i, n in enumerate(meta.graph_def.node)}
    full = extract_sub_graph(meta.graph_def, ["probs:0"])
    assert [order[n.name] for n in full.node] == sorted(order[n.name] for n in full.node)


def test_extract_sub_graph_unknown_output_suggests_names() -> None:
    meta = read_meta_graph(load_case("mlp").meta)
    with pytest.raises(GraphError, match="did you mean 'probs'"):
        extract_sub_graph(meta.graph_def, ["prbs"])


def test_opdefs_give_output_layout_and_default_attrs() -> None:
    meta = read_meta_graph(load_case("mlp").meta)
    ops = op_defs_by_name(meta.meta_info_def.stripped_op_list)
    matmul = next(n for n in meta.graph_def.node if n.op == "MatMul")
    assert flat_output_index(ops["MatMul"], matmul.attr, "product", 0) == 0
    graph = type(meta.graph_def)()
    graph.CopyFrom(meta.graph_def)
    for node in graph.node:
        if node.op == "MatMul":
            del node.attr["transpose_a"]
    assert add_default_attrs_to_graph(graph, meta.meta_info_def.stripped_op_list) >= 1
    assert all(n.attr["transpose_a"].b is False for n in graph.node if n.op == "MatMul")
