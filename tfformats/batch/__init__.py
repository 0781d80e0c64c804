"""Run audit, verify, inspect or graph over many models: a local process pool or a Dask cluster.

Every model runs in a child process with a time and memory limit, so a hostile or damaged file gives that
model an error record and the batch goes on. :func:`run_batch` yields one record per model as it finishes.

Example:
    >>> from tfformats.batch import discover, run_batch
    >>> models = discover("hub", task="audit")
    >>> for record in run_batch("audit", [m.path for m in models], jobs=2):
    ...     print(record["path"], record["status"])
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional, Sequence

from .discover import Model, discover, expand, read_list
from .isolate import DEFAULT_LIMITS, IsolatedRunner, Limits, run_isolated
from .records import RecordFile, Summary, read_records
from .tasks import TASKS, run_task

__all__ = ["Model", "discover", "expand", "read_list", "IsolatedRunner", "Limits", "run_isolated", "RecordFile",
           "Summary", "read_records", "TASKS", "run_task", "run_batch"]


def run_batch(task: str, paths: Sequence[str], options: Optional[Mapping[str, Any]] = None, *,
              jobs: Optional[int] = None, dask: Optional[str] = None,
              limits: Limits = DEFAULT_LIMITS) -> Iterator[dict[str, Any]]:
    """Records of ``task`` on every path, in the order they finish.

    ``jobs`` local worker processes (default: one per core), or the Dask cluster at ``dask`` (a scheduler
    address, or ``"local"`` for a LocalCluster of ``jobs`` workers).
    """
    if dask:
        from .cluster import run_dask

        return run_dask(task, paths, options or {}, address=dask, jobs=jobs, limits=limits)
    from .local import run_local

    return run_local(task, paths, options or {}, jobs=jobs, limits=limits)
