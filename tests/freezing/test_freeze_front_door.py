"""One front door: ``tfformats freeze`` and ``tff.freeze*`` give the same bytes; options are never ignored."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import tfformats as tff
from graph_cases import case_names, cli_freeze_args, freeze_case_report, load_case
from tfformats.cli import main
from tfformats.errors import GraphError
from tfformats.freezing.freezer import freeze_saved_model_report
from tfformats.graphs.read import write_graph_def

SAVED_MODELS = Path(__file__).parent.parent / "fixtures" / "saved_models"
TF2_FREEZABLE = ["module", "keras_mlp", "keras_cnn", "embedding", "lstm", "multi_io", "awkward_output_keys",
                 "keras_two_inputs", "keras_string_lookup", "keras_top_level_op_list", "module_with_defaults",
                 "lookup_table", "vocabulary_assets"]
TF2_REFUSED = {"assigns_variable": "assigned by node", "mutable_table": "MutableHashTableV2",
               "table_file_not_owned": "not an asset"}


def test_every_public_name_is_what_it_says_after_importing_every_submodule() -> None:
    for info in pkgutil.walk_packages(tff.__path__, "tfformats."):
        if info.name.endswith(".__main__"):  # running it would start the command line
            continue
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # optional extras (onnx, fsspec ...) may be absent
            if not exc.name or exc.name.startswith("tfformats"):
                raise
    for name in tff.__all__:
        value = getattr(tff, name)
        if name in ("proto", "dtypes"):
            assert inspect.ismodule(value), name
        else:
            assert not inspect.ismodule(value), f"tff.{name} is the module {value.__name__}"
            assert callable(value), name
    assert tff.freeze.__module__ == "tfformats.freezing.freezer"
    assert tff.freeze_saved_model.__name__ == "freeze_saved_model"


def _library_bytes(case_name: str, tmp_path: Path) -> bytes:
    out = tmp_path / "library.pb"
    write_graph_def(freeze_case_report(load_case(case_name)).graph_def, out)
    return out.read_bytes()


@pytest.mark.parametrize("name", case_names())
def test_cli_and_library_give_the_same_graph(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.pb"
    assert main(cli_freeze_args(load_case(name), out)) == 0
    capsys.readouterr()
    assert out.read_bytes() == _library_bytes(name, tmp_path)


@pytest.mark.parametrize("name", TF2_FREEZABLE)
def test_cli_and_library_give_the_same_graph_for_tf2_saved_models(name: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = SAVED_MODELS / name / "model"
    out = tmp_path / "cli.pb"
    assert main(["freeze", str(model), "-o", str(out), "--json"]) == 0
    capsys.readouterr()
    assert out.read_bytes() == tff.freeze_saved_model(model).SerializeToString(deterministic=True)


@pytest.mark.parametrize("name", case_names(refused=True))
def test_cli_refuses_what_the_library_refuses_in_one_line(name: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    case = load_case(name)
    out = tmp_path / "f.pb"
    assert main(cli_freeze_args(case, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfformats freeze: error: ") and "Traceback" not in err
    with pytest.raises(GraphError) as info:
        freeze_case_report(case)
    assert str(info.value) in err
    assert not out.exists()


@pytest.mark.parametrize("name, message", sorted(TF2_REFUSED.items()))
def test_tf2_refusals_are_one_line_on_the_command_line(name: str, message: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["freeze", str(SAVED_MODELS / name / "model"), "-o", str(tmp_path / "f.pb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_cli_reports_the_table_initializer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["freeze", str(SAVED_MODELS / "vocabulary_assets" / "model"), "-o", str(tmp_path / "f.pb"),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["initializer"] == "init_all_tables" and len(doc["tables"]) == 2


# -- TF2 options: honoured where they mean something, refused where they name nothing --------------------


def test_tf2_outputs_selects_signature_output_keys() -> None:
    model = SAVED_MODELS / "multi_io" / "model"
    full = freeze_saved_model_report(model)
    key = sorted(full.outputs)[0]
    one = freeze_saved_model_report(model, output_nodes=[key])
    assert set(one.outputs) == {key}
    with pytest.raises(GraphError, match="has no output 'nope'; its outputs: "):
        freeze_saved_model_report(model, output_nodes="nope")


def test_tf2_skip_leaves_the_variable_and_keep_freezes_only_the_named_one() -> None:
    model = SAVED_MODELS / "module" / "model"
    full = freeze_saved_model_report(model)
    first = sorted(full.frozen)[0]
    skipped = freeze_saved_model_report(model, skip=first)
    assert first in skipped.kept and first not in skipped.frozen
    assert {n.name: n.op for n in skipped.graph_def.node}[first] == "VarHandleOp"
    kept = freeze_saved_model_report(model, keep=[first])
    assert kept.frozen == [first]
    with pytest.raises(GraphError, match="keep: 'ghost' is not a variable the signature uses"):
        freeze_saved_model_report(model, keep="ghost")


def _consts(result: object) -> dict[str, np.ndarray]:
    return {n.name: tff.to_numpy(n.attr["value"].tensor) for n in result.graph_def.node  # type: ignore[attr-defined]
            if n.op == "Const"}


def test_tf2_variable_map_reads_the_named_checkpoint_key() -> None:
    model = SAVED_MODELS / "module" / "model"
    full = freeze_saved_model_report(model)
    by_saved = {name: full.sources[name].key for name in full.frozen}
    mapped = freeze_saved_model_report(model, variable_map={"b": by_saved["b"]})
    assert mapped.sources["b"].origin == "variable_map"
    np.testing.assert_array_equal(_consts(mapped)["b"], _consts(full)["b"])
    with pytest.raises(GraphError, match="variable 'b' has shape"):
        freeze_saved_model_report(model, variable_map={"b": by_saved["w"]})
    with pytest.raises(GraphError, match="variable_map: 'ghost'"):
        freeze_saved_model_report(model, variable_map={"ghost": "x"})


def test_tf2_use_ema_without_any_moving_average_is_refused() -> None:
    with pytest.raises(GraphError, match="use_ema: variables/ holds no ExponentialMovingAverage"):
        freeze_saved_model_report(SAVED_MODELS / "module" / "model", use_ema=True)


def test_tf1_keep_and_skip_names_that_are_not_variables_are_refused() -> None:
    case = load_case("mlp")
    with pytest.raises(GraphError, match="skip: 'dense1/kernl' is not a variable of the graph; did you mean"):
        tff.freeze(str(case.meta), str(case.checkpoint), case.outputs, skip="dense1/kernl")


def test_tf1_use_ema_without_any_moving_average_is_refused() -> None:
    case = load_case("mlp")
    with pytest.raises(GraphError, match="use_ema: the checkpoint holds no ExponentialMovingAverage"):
        tff.freeze(str(case.meta), str(case.checkpoint), case.outputs, use_ema=True)


def test_list_flags_are_comma_separated_and_repeatable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    case = load_case("cond_while_v1")
    out = tmp_path / "f.pb"
    argv = ["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "cond_out,loop_out",
            "--outputs", "counter_out", "--skip", "w", "--skip", "b", "-o", str(out), "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["outputs"]) == {"cond_out", "loop_out", "counter_out"}
    assert sorted(doc["kept"]) == ["b", "w"]
