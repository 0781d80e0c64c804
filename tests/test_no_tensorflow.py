"""The core suite runs where TensorFlow is absent, and the package never imports it."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import tfformats


def test_tensorflow_is_not_installed_in_the_core_environment() -> None:
    with pytest.raises(ImportError):
        importlib.import_module("tensorflow")


def test_importing_every_module_pulls_in_no_tensorflow() -> None:
    names = [m.name for m in pkgutil.walk_packages(tfformats.__path__, "tfformats.") if m.name != "tfformats.__main__"]
    code = ("import importlib, sys\n"
            f"for n in {names!r}:\n"
            "    importlib.import_module(n)\n"
            "bad = [m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')]\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_sources_never_mention_importing_tensorflow() -> None:
    from pathlib import Path

    root = Path(tfformats.__file__).parent
    offenders = [str(p) for p in root.rglob("*.py")
                 if "import tensorflow" in p.read_text(encoding="utf-8")
                 or "from tensorflow" in p.read_text(encoding="utf-8")]
    assert offenders == []
