"""``tff.run`` and ``tfformats run``: models evaluated through ONNX, without TensorFlow.

Expected values are what TensorFlow computed when the fixtures were made (``case.npz``,
``expected.npz``), compared with a tolerance; ONNX models built here are checked against numpy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import tfformats as tff  # noqa: E402
from fixture_data import FIXTURES  # noqa: E402
from graph_cases import freeze_case, load_case  # noqa: E402
from tfformats.cli import main  # noqa: E402
from tfformats.errors import ArgumentError, FormatError, NotFoundError  # noqa: E402
from tfformats.serving.backend import has_onnxruntime  # noqa: E402
from tfformats.serving.run import run  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
BACKENDS = ["reference"] + (["onnxruntime"] if has_onnxruntime() else [])
SAVED_MODELS = FIXTURES / "saved_models"


def _dense_onnx(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Write ``y:0 = relu(x:0 @ w + b)`` as an .onnx file; returns (w, b)."""
    from onnx import TensorProto, helper, numpy_helper

    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x:0", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["pre"]),
         helper.make_node("Relu", ["pre"], ["y:0"])],
        "dense", [helper.make_tensor_value_info("x:0", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y:0", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return w, b


@pytest.fixture
def dense(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    path = tmp_path / "dense.onnx"
    w, b = _dense_onnx(path, np.random.default_rng(3))
    return path, w, b


@pytest.mark.parametrize("backend", BACKENDS)
def test_onnx_file_runs_on_each_backend_like_numpy(dense, backend: str) -> None:
    path, w, b = dense
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    out = run(path, {"x:0": x}, backend=backend)
    assert list(out) == ["y:0"]
    np.testing.assert_allclose(out["y:0"], np.maximum(x @ w + b, 0), rtol=RTOL, atol=ATOL)


def test_tensor_names_may_leave_out_the_output_index(dense) -> None:
    path, w, b = dense
    x = np.ones((2, 4), np.float64)  # cast to the model's float32
    out = run(path, {"x": x}, outputs=["y"])
    assert list(out) == ["y"] and out["y"].dtype == np.float32
    np.testing.assert_allclose(out["y"], np.maximum(x.astype(np.float32) @ w + b, 0), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["mlp", "tf1_saved_model", "resource_embedding", "seed_xyb", "saver_dict"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_frozen_graph_outputs_match_what_tensorflow_computed(name: str, backend: str) -> None:
    case = load_case(name)
    out = run(freeze_case(case), case.feeds, outputs=case.fetches, backend=backend)
    for fetch, want in zip(case.fetches, case.expected):
        np.testing.assert_allclose(out[fetch], want, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {fetch}")


def test_a_meta_graph_is_frozen_from_the_checkpoint_beside_it() -> None:
    case = load_case("mlp")
    feeds = {"x": case.feeds["x:0"]}
    out = run(case.meta, feeds, outputs=["probs"])
    np.testing.assert_allclose(out["probs"], case.expected[0], rtol=RTOL, atol=ATOL)
    out = run(case.graph, feeds, outputs=["probs:0"], checkpoint=case.checkpoint)
    np.testing.assert_allclose(out["probs:0"], case.expected[0], rtol=RTOL, atol=ATOL)


def test_a_graph_with_variables_and_no_checkpoint_is_refused() -> None:
    case = load_case("mlp")
    with pytest.raises(ArgumentError, match="has variables; give the checkpoint"):
        run(case.graph, {"x": case.feeds["x:0"]}, outputs=["probs"])
    with pytest.raises(ArgumentError, match="has variables; give the checkpoint"):
        run(tff.read_graph_def(case.graph), {"x": case.feeds["x:0"]}, outputs=["probs"])
    out = run(tff.read_graph_def(case.graph), {"x": case.feeds["x:0"]}, outputs=["probs"], checkpoint=case.checkpoint)
    np.testing.assert_allclose(out["probs"], case.expected[0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["keras_mlp", "keras_cnn", "multi_io", "awkward_output_keys"])
def test_saved_model_is_run_by_signature_keys(name: str) -> None:
    with np.load(SAVED_MODELS / name / "expected.npz") as arrays:
        feeds = {k[len("feed/"):]: arrays[k] for k in arrays.files if k.startswith("feed/")}
        want = {k[len("output/"):]: arrays[k] for k in arrays.files if k.startswith("output/")}
    out = run(SAVED_MODELS / name / "model", feeds)
    assert set(out) == set(want)
    for key in want:
        np.testing.assert_allclose(out[key], want[key], rtol=RTOL, atol=ATOL, err_msg=f"{name}: {key}")


def test_feeds_are_checked_against_the_model_inputs(dense) -> None:
    path, _, _ = dense
    x = np.zeros((1, 4), np.float32)
    with pytest.raises(ArgumentError, match=r"no input 'X:0' \(did you mean 'x:0'") as err:
        run(path, {"X:0": x})
    assert str(path) in str(err.value)
    with pytest.raises(ArgumentError, match="no value for input 'x:0'"):
        run(path, {})
    with pytest.raises(ArgumentError, match="rank 2"):
        run(path, {"x": np.zeros(4, np.float32)})
    with pytest.raises(ArgumentError, match=r"shape \[batch, 4\]"):
        run(path, {"x": np.zeros((1, 5), np.float32)})
    with pytest.raises(ArgumentError, match=r"no output 'z'"):
        run(path, {"x": x}, outputs=["z"])


def test_unknown_graph_tensors_are_named_with_close_names() -> None:
    case = load_case("mlp")
    with pytest.raises(ArgumentError, match=r"no output named 'prob' \(did you mean 'probs'"):
        run(freeze_case(case), case.feeds, outputs=["prob"])


def test_damaged_and_missing_model_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not protobuf \xff\xff")
    with pytest.raises(FormatError, match="not an ONNX model") as err:
        run(bad, {})
    assert err.value.path == str(bad)
    with pytest.raises(NotFoundError):
        run(tmp_path / "nothing.onnx", {})


def test_cli_saves_outputs_to_npz_and_prints_json(dense, tmp_path: Path, capsys) -> None:
    path, w, b = dense
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out_file = tmp_path / "out.npz"
    assert main(["run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(out_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    with np.load(out_file) as saved:
        np.testing.assert_allclose(saved["y:0"], np.maximum(x @ w + b, 0), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(np.array(doc["outputs"]["y:0"]["values"]), saved["y:0"], rtol=RTOL, atol=ATOL)
    assert doc["outputs"]["y:0"]["shape"] == [3, 4 - 1]
    assert doc["inputs"] == {"x:0": {"dtype": "float32", "shape": [3, 4]}}


def test_cli_random_inputs_use_the_unknown_dim_size(dense, capsys) -> None:
    path, _, _ = dense
    assert main(["run", str(path), "--random", "--unknown-dim", "7", "--json", "--backend", "reference"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"]["x:0"]["shape"] == [7, 4] and doc["outputs"]["y:0"]["shape"] == [7, 3]
    assert doc["backend"] == "reference"


def test_cli_errors_are_one_line_with_exit_2(dense, tmp_path: Path, capsys) -> None:
    path, _, _ = dense
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    assert main(["run", str(path), "--input", f"wrong={tmp_path / 'x.npy'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no input 'wrong'" in err
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 2
    assert "KEY=" in capsys.readouterr().err
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    assert main(["run", str(path), "--input", f"x={tmp_path / 'junk.npy'}"]) == 2
    assert "junk.npy" in capsys.readouterr().err


def test_without_onnx_the_command_says_what_to_install(dense) -> None:
    path, _, _ = dense
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None\n"
            "from tfformats.cli import main\n"
            f"sys.exit(main(['run', {str(path)!r}, '--random']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "pip install 'tfformats[onnx]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_saved_model_written_from_a_frozen_graph_runs_by_its_signature_keys(tmp_path: Path) -> None:
    case = load_case("mlp")
    tff.write_saved_model(freeze_case(case), tmp_path / "export", inputs={"features": "x:0"},
                          outputs={"scores": "probs:0"})
    out = run(tmp_path / "export", {"features": case.feeds["x:0"]})
    assert list(out) == ["scores"]
    np.testing.assert_allclose(out["scores"], case.expected[0], rtol=RTOL, atol=ATOL)
