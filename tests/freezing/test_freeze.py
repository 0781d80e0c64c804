"""Freezing TF-built fixtures without TensorFlow: structure, values, pruning and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tfformats as tff
import tfformats.freezing as fz
from graph_cases import case_names, freeze_case, load_case
from tfformats.errors import FormatError, GraphError
from tfformats.freezing.variables import VARIABLE_OPS
from tfformats.graphs import read_graph_def, read_meta_graph

CASES = case_names()
TABLE_OPS = {"HashTableV2", "HashTable", "MutableHashTableV2"}
# Cases TensorFlow's converter handled; tables are left out because TF drops their initializers.
TF_CONVERTED = [c for c in CASES if "nodes" in load_case(c).tf_frozen
                and not {op for _, op in load_case(c).tf_frozen["nodes"]} & TABLE_OPS]
LEFTOVER_OPS = VARIABLE_OPS | {"Assign", "AssignVariableOp", "AssignAdd", "AssignSub", "SaveV2", "RestoreV2",
                               "ReadVariableOp", "ResourceGather", "RefSwitch", "RefEnter", "RefIdentity",
                               "RefMerge", "RefExit", "RefNextIteration"}


def _const(graph_def: object, name: str) -> np.ndarray:
    node = next(n for n in graph_def.node if n.name == name)  # type: ignore[attr-defined]
    assert node.op == "Const"
    return tff.to_numpy(node.attr["value"].tensor)


@pytest.mark.parametrize("name", CASES)
def test_frozen_graph_has_no_variable_assign_or_save_nodes(name: str) -> None:
    frozen = freeze_case(load_case(name))
    ops = {n.op for n in frozen.node} | {n.op for f in frozen.library.function for n in f.node_def}
    assert not ops & LEFTOVER_OPS
    assert not [n.name for n in frozen.node if n.name.startswith("save/")]


@pytest.mark.parametrize("name", TF_CONVERTED)
def test_frozen_node_names_equal_tensorflow_converter(name: str) -> None:
    case = load_case(name)
    ours = [n.name for n in freeze_case(case).node]
    assert sorted(ours) == sorted(n for n, _ in case.tf_frozen["nodes"])


@pytest.mark.parametrize("name", CASES)
def test_frozen_graph_clears_devices_and_keeps_colocation_targets(name: str) -> None:
    frozen = freeze_case(load_case(name))
    names = {n.name for n in frozen.node}
    for node in frozen.node:
        assert node.device == ""
        for entry in node.attr["_class"].list.s if "_class" in node.attr else []:
            assert entry.decode()[len("loc:@"):] in names


@pytest.mark.parametrize("name", [c for c in CASES if load_case(c).checkpoint is not None])
def test_const_values_equal_checkpoint_values(name: str) -> None:
    case = load_case(name)
    result = fz.freeze_graph_def(str(case.meta), str(case.checkpoint), case.outputs, **case.freeze_options())
    assert result.frozen
    reader = tff.load_checkpoint(case.checkpoint)
    for var in result.frozen:
        src = result.sources[var]
        want = reader.get_tensor(src.key)
        if src.extents is not None:
            want = want[tuple(slice(e.start, e.start + e.length) for e in src.extents)]
        np.testing.assert_array_equal(_const(result.graph_def, var), want)


def test_saver_dict_maps_variables_to_the_names_it_stored() -> None:
    case = load_case("saver_dict")
    result = fz.freeze_graph_def(str(case.meta), str(case.checkpoint), case.outputs)
    assert {v: s.key for v, s in result.sources.items()} == {"w": "stored/weights", "b": "stored/bias"}
    np.testing.assert_array_equal(_const(result.graph_def, "w"), tff.load_variable(case.checkpoint, "stored/weights"))


def test_saver_dict_mapping_is_read_from_a_plain_graph_with_its_saver_nodes() -> None:
    case = load_case("saver_dict")
    result = fz.freeze_graph_def(str(case.graph), str(case.checkpoint), case.outputs)
    assert result.sources["w"].key == "stored/weights"


def test_saver_dict_without_saver_nodes_fails_naming_the_missing_key() -> None:
    case = load_case("saver_dict")
    graph = read_graph_def(case.graph)
    stripped = type(graph)()
    stripped.node.extend(n for n in graph.node if not n.name.startswith("save/"))
    with pytest.raises(GraphError, match="'w'.*not in checkpoint.*model.ckpt.*keys: 'stored/bias', 'stored/weights'"):
        fz.freeze(stripped, str(case.checkpoint), case.outputs)


def test_variable_map_overrides_the_default_key() -> None:
    case = load_case("seed_ema")
    frozen = fz.freeze(str(case.meta), str(case.checkpoint), case.outputs,
                       variable_map={"v": "v/ExponentialMovingAverage"})
    np.testing.assert_array_equal(_const(frozen, "v"), tff.load_variable(case.checkpoint, "v/ExponentialMovingAverage"))


def test_variable_map_to_a_tensor_of_another_shape_is_refused() -> None:
    case = load_case("saver_dict")
    with pytest.raises(GraphError, match="'b' has shape \\[2\\].*\\[2, 2\\]"):
        fz.freeze(str(case.meta), str(case.checkpoint), case.outputs, variable_map={"b": "stored/weights"})


def test_keep_freezes_only_the_listed_variables() -> None:
    case = load_case("saver_dict")
    frozen = fz.freeze(str(case.meta), str(case.checkpoint), case.outputs, keep=["b"])
    ops = {n.name: n.op for n in frozen.node}
    assert (ops["w"], ops["b"]) == ("VariableV2", "Const")


def test_use_ema_freezes_moving_averages() -> None:
    case = load_case("seed_ema")
    result = fz.freeze_graph_def(str(case.meta), str(case.checkpoint), case.outputs, use_ema=True)
    assert result.sources["v"].key == "v/ExponentialMovingAverage"
    ema = tff.load_variable(case.checkpoint, "v/ExponentialMovingAverage")
    np.testing.assert_array_equal(_const(result.graph_def, "v"), ema)
    assert not np.array_equal(ema, tff.load_variable(case.checkpoint, "v"))


def test_partitioned_parts_hold_their_slices() -> None:
    case = load_case("partitioned")
    result = fz.freeze_graph_def(str(case.meta), str(case.checkpoint), case.outputs)
    full = tff.load_variable(case.checkpoint, "emb")
    parts = sorted(v for v in result.frozen if v.startswith("emb/part_"))
    assert len(parts) == 3
    np.testing.assert_array_equal(np.concatenate([_const(result.graph_def, p) for p in parts]), full)


def test_skip_leaves_variable_and_reports_it() -> None:
    case = load_case("mlp")
    result = fz.freeze_graph_def(str(case.meta), str(case.checkpoint), case.outputs, skip="dense1/kernel")
    assert result.kept == ["dense1/kernel"]
    assert "dense1/kernel" not in result.frozen
    assert next(n.op for n in result.graph_def.node if n.name == "dense1/kernel") == "VariableV2"


def test_pruning_drops_training_and_saver_nodes() -> None:
    case = load_case("mlp")
    meta = read_meta_graph(case.meta)
    frozen = freeze_case(case)
    assert len(frozen.node) < len(meta.graph_def.node) / 4
    assert not [n.name for n in frozen.node if "Adam" in n.name or n.name.startswith(("gradients", "save"))]


def test_unknown_output_suggests_close_names() -> None:
    case = load_case("mlp")
    with pytest.raises(GraphError, match="'prob'.*did you mean 'probs'"):
        fz.freeze(str(case.meta), str(case.checkpoint), ["prob"])


def test_freezing_zero_variables_of_a_graph_with_variables_warns() -> None:
    case = load_case("seed_xyb")
    with pytest.warns(fz.FreezeWarning, match="froze 0 variables"):
        fz.freeze(str(case.meta), str(case.checkpoint), ["x"])


def test_freezing_outputs_that_need_variables_does_not_warn() -> None:
    case = load_case("seed_xyb")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fz.freeze(str(case.meta), str(case.checkpoint), case.outputs)


def test_ref_ops_become_plain_ops_and_assign_add_becomes_add() -> None:
    frozen = freeze_case(load_case("cond_while_v1"))
    ops = {n.name: n.op for n in frozen.node}
    assert ops["cond_1/AssignAdd"] == "Add"
    assert ops["cond_1/AssignAdd/Switch"] == "Switch"


def test_functional_if_branches_take_values_not_resources() -> None:
    frozen = freeze_case(load_case("functional_if_v2"))
    callers = [n for n in frozen.node if n.op in ("If", "StatelessIf", "While", "StatelessWhile")]
    assert callers
    for node in callers:
        types = node.attr["Tin"].list.type if "Tin" in node.attr else node.attr["T"].list.type
        assert tff.proto.DT_RESOURCE not in types
    for fn in frozen.library.function:
        assert all(a.type != tff.proto.DT_RESOURCE for a in fn.signature.input_arg), fn.signature.name


def test_resource_gather_becomes_gather_v2_with_appended_axis() -> None:
    frozen = freeze_case(load_case("resource_embedding"))
    gathers = [n for n in frozen.node if n.op == "GatherV2"]
    assert gathers
    assert frozen.node[-1].name == gathers[0].name + "/axis"
    assert gathers[0].input[2] == frozen.node[-1].name


def test_freeze_saved_model_uses_signature_outputs() -> None:
    case = load_case("tf1_saved_model")
    result = fz.freezer.freeze_saved_model_report(case.saved_model)
    assert "probs" in {n.name for n in result.graph_def.node}
    assert sorted(result.frozen) == ["hidden/bias", "hidden/kernel", "out/bias", "out/kernel"]


def test_freeze_saved_model_rejects_unknown_tags_listing_available(tmp_path) -> None:
    case = load_case("tf1_saved_model")
    with pytest.raises(tff.FormatError, match="available tag sets: serve"):
        fz.freeze_saved_model(case.saved_model, tags=("train",))


class _DictReader(tff.CheckpointReader):
    """A checkpoint held in memory, for structure-only tests."""

    format = "V2"
    prefix = "memory"

    def __init__(self, values: dict) -> None:
        self.values = values

    def tensor_infos(self) -> dict:
        from tfformats import dtypes

        return {k: tff.TensorInfo(k, dtypes.from_numpy(v.dtype), v.shape, v.nbytes, 0) for k, v in self.values.items()}

    def get_tensor(self, name: str) -> np.ndarray:
        return self.values[name].copy()

    def close(self) -> None:
        pass


def test_ref_loop_ops_become_plain_ops_with_base_types() -> None:
    from tfformats.proto import DT_FLOAT, GraphDef, parse_text

    graph = parse_text("""
        node { name: "v" op: "VariableV2" attr { key: "dtype" value { type: DT_FLOAT } } }
        node { name: "enter" op: "RefEnter" input: "v" attr { key: "T" value { type: DT_FLOAT } } }
        node { name: "ident" op: "RefIdentity" input: "enter" attr { key: "T" value { type: DT_FLOAT } } }
        node { name: "out" op: "Neg" input: "ident" attr { key: "T" value { type: DT_FLOAT } } }
    """, GraphDef())
    value = np.array([1.5, -2.0], np.float32)
    frozen = fz.freeze(graph, _DictReader({"v": value}), ["out"])
    assert [n.op for n in frozen.node] == ["Const", "Enter", "Identity", "Neg"]
    assert [n.attr["T"].type for n in frozen.node[1:3]] == [DT_FLOAT, DT_FLOAT]
    np.testing.assert_array_equal(_const(frozen, "v"), value)


def test_read_variable_keeps_its_control_inputs() -> None:
    from tfformats.proto import GraphDef, parse_text

    graph = parse_text("""
        node { name: "dep" op: "NoOp" }
        node { name: "v" op: "VarHandleOp" attr { key: "dtype" value { type: DT_FLOAT } } }
        node { name: "read" op: "ReadVariableOp" input: "v" input: "^dep"
               attr { key: "dtype" value { type: DT_FLOAT } } }
    """, GraphDef())
    frozen = fz.freeze(graph, _DictReader({"v": np.zeros(2, np.float32)}), ["read"])
    read = next(n for n in frozen.node if n.name == "read")
    assert (read.op, list(read.input)) == ("Identity", ["v", "^dep"])


@pytest.mark.parametrize("suffix, header, words", [
    (".keras", b"PK\x03\x04", "zip archive"),
    (".h5", b"\x89HDF\r\n\x1a\n", "HDF5 file"),
    (".tflite", b"\x1c\x00\x00\x00TFL3", "TensorFlow Lite"),
])
def test_keras_and_tflite_files_are_named_not_parsed_as_graphs(tmp_path, suffix: str, header: bytes,
                                                               words: str) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(header + bytes(range(256)))
    case = load_case("mlp")
    with pytest.raises(FormatError, match=f"model{suffix} at offset 0: .*{words}"):
        fz.freeze(path, case.checkpoint, case.outputs)
    with pytest.raises(FormatError, match=words):
        tff.read_graph_def(path)
