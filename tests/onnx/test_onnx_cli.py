"""``tfformats onnx``: writes a model, --json summary, one-line errors with exit 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

from onnx_graph_builders import unconvertible  # noqa: E402
from tfformats.cli import main  # noqa: E402

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_cli_writes_a_checked_model_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.onnx"
    code = main(["onnx", str(FIXTURES / "saved_models" / "keras_cnn" / "model"), "-o", str(out), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert doc["nodes"] == len(model.graph.node)
    assert [o["name"] for o in doc["outputs"]] == [o.name for o in model.graph.output]
    assert doc["transposes"] == sum(n.op_type == "Transpose" for n in model.graph.node)


def test_cli_meta_with_checkpoint_and_input_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = FIXTURES / "graphs" / "mlp"
    out = tmp_path / "mlp.onnx"
    code = main(["onnx", str(case / "model.ckpt.meta"), "-c", str(case / "model.ckpt"), "--outputs", "probs:0",
                 "--input-shape", "x:0=4,8", "-o", str(out)])
    assert code == 0
    model = onnx.load(str(out))
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [4, 8]
    assert model.graph.output[0].name == "probs:0"
    assert "wrote" in capsys.readouterr().out


def test_cli_unconvertible_graph_is_one_line_error_and_writes_nothing(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "graph.pb"
    source.write_bytes(unconvertible().SerializeToString())
    out = tmp_path / "p.onnx"
    code = main(["onnx", str(source), "--outputs", "y:0", "-o", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "FancyOp (2x" in err and "OtherOp (1x" in err
    assert not out.exists()


def test_cli_without_onnx_says_what_to_install_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    # a fresh interpreter in which `import onnx` fails, as it does where the package is not installed
    code = ("import sys; sys.modules['onnx'] = None; from tfformats.cli import main; "
            f"raise SystemExit(main(['onnx', {str(FIXTURES / 'graphs' / 'mlp' / 'graph.pb')!r}, '-o', "
            f"{str(tmp_path / 'x.onnx')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "pip install 'tfformats[onnx]'" in proc.stderr
