"""Replay every input that ever broke a parser (tests/fuzz/corpus), plus every unmutated seed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))

import harness  # noqa: E402

ENTRIES = harness.corpus_entries()
SEEDS = [(t, s) for t in harness.TARGETS.values() for s in t.seeds]


def test_corpus_is_not_empty() -> None:
    assert ENTRIES, "the regression corpus lost its inputs"


@pytest.mark.parametrize("target,seed,path", ENTRIES, ids=[f"{t.name}/{p.name}" for t, _, p in ENTRIES])
def test_corpus_input_ends_in_a_format_error_or_a_result(target: harness.Target, seed: harness.Seed,
                                                          path: Path) -> None:
    assert harness.check_one(target, seed, path.read_bytes()) is None


@pytest.mark.parametrize("target,seed", SEEDS, ids=[f"{t.name}/{s.name}" for t, s in SEEDS])
def test_unmutated_seed_passes_the_harness(target: harness.Target, seed: harness.Seed) -> None:
    assert harness.check_one(target, seed, seed.file.read_bytes()) is None


def test_harness_reports_an_escaping_exception(tmp_path: Path) -> None:
    def broken(data: bytes, seed: harness.Seed, work: Path) -> None:
        raise IndexError("boom")

    seed = harness.Seed("x", tmp_path / "x")
    assert "IndexError" in (harness.check_one(harness.Target("t", (seed,), broken), seed, b"") or "")


def test_harness_reports_an_allocation_the_input_does_not_justify(tmp_path: Path) -> None:
    def greedy(data: bytes, seed: harness.Seed, work: Path) -> None:
        bytearray(harness.memory_limit(len(data)) + (1 << 20))

    seed = harness.Seed("x", tmp_path / "x")
    assert "allocated" in (harness.check_one(harness.Target("t", (seed,), greedy), seed, b"") or "")
