"""``tfformats freeze --check``: the original graph (variables fed from the checkpoint) against the frozen one."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

import tfformats as tff  # noqa: E402
from fixture_data import FIXTURES  # noqa: E402
from graph_cases import load_case  # noqa: E402
from tfformats.cli import main  # noqa: E402
from tfformats.errors import ArgumentError  # noqa: E402
from tfformats.freezing.freezer import freeze_graph_def, freeze_saved_model_report  # noqa: E402
from tfformats.serving.check import check_freeze_result, compare  # noqa: E402
from tfformats.serving.check_cli import run_check  # noqa: E402
from tfformats.serving.original import VARIABLE_OPS, runnable_original  # noqa: E402

SAVED_MODELS = FIXTURES / "saved_models"


def _mlp() -> tuple[object, object]:
    case = load_case("mlp")
    return case, freeze_graph_def(case.meta, case.checkpoint, case.outputs)


def _perturbed(result: object, node: str, factor: float) -> object:
    """The same freeze result with one Const scaled: what a freezer reading the wrong value would produce."""
    graph = tff.proto.GraphDef()
    graph.CopyFrom(result.graph_def)  # type: ignore[attr-defined]
    const = next(n for n in graph.node if n.name == node)
    value = tff.to_numpy(const.attr["value"].tensor) * factor
    const.attr["value"].tensor.CopyFrom(tff.from_numpy(value.astype(np.float32)))
    return dataclasses.replace(result, graph_def=graph)  # type: ignore[type-var]


def test_tf1_meta_graph_check_passes_and_feeds_every_frozen_variable() -> None:
    case, result = _mlp()
    report = check_freeze_result(result, graph=case.meta, checkpoint=case.checkpoint, outputs=case.outputs)
    assert report.passed
    assert report.variables == len(result.frozen)
    assert [o.name for o in report.outputs] == ["probs"]
    assert report.inputs == {"x:0": (1, 8)}
    assert all(o.max_abs <= 1e-5 for o in report.outputs)


def test_unknown_dims_take_the_size_asked_for() -> None:
    case, result = _mlp()
    report = check_freeze_result(result, graph=case.meta, checkpoint=case.checkpoint, outputs=case.outputs,
                                 unknown_dim=5)
    assert report.inputs == {"x:0": (5, 8)} and report.outputs[0].shape == (5, 4)


def test_a_wrong_constant_in_the_frozen_graph_is_caught() -> None:
    case, result = _mlp()
    report = check_freeze_result(_perturbed(result, "dense2/kernel", 1.5), graph=case.meta,
                                 checkpoint=case.checkpoint, outputs=case.outputs)
    assert not report.passed
    assert report.outputs[0].max_abs > 1e-3 and report.outputs[0].max_rel > 1e-3


def test_the_runnable_original_has_placeholders_where_the_variables_were() -> None:
    case, result = _mlp()
    meta = tff.read_meta_graph(case.meta)
    reader = tff.load_checkpoint(case.checkpoint)
    values = {v: reader.get_tensor(result.sources[v].key) for v in result.frozen}
    graph, fetch = runnable_original(meta.graph_def, values, ["probs:0"])
    ops = {n.name: n.op for n in graph.node}
    assert not any(op in VARIABLE_OPS for op in ops.values())
    assert all(ops[v] == "Placeholder" for v in result.frozen)
    assert len(fetch) == 1 and fetch[0].split(":")[0] in ops
    # The original keeps its own graph otherwise: nothing was turned into a Const.
    assert not any(ops[v] == "Const" for v in values)


@pytest.mark.parametrize("name", ["cond_while_v1", "functional_if_v2"])
def test_control_flow_reading_variables_runs_with_the_variables_fed(name: str) -> None:
    case = load_case(name)  # tf.cond / tf.while_loop (v1 and functional) reading variables, AssignAdd in a branch
    result = freeze_graph_def(case.meta, case.checkpoint, case.outputs)
    report = check_freeze_result(result, graph=case.meta, checkpoint=case.checkpoint, outputs=case.outputs)
    assert report.passed and report.variables == len(result.frozen)
    assert [o.name for o in report.outputs] == case.outputs


def test_tf1_saved_model_check_compares_signature_outputs() -> None:
    case = load_case("tf1_saved_model")
    result = freeze_saved_model_report(case.saved_model)
    report = check_freeze_result(result, saved_model=case.saved_model)
    assert report.passed and [o.name for o in report.outputs] == ["probs"]


@pytest.mark.parametrize("name", ["keras_mlp", "keras_cnn", "embedding", "multi_io", "awkward_output_keys",
                                  "module", "lstm"])
def test_tf2_saved_model_check_inlines_the_signature_and_feeds_its_captured_variables(name: str) -> None:
    model = SAVED_MODELS / name / "model"
    result = freeze_saved_model_report(model)
    report = check_freeze_result(result, saved_model=model)
    doc = json.loads((SAVED_MODELS / name / "expected.json").read_text())
    assert report.passed
    assert {o.name for o in report.outputs} == set(doc["outputs"])
    assert report.variables == len(result.frozen)


def test_tf2_check_of_chosen_output_keys_compares_only_those() -> None:
    model = SAVED_MODELS / "multi_io" / "model"
    result = freeze_saved_model_report(model, output_nodes=["mixed", "total"])
    report = check_freeze_result(result, saved_model=model, outputs=["mixed", "total"])
    assert report.passed and [o.name for o in report.outputs] == ["mixed", "total"]


def test_compare_uses_abs_and_relative_tolerance_and_treats_matching_nans_as_equal() -> None:
    ref = np.array([0.0, 100.0, np.nan], np.float32)
    close = compare("y", ref + np.array([1e-6, 1e-4, 0], np.float32), ref, 1e-5)
    assert close.passed and close.max_abs == pytest.approx(1e-4, rel=1e-2)
    far = compare("y", ref + np.array([0, 1.0, 0], np.float32), ref, 1e-5)
    assert not far.passed and far.max_rel == pytest.approx(1e-2, rel=1e-2)
    assert not compare("y", np.zeros(3), np.zeros(4), 1.0).passed
    assert not compare("y", np.array([np.nan]), np.array([1.0]), 1.0).passed


def test_freeze_check_prints_the_differences_and_exits_0(tmp_path: Path, capsys) -> None:
    case = load_case("mlp")
    argv = ["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "probs", "-o",
            str(tmp_path / "f.pb"), "--check"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "probs: max abs diff" in out and "ok" in out
    assert (tmp_path / "f.pb").is_file()


def test_freeze_check_json_is_part_of_the_one_document(tmp_path: Path, capsys) -> None:
    model = SAVED_MODELS / "keras_mlp" / "model"
    assert main(["freeze", str(model), "-o", str(tmp_path / "f.pb"), "--check", "--check-dim", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    check = doc["check"]
    assert check["passed"] and check["inputs"] == {"serving_default_features:0": [2, 6]}
    assert set(check["outputs"]) == {"output_0"} and check["outputs"]["output_0"]["shape"] == [2, 2]


def test_a_failed_check_gives_exit_status_1(capsys) -> None:
    case, result = _mlp()
    args = argparse.Namespace(check=True, check_tolerance=1e-5, check_dim=1, outputs="probs", json=False,
                              checkpoint=str(case.checkpoint), tags="serve", signature="serving_default")
    status, doc = run_check(args, _perturbed(result, "logits/kernel", -1.0), str(case.meta), None)
    assert status == 1 and doc is not None and not doc["passed"]
    captured = capsys.readouterr()
    assert "DIFFERS" in captured.out and "check failed" in captured.err


def test_check_options_are_validated_and_errors_are_one_line(tmp_path: Path, capsys) -> None:
    case = load_case("mlp")
    base = ["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "probs", "-o", str(tmp_path / "f.pb")]
    assert main(base + ["--check", "--check-tolerance", "nan"]) == 2
    assert "--check-tolerance" in capsys.readouterr().err
    part = load_case("partitioned")  # DynamicPartition: the ONNX converter cannot run the frozen graph
    argv = ["freeze", str(part.meta), "-c", str(part.checkpoint), "--outputs", ",".join(part.outputs), "-o",
            str(tmp_path / "g.pb"), "--check"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--check cannot run the frozen graph" in err and str(part.meta) in err


def test_check_needs_output_names_for_a_graph() -> None:
    case, result = _mlp()
    with pytest.raises(ArgumentError, match="output names"):
        check_freeze_result(result, graph=case.meta, checkpoint=case.checkpoint)
