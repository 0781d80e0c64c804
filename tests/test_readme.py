"""The README's commands stay true: CI calls its test command, its sample exists, its API names exist."""

from __future__ import annotations

import re
from pathlib import Path

import tfformats as tff
from tfformats.cli import main

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    assert "bash tools/run_tests.sh" in README
    assert "bash tools/run_tests.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_sample_command_works(capsys) -> None:  # type: ignore[no-untyped-def]
    match = re.search(r"tfformats inspect (\S+)", README)
    assert match
    assert main(["inspect", str(ROOT / match.group(1))]) == 0
    assert "parameters" in capsys.readouterr().out


def test_every_tff_name_in_the_readme_exists() -> None:
    names = set(re.findall(r"\btff\.([a-z_A-Z]+)\(", README))
    assert names
    missing = [n for n in names if not hasattr(tff, n)]
    assert missing == []


def test_every_command_in_the_readme_table_exists() -> None:
    commands = set(re.findall(r"^\| `tfformats ([\w-]+)", README, re.M))
    from tfformats.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert commands and commands <= set(sub.choices)  # type: ignore[attr-defined]
