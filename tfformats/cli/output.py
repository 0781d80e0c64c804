"""Shared output helpers for the command line: tables, sizes, JSON, progress."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Optional, Sequence, TextIO

from .._json import json_default


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_count(n: int) -> str:
    """``1234567`` -> ``1,234,567``."""
    return f"{n:,}"


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], *, out: Optional[TextIO] = None,
                align: Optional[str] = None) -> None:
    """Print rows as aligned columns; ``align`` is a string of 'l'/'r' per column."""
    out = out or sys.stdout
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" * len(headers)
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)]
        out.write("  ".join(parts).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def print_json(doc: Any, *, out: Optional[TextIO] = None) -> None:
    out = out or sys.stdout
    json.dump(doc, out, indent=2, sort_keys=False, default=json_default)
    out.write("\n")


class Progress:
    """Progress on stderr for long work; silent when stderr is not a terminal or the work is quick."""

    def __init__(self, total: int, what: str, *, stream: Optional[TextIO] = None, delay: float = 1.0) -> None:
        self.total = max(total, 1)
        self.what = what
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.delay = delay
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._last = 0.0
        self._shown = False

    def update(self, done: int, label: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay or now - self._last < 0.2:
            return
        self._last = now
        self._shown = True
        pct = 100.0 * done / self.total
        self.stream.write(f"\r{self.what}: {pct:5.1f}% {label[:60]:<60}")
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()

