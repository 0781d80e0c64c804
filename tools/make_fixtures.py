"""Regenerate test fixtures with real TensorFlow.

Usage (from the TensorFlow environment, not the core one)::

    python tools/make_fixtures.py              # every group in tools/fixtures/
    python tools/make_fixtures.py checkpoints  # only the named groups

Each group is a module ``tools/fixtures/<group>.py`` exposing
``main(out_dir: pathlib.Path) -> None``; ``out_dir`` is the repository's
``tests/fixtures`` directory. Modules whose name starts with ``_`` are helpers,
not groups.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
OUT_DIR = REPO_ROOT / "tests" / "fixtures"

# Quiet TensorFlow's C++ logging for this process and every subprocess a group starts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def available_groups() -> list[str]:
    """Return the fixture groups found in tools/fixtures/, sorted by name."""
    package_dir = TOOLS_DIR / "fixtures"
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(package_dir)])
        if not info.name.startswith("_")
    )


def run_group(name: str, out_dir: Path) -> None:
    """Import ``fixtures.<name>`` and call its ``main(out_dir)``."""
    module = importlib.import_module(f"fixtures.{name}")
    module.main(out_dir)


def main(argv: list[str] | None = None) -> int:
    groups = available_groups()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", metavar="group", help=f"one of: {', '.join(groups)}")
    args = parser.parse_args(argv)

    unknown = [g for g in args.groups if g not in groups]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(groups)}")

    if str(TOOLS_DIR) not in sys.path:
        sys.path.insert(0, str(TOOLS_DIR))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in args.groups or groups:
        started = time.monotonic()
        print(f"[make_fixtures] {name} ...", flush=True)
        run_group(name, OUT_DIR)
        print(f"[make_fixtures] {name} done in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
