"""Every command turns an unreadable input into exit status 2, one stderr line, and (with --json) a JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfformats.cli import main

COMMANDS = [
    ["inspect", "{bad}"], ["verify", "{bad}"], ["graph", "{bad}"], ["audit", "{bad}"],
    ["diff", "{bad}", "{bad}"], ["convert", "{bad}", "{out}"], ["edit", "{bad}", "{out}"],
    ["freeze", "{bad}", "-c", "{bad}", "--outputs", "y", "-o", "{out}"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_unreadable_input_gives_exit_2_a_one_line_error_and_json(argv, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "not_a_model.bin"
    bad.write_bytes(b"\x00garbage that is no TensorFlow file\xff" * 3)
    out = tmp_path / ("out.npz" if argv[0] == "convert" else "out")
    args = [a.format(bad=bad, out=out) for a in argv] + ["--json"]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    doc = json.loads(captured.out)
    assert isinstance(doc, dict)
    assert str(bad) in json.dumps(doc) or str(bad) in captured.err
