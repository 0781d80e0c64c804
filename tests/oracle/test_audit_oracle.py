"""The audit's op lists against the TensorFlow op registry of the TF environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.oracle
tf = pytest.importorskip("tensorflow")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import list_standard_ops  # noqa: E402

from tfformats.audit import default_catalog  # noqa: E402


def test_standard_op_list_matches_the_tensorflow_registry() -> None:
    catalog = default_catalog()
    if not tf.__version__.startswith(catalog.tf_version.rsplit(".", 1)[0]):
        pytest.skip(f"list made from TF {catalog.tf_version}, environment has {tf.__version__}")
    assert set(list_standard_ops.registered_ops()) == set(catalog.standard_ops)


def test_every_categorised_op_is_a_registered_op() -> None:
    registered = set(list_standard_ops.registered_ops())
    catalog = default_catalog()
    assert set(catalog.rules) - registered == set()
