"""``tfformats graph`` and ``tfformats freeze`` on TF-built fixtures (no TensorFlow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tfformats as tff
from fixture_data import FIXTURES
from graph_cases import load_case
from tfformats.cli import main
from tfformats.graphs import read_graph_def


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_graph_json_lists_placeholders_variables_and_params(capsys) -> None:
    doc = _json(capsys, ["graph", str(load_case("mlp").meta), "--json"])
    assert doc["kind"] == "MetaGraphDef"
    g = doc["graph"]
    assert {"name": "x", "op": "Placeholder", "dtype": "float32", "shape": [-1, 8]} in g["inputs"]
    kernel = next(v for v in g["variables"] if v["name"] == "dense1/kernel")
    assert (kernel["shape"], kernel["params"]) == ([8, 16], 128)
    assert "probs" in g["outputs"]
    assert doc["saver_def"]["restore_op_name"] == "save/restore_all"
    assert doc["collections"]["trainable_variables"]["count"] == 6
    assert sum(g["op_types"].values()) == g["nodes"]


def test_signature_outputs_of_a_tf2_saved_model_leave_out_the_init_op(capsys) -> None:
    model = FIXTURES / "saved_models" / "keras_mlp" / "model"
    meta = _json(capsys, ["graph", str(model), "--json"])["meta_graphs"][0]
    assert "__saved_model_init_op" in meta["signatures"]
    serving = {node for s in ("serving_default", "serve") if s in meta["signatures"]
               for node in (t["name"].split(":")[0] for t in meta["signatures"][s]["outputs"].values())}
    assert serving and set(meta["graph"]["signature_outputs"]) == serving


def test_graph_of_saved_model_shows_signature_like_saved_model_cli(capsys) -> None:
    doc = _json(capsys, ["graph", str(load_case("tf1_saved_model").saved_model), "--json"])
    sig = doc["meta_graphs"][0]["signatures"]["serving_default"]
    assert sig["inputs"]["x"] == {"dtype": "float32", "shape": [-1, 4], "name": "x:0"}
    assert sig["outputs"]["probs"]["name"] == "probs:0"
    assert doc["meta_graphs"][0]["tags"] == ["serve"]


def test_graph_text_output_names_inputs_and_functions(capsys) -> None:
    assert main(["graph", str(load_case("functional_if_v2").meta)]) == 0
    out = capsys.readouterr().out
    assert "x: float32 [?, 3]" in out
    assert "function while_body" in out


def test_graph_of_frozen_graph_counts_const_bytes(capsys, tmp_path) -> None:
    case = load_case("mlp")
    out = tmp_path / "frozen.pb"
    assert main(["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "probs", "-o", str(out)]) == 0
    capsys.readouterr()
    doc = _json(capsys, ["graph", str(out), "--json"])
    assert doc["graph"]["variables"] == []
    assert doc["graph"]["const_bytes"] > (8 * 16 + 16 * 16 + 16 * 4) * 4


def test_freeze_accepts_freeze_graph_py_command_line(capsys, tmp_path) -> None:
    case = load_case("saver_dict")
    out = tmp_path / "frozen.pb"
    argv = ["freeze", f"--input_meta_graph={case.meta}", "--input_binary=true", f"--input_checkpoint={case.checkpoint}",
            "--output_node_names=y", f"--output_graph={out}", "--clear_devices", "--input_saver="]
    assert main(argv) == 0
    assert "froze 2 variables" in capsys.readouterr().out
    frozen = read_graph_def(out)
    w = next(n for n in frozen.node if n.name == "w")
    np.testing.assert_array_equal(tff.to_numpy(w.attr["value"].tensor),
                                  tff.load_variable(case.checkpoint, "stored/weights"))


def test_freeze_saved_model_as_text(capsys, tmp_path) -> None:
    out = tmp_path / "frozen.pbtxt"
    assert main(["freeze", "--saved-model", str(load_case("tf1_saved_model").saved_model), "--tag", "serve",
                 "-o", str(out), "--as-text"]) == 0
    assert out.read_text().startswith("node {")
    assert {n.op for n in read_graph_def(out).node}.isdisjoint({"VariableV2", "RestoreV2"})


def test_freeze_use_ema_maps_every_averaged_variable(capsys, tmp_path) -> None:
    case = load_case("seed_ema")
    doc = _json(capsys, ["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "out",
                         "-o", str(tmp_path / "f.pb"), "--use-ema", "--json"])
    assert doc["keys"] == {"v": "v/ExponentialMovingAverage"}


def test_freeze_warns_when_no_variable_is_frozen(capsys, tmp_path) -> None:
    case = load_case("seed_xyb")
    assert main(["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "x",
                 "-o", str(tmp_path / "f.pb")]) == 0
    captured = capsys.readouterr()
    assert "froze 0 variables" in captured.out
    assert "warning: froze 0 variables although the graph has 1" in captured.err


def test_freeze_unknown_output_is_one_line_error_with_suggestion(capsys, tmp_path) -> None:
    case = load_case("mlp")
    assert main(["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "prob",
                 "-o", str(tmp_path / "f.pb")]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'probs'" in err
    assert len(err.strip().splitlines()) == 1


def test_freeze_without_checkpoint_is_usage_error(capsys, tmp_path) -> None:
    assert main(["freeze", str(load_case("mlp").meta), "--outputs", "probs", "-o", str(tmp_path / "f.pb")]) == 2
    assert "input_checkpoint" in capsys.readouterr().err


def test_graph_of_a_frozen_saved_model_prints_the_feed_and_fetch_names(tmp_path, capsys):  # type: ignore[no-untyped-def]
    from pathlib import Path

    import tfformats as tff
    from tfformats.cli import main as cli_main

    model = Path(__file__).parent.parent / "fixtures" / "saved_models" / "keras_cnn" / "model"
    meta = tff.read_saved_model(model).meta_graphs[0]
    signature = meta.signature_def["serving_default"]
    out = tmp_path / "frozen.pb"
    assert cli_main(["freeze", "--saved-model", str(model), "-o", str(out)]) == 0
    capsys.readouterr()
    assert cli_main(["graph", str(out)]) == 0
    text = capsys.readouterr().out
    feeds = ", ".join(sorted(signature.inputs[k].name for k in signature.inputs))
    fetches = ", ".join(f"{k}:0" for k in sorted(signature.outputs))
    assert f"feed: {feeds}   fetch: {fetches}" in text


def test_graph_ops_zero_lists_every_op_type_and_a_negative_count_is_refused(capsys) -> None:
    meta = str(load_case("mlp").meta)
    assert main(["graph", meta, "--ops", "0"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("op types"))
    count = int(line.split("(")[1].split(")")[0])
    assert count > 15 and len(line.split(": ", 1)[1].split(", ")) == count
    with pytest.raises(SystemExit) as info:
        main(["graph", meta, "--ops", "-1"])
    assert info.value.code == 2
    assert "--ops" in capsys.readouterr().err
