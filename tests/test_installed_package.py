"""When the suite runs against an installed wheel, it must really be testing that installed copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tfformats

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.environ.get("TFFORMATS_EXPECT_INSTALLED") != "1",
                    reason="only when tools/run_tests.sh runs the suite against the built wheel")
def test_the_package_under_test_is_the_installed_wheel_not_the_source_tree() -> None:
    location = Path(tfformats.__file__).resolve()
    assert REPO / "tfformats" not in location.parents, location
    assert "site-packages" in location.parts


def test_the_package_data_files_are_present_where_the_code_looks_for_them() -> None:
    root = Path(tfformats.__file__).parent
    for pattern in ("py.typed", "proto/*.bin", "audit/*.json", "graphs/*.bin*"):
        assert list(root.glob(pattern)), f"{pattern} is missing from {root}"
