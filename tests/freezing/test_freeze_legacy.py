"""Inputs from older TensorFlow eras: session bundles, 0.12 .meta files, train+serve tags, partial op lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tfformats as tff
from graph_cases import freeze_case_report, load_case
from tfformats.freezing.saved_model_v2 import load_and_freeze
from tfformats.graphs.registry import op_def

SAVED_MODELS = Path(__file__).parent.parent / "fixtures" / "saved_models"


def test_session_bundle_fixture_looks_like_tensorflow_0_12_wrote_it() -> None:
    case = load_case("session_bundle")
    meta = tff.read_meta_graph(case.meta)
    assert meta.meta_info_def.tensorflow_version == "0.12.head"
    ops = {n.op for n in meta.graph_def.node}
    assert "Variable" in ops and "VariableV2" not in ops
    assert "RestoreSlice" in ops and "RestoreV2" not in ops
    assert Path(case.meta).name == "export.meta" and (Path(case.meta).parent / "export-00000-of-00001").is_file()
    assert tff.load_checkpoint(case.checkpoint).kind == "V1"


def test_session_bundle_freezes_legacy_variables_from_restore_slice_keys() -> None:
    case = load_case("session_bundle")
    result = freeze_case_report(case)
    by_name = {n.name: n for n in result.graph_def.node}
    reader = tff.load_checkpoint(case.checkpoint)
    assert sorted(result.frozen) == sorted(case.doc["variables"])
    for name in result.frozen:
        assert by_name[name].op == "Const"
        assert result.sources[name].origin == "saver"
        np.testing.assert_array_equal(tff.to_numpy(by_name[name].attr["value"].tensor),
                                      reader.get_tensor(result.sources[name].key))


def test_session_bundle_shard_file_works_as_the_checkpoint_too() -> None:
    case = load_case("session_bundle")
    shard = Path(case.meta).parent / "export-00000-of-00001"
    by_glob = tff.freeze(str(case.meta), str(case.checkpoint), case.outputs)
    by_shard = tff.freeze(str(case.meta), str(shard), case.outputs)
    assert by_glob.SerializeToString(deterministic=True) == by_shard.SerializeToString(deterministic=True)


def test_train_serve_tagged_saved_model_freezes_with_both_tags() -> None:
    case = load_case("train_serve_saved_model")
    assert case.tags == ("train", "serve")
    result = tff.freeze_saved_model(case.saved_model, tags=("serve", "train"))
    assert {n.op for n in result.node} & {"VariableV2", "VarHandleOp"} == set()


def test_keras_export_with_top_level_op_list_uses_the_bundled_registry() -> None:
    model = SAVED_MODELS / "keras_top_level_op_list" / "model"
    meta = tff.read_saved_model(model).meta_graphs[0]
    listed = {op.name for op in meta.meta_info_def.stripped_op_list.op}
    inner = {n.op for f in meta.graph_def.library.function for n in f.node_def}
    assert {"Conv2D", "MatMul"} <= inner - listed  # the ops the old writers left out
    result = load_and_freeze(str(model))
    by_op = {n.op: n for n in result.graph_def.node}
    # stripped default attrs come back from TensorFlow's own OpDefs
    defaults = {a.name for a in op_def("Conv2D").attr if a.HasField("default_value")}
    assert defaults <= set(by_op["Conv2D"].attr)
