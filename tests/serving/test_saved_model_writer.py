"""Writing a frozen graph as a TF1 SavedModel (no TensorFlow; TensorFlow loads them in tests/oracle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tfformats as tff
from fixture_data import FIXTURES
from graph_cases import freeze_case, freeze_case_report, load_case
from tfformats.cli import main
from tfformats.errors import ArgumentError, GraphError, OutputError
from tfformats.graphs.registry import op_def
from tfformats.serving.saved_model import PREDICT_METHOD, TABLE_INIT_OPS, used_ops, write_saved_model


@pytest.fixture(scope="module")
def frozen_mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("frozen") / "mlp.pb"
    tff.write_graph_def(freeze_case(load_case("mlp")), path)
    return path


def _signature(model_dir: Path, key: str = "serving_default") -> object:
    saved = tff.read_saved_model(model_dir)
    assert len(saved.meta_graphs) == 1
    return saved.meta_graphs[0].signature_def[key]


def test_writes_saved_model_pb_and_empty_variables_folder_like_tensorflows_builder(frozen_mlp, tmp_path) -> None:
    out = tmp_path / "export"
    write_saved_model(frozen_mlp, out, inputs=["x"], outputs=["probs"])
    assert sorted(os.listdir(out)) == ["saved_model.pb", "variables"]
    assert os.listdir(out / "variables") == []
    saved = tff.read_saved_model(out)
    assert saved.saved_model_schema_version == 1
    meta = saved.meta_graphs[0]
    assert list(meta.meta_info_def.tags) == ["serve"]
    assert not meta.HasField("saver_def")
    assert meta.graph_def == tff.read_graph_def(frozen_mlp)


def test_signature_carries_tensor_names_dtypes_and_placeholder_shapes(frozen_mlp, tmp_path) -> None:
    graph = {n.name: n for n in tff.read_graph_def(frozen_mlp).node}
    write_saved_model(frozen_mlp, tmp_path / "m", inputs="x:0", outputs="probs")
    sig = _signature(tmp_path / "m")
    assert sig.method_name == PREDICT_METHOD
    x = sig.inputs["x"]
    assert x.name == "x:0" and x.dtype == graph["x"].attr["dtype"].type
    assert [d.size for d in x.tensor_shape.dim] == [d.size for d in graph["x"].attr["shape"].shape.dim]
    probs = sig.outputs["probs"]
    assert probs.name == "probs:0" and probs.dtype == graph["probs"].attr["T"].type


def test_stripped_op_list_holds_the_standard_opdef_of_every_op_the_graph_runs(frozen_mlp, tmp_path) -> None:
    graph = tff.read_graph_def(frozen_mlp)
    info = write_saved_model(graph, tmp_path / "m", outputs=["probs"])
    ops = tff.read_saved_model(tmp_path / "m").meta_graphs[0].meta_info_def.stripped_op_list.op
    assert [op.name for op in ops] == sorted({n.op for n in graph.node}) == info.ops
    for op in ops:
        assert op == op_def(op.name)
    assert info.unregistered_ops == []


def test_used_ops_include_function_bodies_but_not_function_names() -> None:
    graph = tff.proto.GraphDef()
    fn = graph.library.function.add()
    fn.signature.name = "my_fn"
    fn.node_def.add(name="inner", op="Sqrt")
    graph.node.add(name="call", op="my_fn")
    graph.node.add(name="x", op="Placeholder")
    assert used_ops(graph) == ["Placeholder", "Sqrt"]


def test_keys_can_be_chosen_and_default_inputs_are_the_placeholders_the_outputs_need(frozen_mlp, tmp_path) -> None:
    info = write_saved_model(frozen_mlp, tmp_path / "m", outputs={"scores": "probs:0"})
    assert list(info.inputs) == ["x"]
    sig = _signature(tmp_path / "m")
    assert set(sig.outputs) == {"scores"} and sig.outputs["scores"].name == "probs:0"
    write_saved_model(frozen_mlp, tmp_path / "n", inputs=["features=x"], outputs=["probs"], signature="predict",
                      tags=["serve", "gpu"])
    saved = tff.read_saved_model(tmp_path / "n")
    assert set(saved.meta_graphs[0].meta_info_def.tags) == {"serve", "gpu"}
    assert saved.meta_graphs[0].signature_def["predict"].inputs["features"].name == "x:0"


def test_unknown_tensor_names_are_refused_with_close_names(frozen_mlp, tmp_path) -> None:
    with pytest.raises(ArgumentError, match=r"'prob' \(did you mean 'probs'") as err:
        write_saved_model(frozen_mlp, tmp_path / "m", inputs=["x"], outputs=["prob"])
    assert str(frozen_mlp) in str(err.value)
    with pytest.raises(ArgumentError, match="has 1 output"):
        write_saved_model(frozen_mlp, tmp_path / "m", outputs=["probs:2"])
    assert not (tmp_path / "m").exists()


def test_a_graph_with_variables_is_refused(tmp_path) -> None:
    case = load_case("mlp")
    with pytest.raises(GraphError, match="still has variables"):
        write_saved_model(case.graph, tmp_path / "m", outputs=["probs"])
    with pytest.raises(ArgumentError, match="is a MetaGraphDef, not a frozen GraphDef"):
        write_saved_model(case.meta, tmp_path / "m", outputs=["probs"])
    with pytest.raises(ArgumentError, match="is a SavedModel"):
        write_saved_model(load_case("tf1_saved_model").saved_model, tmp_path / "m", outputs=["probs"])


def test_a_non_empty_folder_is_kept_unless_overwrite(frozen_mlp, tmp_path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        write_saved_model(frozen_mlp, out, outputs=["probs"])
    assert (out / "keep.txt").read_text() == "mine"
    write_saved_model(frozen_mlp, out, outputs=["probs"], overwrite=True)
    assert sorted(os.listdir(out)) == ["saved_model.pb", "variables"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    write_saved_model(frozen_mlp, empty, outputs=["probs"])
    assert (empty / "saved_model.pb").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="a file of this name exists"):
        write_saved_model(frozen_mlp, tmp_path / "file", outputs=["probs"])
    with pytest.raises(OutputError, match="does not exist"):
        write_saved_model(frozen_mlp, tmp_path / "no" / "such", outputs=["probs"])


def test_cli_writes_the_model_and_reports_json(frozen_mlp, tmp_path, capsys) -> None:
    out = tmp_path / "export"
    argv = ["saved-model", str(frozen_mlp), str(out), "--inputs", "x", "--outputs", "probs", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"]["x"] == {"tensor": "x:0", "dtype": "float32", "shape": [-1, 8]}
    assert doc["outputs"]["probs"]["tensor"] == "probs:0"
    assert _signature(out).outputs["probs"].name == "probs:0"


def test_cli_errors_are_one_line_with_exit_2(frozen_mlp, tmp_path, capsys) -> None:
    assert main(["saved-model", str(frozen_mlp), str(tmp_path / "m"), "--outputs", "probz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'probs'" in err
    assert main(["saved-model", str(tmp_path / "missing.pb"), str(tmp_path / "m"), "--outputs", "probs"]) == 2
    assert "missing.pb" in capsys.readouterr().err


def test_a_graph_with_lookup_tables_gets_the_freezers_initializer_as_main_op(tmp_path) -> None:
    case = load_case("estimator_vocab")
    result = freeze_case_report(case)
    assert result.initializer is not None
    info = write_saved_model(result.graph_def, tmp_path / "m", inputs=list(case.feeds), outputs=case.fetches)
    assert info.init_op == result.initializer
    meta = tff.read_saved_model(tmp_path / "m").meta_graphs[0]
    assert list(meta.collection_def["saved_model_main_op"].node_list.value) == [result.initializer]
    table_inits = {n.name for n in result.graph_def.node if n.op in TABLE_INIT_OPS}
    assert table_inits and set(meta.collection_def["table_initializer"].node_list.value) == table_inits
    with pytest.raises(ArgumentError, match="no init op named 'nope'"):
        write_saved_model(result.graph_def, tmp_path / "n", outputs=case.fetches, init_op="nope")


def test_a_graph_without_tables_has_no_main_op(frozen_mlp, tmp_path) -> None:
    info = write_saved_model(frozen_mlp, tmp_path / "m", outputs=["probs"])
    assert info.init_op is None
    assert not tff.read_saved_model(tmp_path / "m").meta_graphs[0].collection_def


def test_a_frozen_tf2_signature_gets_its_original_input_and_output_keys_back(tmp_path) -> None:
    model = FIXTURES / "saved_models" / "multi_io" / "model"
    original = tff.read_saved_model(model).meta_graphs[0].signature_def["serving_default"]
    frozen = tff.freeze_saved_model(model)
    info = write_saved_model(frozen, tmp_path / "m", outputs=sorted(original.outputs))
    assert set(info.inputs) == set(original.inputs)
    assert set(info.outputs) == set(original.outputs)
    for key, spec in info.inputs.items():
        assert spec.dtype == original.inputs[key].dtype
