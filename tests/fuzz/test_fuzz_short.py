"""A bounded fuzz run over every parser, driven by hypothesis; CI sets TFFORMATS_FUZZ_SECONDS.

Without the variable the module is skipped. With it, each target gets an equal
share of the seconds; hypothesis draws the seed fixture and the random
generator behind :func:`harness.mutate`, so a failure shrinks to a small
reproducer that ``harness.save_to_corpus`` can store.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest

SECONDS = float(os.environ.get("TFFORMATS_FUZZ_SECONDS", "0") or 0)
pytestmark = pytest.mark.skipif(SECONDS <= 0, reason="set TFFORMATS_FUZZ_SECONDS to run the fuzzer")

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TARGETS = sorted(harness.TARGETS)
BATCH = 25


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target_within_budget(name: str) -> None:
    target = harness.TARGETS[name]
    deadline = time.monotonic() + SECONDS / len(TARGETS)
    executed = 0

    def one(fixture: harness.Seed, rng: random.Random) -> None:
        nonlocal executed
        data = target.mutator(fixture.file.read_bytes(), rng)
        executed += 1
        problem = harness.check_one(target, fixture, data)
        if problem is not None:
            saved = harness.save_to_corpus(target, fixture, data, Path(os.environ.get(
                "TFFORMATS_FUZZ_CRASH_DIR", harness.CORPUS)))
            raise AssertionError(f"{name}: {problem} (input saved to {saved})")

    round_no = 0
    while time.monotonic() < deadline:
        run = seed(round_no)(settings(max_examples=BATCH, deadline=None, database=None, derandomize=False,
                                      suppress_health_check=list(HealthCheck))(
            given(st.sampled_from(target.seeds), st.randoms(use_true_random=False))(one)))
        run()
        round_no += 1
    print(f"{name}: {executed} inputs executed")
    assert executed > 0
