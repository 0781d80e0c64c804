"""Batch output: JSON Lines records (resumable) and the summary of a run."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Optional

from .._json import json_default
from ..errors import OutputError, PathLike
from .tasks import FAILURE_STATUSES


def _json_default(value: Any) -> Any:
    """Records never fail to be written: what JSON cannot hold is written as its text."""
    try:
        return json_default(value)
    except TypeError:
        return str(value)


def dumps(record: dict[str, Any]) -> str:
    """One record as one line of JSON."""
    return json.dumps(record, default=_json_default, separators=(",", ":"))


def read_records(path: PathLike) -> list[dict[str, Any]]:
    """The complete records of a JSON Lines file; a last line cut short by an interruption is left out."""
    records = []
    try:
        with open(os.fspath(path), encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("path"), str):
                    records.append(record)
    except FileNotFoundError:
        return []
    return records


def _drop_partial_line(path: str) -> None:
    """Cut a file back to its last newline, so appended records start on a line of their own."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if not size:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        chunk = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - chunk)
            f.seek(start)
            block = f.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                f.truncate(start + cut + 1)
                return
            end = start
        f.truncate(0)


class RecordFile:
    """Appends records to a JSON Lines file, one flushed line each, so an interrupted batch can resume."""

    def __init__(self, path: PathLike, *, resume: bool) -> None:
        self.path = os.fspath(path)
        try:
            if resume and os.path.exists(self.path):
                _drop_partial_line(self.path)
            self._file: IO[str] = open(self.path, "a" if resume else "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write the records: {exc.strerror or exc}", self.path) from None

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "RecordFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_path(path: str, error: str) -> str:
    """The error, after the path unless the message already starts with it."""
    return error if error.startswith(path) else f"{path}: {error}"


@dataclass
class Summary:
    """Counts of one batch run: by status and exit code, speed, and the worst exit status."""

    task: str
    backend: str
    total: int = 0
    skipped: int = 0
    worst_skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    by_status: Counter[str] = field(default_factory=Counter)
    by_exit: Counter[int] = field(default_factory=Counter)
    failed: list[dict[str, str]] = field(default_factory=list)

    def add_skipped(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.skipped += 1
            self.worst_skipped = max(self.worst_skipped, int(record.get("exit_code", 2)))

    def add(self, record: dict[str, Any]) -> None:
        self.by_status[str(record["status"])] += 1
        self.by_exit[int(record["exit_code"])] += 1
        if record["status"] in FAILURE_STATUSES or record["status"] == "unreadable":
            self.failed.append({"path": record["path"], "status": record["status"],
                                "error": str(record.get("error", ""))})

    @property
    def done(self) -> int:
        return sum(self.by_status.values())

    @property
    def exit_status(self) -> int:
        """The worst exit status of the single runs, also counting models recorded by an earlier run."""
        return max([self.worst_skipped, *self.by_exit.keys()] if (self.by_exit or self.skipped) else [0])

    def to_dict(self, seconds: Optional[float] = None) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started if seconds is None else seconds
        return {
            "task": self.task,
            "backend": self.backend,
            "models": self.done,
            "skipped": self.skipped,
            "by_status": dict(sorted(self.by_status.items())),
            "by_exit_code": {str(k): v for k, v in sorted(self.by_exit.items())},
            "seconds": round(elapsed, 3),
            "models_per_second": round(self.done / elapsed, 2) if elapsed > 0 else None,
            "exit_status": self.exit_status,
            "failed": self.failed,
        }

    def text(self) -> str:
        doc = self.to_dict()
        counts = ", ".join(f"{n} {s}" for s, n in doc["by_status"].items()) or "nothing run"
        skipped = f" ({doc['skipped']} already recorded, skipped)" if doc["skipped"] else ""
        speed = f", {doc['models_per_second']} models/s" if doc["models_per_second"] else ""
        lines = [f"{self.task}: {doc['models']} models in {doc['seconds']} s on {self.backend}{speed}: "
                 f"{counts}{skipped}; exit status {doc['exit_status']}"]
        lines += [f"  {f['status']}: {_with_path(f['path'], f['error'])}" for f in self.failed[:20]]
        if len(self.failed) > 20:
            lines.append(f"  ... and {len(self.failed) - 20} more (see the records)")
        return "\n".join(lines)
