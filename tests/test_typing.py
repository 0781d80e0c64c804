"""The package type-checks cleanly under ``mypy --strict`` (configured in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install .[test])")
def test_package_passes_strict_mypy() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "tfformats"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "mypy found problems:\n" + result.stdout + result.stderr
