"""The bundled op registry equals the registry of the TensorFlow it was generated from."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.oracle
tf = pytest.importorskip("tensorflow")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import build_op_registry  # noqa: E402

from tfformats.graphs.registry import bundled_registry, registry_version  # noqa: E402


def test_bundled_registry_is_tensorflow_registry_without_docs() -> None:
    assert tf.__version__ == registry_version(), "regenerate with tools/build_op_registry.py"
    theirs = build_op_registry.strip_docs(build_op_registry.registry_op_list())
    ours = bundled_registry().ops
    assert [op.name for op in theirs.op] == sorted(ours)
    for op in theirs.op:
        assert ours[op.name].SerializeToString(deterministic=True) == op.SerializeToString(deterministic=True), op.name


def test_committed_data_file_is_what_the_tool_writes_now() -> None:
    theirs = build_op_registry.strip_docs(build_op_registry.registry_op_list())
    assert build_op_registry.OUT.read_bytes() == build_op_registry.render(theirs, tf.__version__)
