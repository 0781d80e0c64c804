"""Every command turns an unreadable input or an impossible output into exit status 2, one stderr line, and (with
--json) a JSON document that names the path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfformats.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "fixtures" / "ckpt" / "sample"
CNN = REPO / "tests" / "fixtures" / "graphs" / "cnn_bn" / "model.ckpt"

COMMANDS = [
    ["inspect", "{bad}"], ["verify", "{bad}"], ["graph", "{bad}"], ["audit", "{bad}"],
    ["diff", "{bad}", "{bad}"], ["convert", "{bad}", "{out}"], ["edit", "{bad}", "{out}"],
    ["freeze", "{bad}", "-c", "{bad}", "--outputs", "y", "-o", "{out}"],
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, object]]:
    status = main(argv + ["--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"tfformats {argv[0]}: error: ")
    return status, lines[0], json.loads(captured.out)


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_unreadable_input_gives_exit_2_a_one_line_error_and_json_naming_it(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "not_a_model.bin"
    bad.write_bytes(b"\x00garbage that is no TensorFlow file\xff" * 3)
    out = tmp_path / ("out.npz" if argv[0] == "convert" else "out")
    status, line, doc = _run([a.format(bad=bad, out=out) for a in argv], capsys)
    assert status == 2 and doc["exit_status"] == 2
    assert doc["path"] == str(bad), doc
    assert str(bad) in line


@pytest.mark.parametrize("command", ["inspect", "verify", "edit", "convert"])
def test_a_missing_checkpoint_is_a_checkpoint_not_found_error_with_its_path(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "model.ckpt-7"
    argv = [command, str(missing)] + ([str(tmp_path / "out.npz")] if command in ("edit", "convert") else [])
    status, line, doc = _run(argv, capsys)
    assert status == 2
    if command != "verify":  # verify reports the problem inside its own document
        assert doc["error_type"] == "CheckpointNotFoundError"
        assert doc["path"] == str(missing)
    assert str(missing) in line


def test_a_rename_with_a_bad_group_reference_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.npz"
    status, line, doc = _run(["convert", str(SAMPLE), str(out), "--rename", "a=\\2"], capsys)
    assert status == 2 and "invalid group reference" in line
    assert doc["error_type"] == "ArgumentError"
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("make_output", [
    lambda tmp: tmp / "missing_dir" / "f.pb",          # the folder does not exist
    lambda tmp: REPO / "README.md" / "f.pb",           # a parent is a file
])
def test_freeze_into_an_impossible_output_names_the_output_not_a_temporary_file(
        make_output, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    output = make_output(tmp_path)
    status, line, doc = _run(["freeze", f"{CNN}.meta", "-c", str(CNN), "--outputs", "probs", "-o", str(output)],
                             capsys)
    assert status == 2
    assert doc["path"] == str(output) and doc["error_type"] == "OutputError"
    assert f"{output}:" in line and ".tmp" not in line and "tempstate" not in line


def test_a_graph_path_under_a_file_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    target = REPO / "README.md" / "x"
    status, line, doc = _run(["graph", str(target)], capsys)
    assert status == 2 and doc["path"] == str(target)


def test_convert_into_a_missing_folder_names_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nope" / "w.safetensors"
    status, line, doc = _run(["convert", str(SAMPLE), str(out)], capsys)
    assert status == 2 and doc["path"] == str(out) and doc["error_type"] == "OutputError"


def test_edit_with_zero_shards_is_an_argument_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, line, doc = _run(["edit", str(SAMPLE), str(tmp_path / "o"), "--shards", "0"], capsys)
    assert status == 2 and "--shards" in line and doc["error_type"] == "ArgumentError"


def test_inspect_of_an_unknown_tensor_names_close_matches(capsys: pytest.CaptureFixture[str]) -> None:
    status, line, doc = _run(["inspect", str(SAMPLE), "--tensor", "no/such/tensor"], capsys)
    assert status == 2 and doc["error_type"] == "TensorNotFoundError"
