"""Freezing TF2 SavedModels without TensorFlow: structure of the frozen graph and its Const values.

The SavedModels, their signatures' tensor names and the variable values come
from TensorFlow 2.21 (``tools/fixtures/saved_models.py``); that TensorFlow
runs the frozen graphs with the same outputs is checked by
``tests/oracle/test_freeze_tf2_oracle.py``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfformats import dtypes
from tfformats.errors import FormatError, GraphError, UnsupportedError
from tfformats.freezing.saved_model_v2 import freeze_tf2_report, is_tf2_meta_graph, load_and_freeze
from tfformats.graphs.inline import inline_calls
from tfformats.graphs.names import node_name
from tfformats.graphs.opdefs import op_defs_by_name
from tfformats.proto import SavedModel
from tfformats.tensor_proto import to_numpy

SAVED_MODELS = Path(__file__).parent.parent / "fixtures" / "saved_models"
FREEZABLE = ["module", "keras_mlp", "keras_cnn", "embedding", "lstm", "multi_io", "keras_two_inputs",
             "keras_string_lookup", "keras_top_level_op_list", "module_with_defaults", "lookup_table",
             "vocabulary_assets"]
VARIABLE_OPS = {"VarHandleOp", "VariableV2", "Variable"}
RESOURCE_READS = {"ReadVariableOp", "ResourceGather", "ResourceGatherNd"}
CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}


def _expected(case: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    document = json.loads((SAVED_MODELS / case / "expected.json").read_text())
    with np.load(SAVED_MODELS / case / "expected.npz") as arrays:
        values = {name: arrays[name] for name in arrays.files}
    return document, values


def _model_dir(case: str) -> Path:
    return SAVED_MODELS / case / "model"


def _read_saved_model(model_dir: Path) -> Any:
    saved = SavedModel()
    saved.ParseFromString((model_dir / "saved_model.pb").read_bytes())
    return saved


@pytest.fixture(scope="module", params=FREEZABLE)
def frozen(request: pytest.FixtureRequest) -> tuple[str, Any]:
    return request.param, load_and_freeze(str(_model_dir(request.param)))


def test_fixture_models_are_tf2_saved_models() -> None:
    for case in FREEZABLE:
        saved = _read_saved_model(_model_dir(case))
        assert is_tf2_meta_graph(saved.meta_graphs[0]), case


def test_frozen_graph_has_no_variables_reads_or_calls(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    ops = {n.op for n in result.graph_def.node}
    assert not ops & (VARIABLE_OPS | RESOURCE_READS | CALL_OPS), case
    for fn in result.graph_def.library.function:
        body_ops = {n.op for n in fn.node_def}
        assert not body_ops & (VARIABLE_OPS | RESOURCE_READS), (case, fn.signature.name)
        assert all(arg.type != dtypes.RESOURCE for arg in fn.signature.input_arg), (case, fn.signature.name)


def test_no_node_passes_a_resource_handle(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    for node in result.graph_def.node:
        for attr_name in ("T", "Tin", "dtype"):
            if attr_name in node.attr:
                value = node.attr[attr_name]
                types = list(value.list.type) if value.HasField("list") else [value.type]
                assert dtypes.RESOURCE not in types, (case, node.name, attr_name)


def test_one_placeholder_per_signature_input_keeps_its_tensor_name(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    document, _ = _expected(case)
    placeholders = {n.name: n for n in result.graph_def.node if n.op in ("Placeholder", "PlaceholderWithDefault")}
    wanted = {key: info["tensor_name"] for key, info in document["inputs"].items()}
    assert result.inputs == wanted
    assert set(placeholders) == {node_name(t) for t in wanted.values()}
    for key, info in document["inputs"].items():
        node = placeholders[node_name(info["tensor_name"])]
        assert dtypes.lookup(node.attr["dtype"].type).tf_name == info["dtype"]
        assert [d.size for d in node.attr["shape"].shape.dim] == info["shape"]


def test_one_identity_per_signature_output_named_after_its_key(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    document, _ = _expected(case)
    by_name = {n.name: n for n in result.graph_def.node}
    assert result.outputs == {key: f"{key}:0" for key in document["outputs"]}
    for key, info in document["outputs"].items():
        node = by_name[key]
        assert node.op == "Identity"
        assert dtypes.lookup(node.attr["T"].type).tf_name == info["dtype"]
        assert node_name(node.input[0]) in by_name


def test_const_values_equal_the_variables_tensorflow_reads(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    document, values = _expected(case)
    by_name = {n.name: n for n in result.graph_def.node}
    assert bool(result.frozen) == bool(document["variables"]) and set(result.sources) == set(result.frozen)
    for variable in result.sources.values():
        node = by_name[variable.node]
        assert node.op == "Const"
        expected = values[f"variable/{variable.key}"]
        got = to_numpy(node.attr["value"].tensor)
        assert got.dtype == expected.dtype and got.shape == expected.shape, variable
        np.testing.assert_array_equal(got, expected)


def test_every_input_names_an_existing_node(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    names = {n.name for n in result.graph_def.node}
    assert len(names) == len(result.graph_def.node), "node names must be unique"
    for node in result.graph_def.node:
        for text in node.input:
            assert node_name(text) in names, (case, node.name, text)


def test_library_keeps_only_functions_still_called(frozen: tuple[str, Any]) -> None:
    case, result = frozen
    called = set()
    nodes = list(result.graph_def.node) + [n for f in result.graph_def.library.function for n in f.node_def]
    for node in nodes:
        for value in node.attr.values():
            if value.HasField("func"):
                called.add(value.func.name)
            called.update(f.name for f in value.list.func)
    assert {f.signature.name for f in result.graph_def.library.function} == called


def test_lstm_keeps_its_while_loop_with_frozen_body() -> None:
    result = load_and_freeze(str(_model_dir("lstm")))
    loops = [n for n in result.graph_def.node if n.op in ("While", "StatelessWhile")]
    assert len(loops) == 1
    loop = loops[0]
    functions = {f.signature.name: f for f in result.graph_def.library.function}
    body = functions[loop.attr["body"].func.name]
    assert loop.attr["cond"].func.name in functions
    types = list(loop.attr["T"].list.type)
    assert [a.type for a in body.signature.input_arg] == types
    assert [a.type for a in body.signature.output_arg] == types
    # Loop variables that carried variable handles now carry the values: their
    # _output_shapes must agree with output_shapes or TensorFlow refuses the graph.
    listed = loop.attr["_output_shapes"].list.shape
    declared = loop.attr["output_shapes"].list.shape
    for i, t in enumerate(types):
        if t == dtypes.FLOAT and declared[i].dim:
            assert [d.size for d in listed[i].dim] == [d.size for d in declared[i].dim]


def test_cond_branches_reading_a_variable_get_the_value() -> None:
    result = load_and_freeze(str(_model_dir("module")))
    (cond,) = [n for n in result.graph_def.node if n.op in ("If", "StatelessIf")]
    assert dtypes.RESOURCE not in list(cond.attr["Tin"].list.type)
    functions = {f.signature.name: f for f in result.graph_def.library.function}
    for branch in ("then_branch", "else_branch"):
        fn = functions[cond.attr[branch].func.name]
        assert "ReadVariableOp" not in {n.op for n in fn.node_def}


def test_embedding_lookup_becomes_gather_v2_with_axis_const() -> None:
    result = load_and_freeze(str(_model_dir("embedding")))
    by_name = {n.name: n for n in result.graph_def.node}
    gathers = [n for n in result.graph_def.node if n.op == "GatherV2"]
    assert gathers
    for node in gathers:
        params, axis = by_name[node_name(node.input[0])], by_name[node_name(node.input[2])]
        assert params.op in ("Const", "Identity")
        assert axis.op == "Const" and int(to_numpy(axis.attr["value"].tensor)) == 0


def test_signature_that_assigns_a_variable_is_refused_naming_it() -> None:
    with pytest.raises(GraphError, match=r"variable 'calls' is assigned by node .*AssignAddVariableOp"):
        load_and_freeze(str(_model_dir("assigns_variable")))


def test_unknown_signature_names_the_file_and_lists_the_signatures() -> None:
    with pytest.raises(FormatError, match=r"saved_model\.pb: no signature 'predict'; available: serving_default"):
        load_and_freeze(str(_model_dir("module")), signature="predict")


def test_unbound_variable_handle_is_an_error_naming_the_file(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(_model_dir("module"), model)
    saved = _read_saved_model(model)
    for fn in saved.meta_graphs[0].object_graph_def.concrete_functions.values():
        del fn.bound_inputs[:]
    (model / "saved_model.pb").write_bytes(saved.SerializeToString())
    with pytest.raises(GraphError, match=r"saved_model\.pb: variable node '(w|b|scale)' is not bound"):
        load_and_freeze(str(model))


def test_missing_checkpoint_key_is_an_error_naming_the_checkpoint(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(_model_dir("module"), model)
    saved = _read_saved_model(model)
    meta = saved.meta_graphs[0]
    # Point the captured 'w' at the object of 'b' and 'b' at a function object with no value.
    objects = meta.object_graph_def.nodes
    function_id = next(i for i, n in enumerate(objects) if n.WhichOneof("kind") != "variable" and i > 0)
    objects[function_id].ClearField("function")
    objects[function_id].variable.name = "ghost"
    for fn in meta.object_graph_def.concrete_functions.values():
        fn.bound_inputs[0] = function_id
    (model / "saved_model.pb").write_bytes(saved.SerializeToString())
    with pytest.raises(FormatError, match=r"variables/variables: variable 'ghost'.* has no VARIABLE_VALUE"):
        load_and_freeze(str(model))


def test_tf1_meta_graph_is_refused() -> None:
    saved = _read_saved_model(_model_dir("module"))
    meta = saved.meta_graphs[0]
    meta.ClearField("object_graph_def")
    with pytest.raises(UnsupportedError, match="not a TF2 SavedModel"):
        freeze_tf2_report(saved, meta, str(_model_dir("module")))


def test_freeze_saved_model_front_door_dispatches_to_the_tf2_freezer() -> None:
    from tfformats.freezing import freeze_saved_model

    frozen = freeze_saved_model(str(_model_dir("keras_mlp")))
    ops = {n.op for n in frozen.node}
    assert "Placeholder" in ops and not ops & (VARIABLE_OPS | CALL_OPS)


# -- inlining ---------------------------------------------------------------------------


def _meta(case: str) -> Any:
    return _read_saved_model(_model_dir(case)).meta_graphs[0]


def test_inlining_maps_list_outputs_to_flat_indices() -> None:
    """``Unpack:output:2``, ``IdentityN:output:1`` and ``Split:output:1`` become ``node:2`` etc."""
    meta = _meta("multi_io")
    op_defs = op_defs_by_name(meta.meta_info_def.stripped_op_list)
    graph = inline_calls(meta.graph_def, op_defs)
    by_name = {n.name: n for n in graph.node}
    found = {}
    for node in graph.node:
        for text in node.input:
            src = by_name.get(node_name(text))
            if src is not None and src.op in ("Unpack", "IdentityN", "Split"):
                found.setdefault(src.op, set()).add(text.rpartition(":")[2] if ":" in text else "0")
    assert "2" in found["Unpack"] and "1" in found["IdentityN"] and "1" in found["Split"]


def test_inlined_calls_leave_a_noop_that_keeps_control_dependencies() -> None:
    meta = _meta("module")
    op_defs = op_defs_by_name(meta.meta_info_def.stripped_op_list)
    graph = inline_calls(meta.graph_def, op_defs)
    by_name = {n.name: n for n in graph.node}
    done = by_name["StatefulPartitionedCall"]
    assert done.op == "NoOp"
    assert done.input and all(text.startswith("^") for text in done.input)
    assert not any(n.op in CALL_OPS and n.attr["f"].func.name.startswith("__inference___call__")
                   for n in graph.node)
    names = [n.name for n in graph.node]
    assert len(names) == len(set(names))


def test_inlining_uses_the_callers_inputs_for_function_arguments() -> None:
    meta = _meta("module")
    op_defs = op_defs_by_name(meta.meta_info_def.stripped_op_list)
    graph = inline_calls(meta.graph_def, op_defs)
    reads = [n for n in graph.node if n.op == "ReadVariableOp" and n.name.startswith("StatefulPartitionedCall/")]
    assert {node_name(n.input[0]) for n in reads} == {"w", "b"}


def test_callers_control_inputs_reach_body_nodes_without_body_inputs() -> None:
    meta = _meta("module")
    graph_def = type(meta.graph_def)()
    graph_def.CopyFrom(meta.graph_def)
    (call,) = [n for n in graph_def.node if n.name == "StatefulPartitionedCall"]
    call.input.append("^NoOp")
    op_defs = op_defs_by_name(meta.meta_info_def.stripped_op_list)
    graph = inline_calls(graph_def, op_defs)
    inlined = [n for n in graph.node if n.name.startswith("StatefulPartitionedCall/")]
    names = {n.name for n in inlined}
    sources = [n for n in inlined if not any(node_name(i) in names for i in n.input)]
    assert sources
    for node in sources:
        assert "^NoOp" in node.input, node.name
    for node in inlined:
        if node not in sources:
            assert "^NoOp" not in node.input, node.name


def test_static_hash_table_keeps_its_initializer_under_one_reported_init_node() -> None:
    result = load_and_freeze(str(_model_dir("lookup_table")))
    by_name = {n.name: n for n in result.graph_def.node}
    assert result.initializer == "init_all_tables" and by_name["init_all_tables"].op == "NoOp"
    [table] = result.tables
    assert by_name[table.table].op == "HashTableV2" and table.source == "tensors"
    init = by_name[table.initializer]
    assert init.op == "LookupTableImportV2" and node_name(init.input[0]) == table.table
    assert by_name["init_all_tables"].input == [f"^{table.initializer}"]
    assert not any(n.op in CALL_OPS for n in result.graph_def.node)


def test_output_keys_that_are_not_node_names_get_valid_node_names() -> None:
    document, _ = _expected("awkward_output_keys")
    result = load_and_freeze(str(_model_dir("awkward_output_keys")))
    assert set(result.outputs) == set(document["outputs"])
    assert result.outputs["out put"] == "out_put:0" and result.outputs["x:1"] == "x_1:0"
    assert result.outputs["_hidden"] == "out_hidden:0"  # a node name cannot start with "_"
    by_name = {n.name: n for n in result.graph_def.node}
    for key, tensor in result.outputs.items():
        node = by_name[node_name(tensor)]
        assert node.op == "Identity"
        assert dtypes.lookup(node.attr["T"].type).tf_name == document["outputs"][key]["dtype"]
    # Node names TensorFlow's graph import accepts.
    assert all(re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*", n.name) for n in result.graph_def.node)


def test_output_key_equal_to_a_variable_node_name_renames_the_variable() -> None:
    _, values = _expected("awkward_output_keys")
    result = load_and_freeze(str(_model_dir("awkward_output_keys")))
    assert result.outputs["scale"] == "scale:0"
    by_name = {n.name: n for n in result.graph_def.node}
    assert by_name["scale"].op == "Identity"
    [variable] = result.sources.values()
    assert variable.node == "scale_1" and by_name["scale_1"].op == "Const"
    np.testing.assert_array_equal(to_numpy(by_name["scale_1"].attr["value"].tensor),
                                  values[f"variable/{variable.key}"])


def test_defaulted_input_stays_a_placeholder_with_its_default() -> None:
    document, _ = _expected("module_with_defaults")
    result = load_and_freeze(str(_model_dir("module_with_defaults")))
    by_name = {n.name: n for n in result.graph_def.node}
    node = by_name[node_name(result.inputs["scale"])]
    assert node.op == "PlaceholderWithDefault"
    default = by_name[node_name(node.input[0])]
    assert default.op == "Const"
    assert to_numpy(default.attr["value"].tensor) == np.float32(document["notes"]["defaults"]["scale"])
    assert by_name[node_name(result.inputs["x"])].op == "Placeholder"
