"""diff_checkpoints and `tfformats diff`: statuses, tolerances, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixture_data import CKPT_DIR
from tfformats.cli import main
from tfformats.checkpoint.diff import diff_checkpoints
from tfformats.checkpoint.save import save_checkpoint


def _pair(tmp_path: Path, a: dict[str, object], b: dict[str, object]) -> tuple[str, str]:
    return save_checkpoint(tmp_path / "a", a), save_checkpoint(tmp_path / "b", b)


def test_identical_checkpoints_are_equal(tmp_path: Path) -> None:
    t = {"w": np.arange(5, dtype=np.float32), "s": np.array([b"x"], dtype=object), "n": np.array([np.nan])}
    a, b = _pair(tmp_path, t, t)
    result = diff_checkpoints(a, b)
    assert result.equal and {x.status for x in result.tensors} == {"identical"}


def test_statuses_for_missing_dtype_shape_and_value_changes(tmp_path: Path) -> None:
    a, b = _pair(tmp_path,
                 {"only_a": np.ones(1), "d": np.ones(2, np.float32), "s": np.ones((2, 2)), "v": np.array([1.0, 2.0])},
                 {"only_b": np.ones(1), "d": np.ones(2, np.float16), "s": np.ones(4), "v": np.array([1.0, 2.5])})
    result = diff_checkpoints(a, b)
    status = {t.name: t.status for t in result.tensors}
    assert status == {"only_a": "only in A", "only_b": "only in B", "d": "dtype changed", "s": "shape changed",
                      "v": "different"}
    v = next(t for t in result.tensors if t.name == "v")
    assert v.max_abs == 0.5 and v.max_rel == pytest.approx(0.2)
    assert not result.equal


def test_tolerance_makes_small_differences_close_but_not_dtype_changes(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, {"v": np.array([1.0, 2.0]), "d": np.ones(2, np.float32)},
                 {"v": np.array([1.0, 2.0 + 1e-9]), "d": np.ones(2, np.float64)})
    result = diff_checkpoints(a, b, atol=1e-6)
    status = {t.name: t.status for t in result.tensors}
    assert status == {"v": "close", "d": "dtype changed"}
    assert not result.equal
    assert diff_checkpoints(a, b, atol=1e-6).tensors[1].equal


def test_negative_zero_is_not_bit_identical(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, {"z": np.array([0.0])}, {"z": np.array([-0.0])})
    assert not diff_checkpoints(a, b).equal
    assert diff_checkpoints(a, b, atol=1e-12).equal


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pair(tmp_path, {"v": np.ones(3)}, {"v": np.ones(3) * 2})
    assert main(["diff", a, a]) == 0
    capsys.readouterr()
    assert main(["diff", a, b, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["equal"] is False and doc["tensors"][0]["max_abs"] == 1.0
    assert main(["diff", a, str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "x"])
def test_cli_diff_refuses_a_negative_or_non_finite_tolerance(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(CKPT_DIR / "sample")
    with pytest.raises(SystemExit) as info:
        main(["diff", sample, sample, "--atol", value])
    assert info.value.code == 2
    assert "--atol" in capsys.readouterr().err
