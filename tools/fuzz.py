"""Fuzz every tfformats parser for a while and report what broke.

Usage (core environment, from the repository root)::

    python tools/fuzz.py --seconds 600                 # all targets, round robin
    python tools/fuzz.py --seconds 60 --target table   # one target
    python tools/fuzz.py --seconds 600 --save tests/fuzz/corpus

Inputs are real fixtures mutated by ``tests/fuzz/harness.py:mutate`` with a
seeded ``random.Random`` (the CI run drives the same mutator through
hypothesis). An input that lets anything but FormatError/FileNotFoundError
escape, runs past the time limit or allocates past the memory limit is a
crash; crashes are written to ``--save`` (default: a temporary folder) under
``<target>/<seed>--<digest>.bin``, ready to be committed to the regression
corpus once fixed. Prints the number of inputs executed per target.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "fuzz"))

import harness  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="total running time")
    parser.add_argument("--target", action="append", choices=sorted(harness.TARGETS), help="only these targets")
    parser.add_argument("--seed", type=int, default=0, help="random seed (runs are reproducible)")
    parser.add_argument("--save", type=Path, default=None, help="folder for crashing inputs")
    parser.add_argument("--no-memory", action="store_true", help="skip the allocation check (faster)")
    args = parser.parse_args(argv)

    # Work on a private copy of the fixtures: they may be regenerated while a long run goes on.
    snapshot = Path(tempfile.mkdtemp(prefix="tfformats-fuzz-fixtures-"))
    shutil.copytree(harness.FIXTURES, snapshot / "fixtures", symlinks=True)
    all_targets = harness.build_targets(snapshot / "fixtures")
    targets = [all_targets[t] for t in (args.target or sorted(all_targets))]
    save = args.save or Path(tempfile.mkdtemp(prefix="tfformats-fuzz-crashes-"))
    rng = random.Random(args.seed)
    executed: Counter[str] = Counter()
    crashes: dict[tuple[str, str], Path] = {}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        for target in targets:
            seed = rng.choice(target.seeds)
            data = target.mutator(seed.file.read_bytes(), rng)
            problem = harness.check_one(target, seed, data, track_memory=not args.no_memory)
            executed[target.name] += 1
            if problem is not None:
                key = (target.name, problem.splitlines()[0][:120])
                if key not in crashes:
                    crashes[key] = harness.save_to_corpus(target, seed, data, save)
                    print(f"CRASH {target.name}: {key[1]}\n      input: {crashes[key]}", flush=True)
    total = sum(executed.values())
    print(f"executed {total} inputs in {args.seconds:.0f} s: "
          + ", ".join(f"{name} {n}" for name, n in sorted(executed.items())))
    print(f"{len(crashes)} distinct crash(es)" + (f"; inputs in {save}" if crashes else ""))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
