"""Run a batch on a Dask cluster (the optional ``distributed`` package): each model is one task.

On the worker, the task runs the model in a child process exactly as the local pool does
(:func:`~tfformats.batch.isolate.run_isolated`), so a bad model costs a child process, not the worker. A worker
that dies anyway (killed, out of memory) has its tasks rescheduled by Dask, once: a model whose worker dies a
second time is recorded as crashed. ``--dask local`` starts a scheduler configured that way; on other clusters
the task asks the scheduler how many workers died holding it before running the model.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Iterator, Mapping, Optional, Sequence

from ..errors import ArgumentError
from .discover import is_url
from .isolate import DEFAULT_LIMITS, Limits, run_isolated
from .tasks import failure_record

LOCAL = "local"
# A model is run again once after its worker dies; after a second death it is recorded as crashed.
MAX_WORKER_DEATHS = 2
# What tells a LocalCluster started here to do that itself (its scheduler's allowed-failures).
LOCAL_ALLOWED_FAILURES = MAX_WORKER_DEATHS - 1


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ArgumentError("--dask needs the Dask 'distributed' package: pip install 'tfformats[dask]'") from None
    return distributed


def _deaths_of(key: str, dask_scheduler: Any = None) -> int:
    """On the scheduler: how many workers died while holding this task."""
    state = dask_scheduler.tasks.get(key)
    return int(state.suspicious) if state is not None else 0


def dask_task(task: str, path: str, options: Mapping[str, Any], limits: Limits,
              check_deaths: bool = False) -> dict[str, Any]:
    """One model on a Dask worker: the isolated run, plus the worker's address.

    With ``check_deaths`` (a scheduler that reschedules more often than once), a model whose workers
    already died twice is recorded as crashed rather than run a third time, and a record run after one
    death says so (``worker_deaths``).
    """
    from distributed import get_client, get_worker

    worker = get_worker()
    deaths = 0
    if check_deaths:
        client: Any = get_client()
        deaths = int(client.run_on_scheduler(_deaths_of, worker.get_current_task()))
        if deaths >= MAX_WORKER_DEATHS:
            record = failure_record(task, path, "crashed", f"the Dask workers running this model died {deaths} "
                                    "times", error_type="KilledWorker")
            record.update(attempts=deaths, worker=worker.address, worker_deaths=deaths)
            return record
    record = run_isolated(task, path, options, limits)
    record["worker"] = worker.address
    if deaths:
        record["worker_deaths"] = deaths  # rescheduled after a worker holding it died
    return record


def start_local_cluster(workers: int) -> Any:
    """A LocalCluster of ``workers`` single-threaded worker processes that retries a model once."""
    distributed = _import_distributed()
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES}):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=":0")


def _allowed_failures(client: Any) -> Optional[int]:
    def read(dask_scheduler: Any) -> int:
        return int(dask_scheduler.allowed_failures)

    try:
        return int(client.run_on_scheduler(read))
    except Exception:  # an older or locked-down scheduler: the count is only used in the message
        return None


def _as_given(record: dict[str, Any], path: str, sent: str) -> dict[str, Any]:
    """The record under the path as given (the worker saw it made absolute)."""
    record["path"] = path
    if sent != path and isinstance(record.get("error"), str):
        record["error"] = record["error"].replace(sent, path)
    result = record.get("result")
    if isinstance(result, dict) and result.get("path") == sent:
        result["path"] = path
    return record


def _exception_of(future: Any) -> BaseException:
    try:
        return future.exception()  # type: ignore[no-any-return]
    except BaseException as exc:  # cancelled futures raise instead of returning their exception
        return exc


def run_dask(task: str, paths: Sequence[str], options: Mapping[str, Any], *, address: str,
             jobs: Optional[int] = None, limits: Limits = DEFAULT_LIMITS) -> Iterator[dict[str, Any]]:
    """Records of ``task`` on every path, in the order they finish, from the Dask cluster at ``address``.

    ``address`` is a scheduler address (``tcp://host:8786``) or ``local`` to start a LocalCluster of
    ``jobs`` workers for this batch.
    """
    distributed = _import_distributed()
    from .local import default_jobs

    cluster = start_local_cluster(jobs or default_jobs()) if address == LOCAL else None
    client = distributed.Client(cluster if cluster is not None else address)
    try:
        allowed = _allowed_failures(client)
        token = uuid.uuid4().hex[:12]
        keys = [f"tfformats-{task}-{token}-{i}" for i in range(len(paths))]
        # Workers need not share this process's working folder: send absolute paths, record the ones given.
        sent = [p if is_url(p) else os.path.abspath(p) for p in paths]
        # A scheduler that reschedules more often than once leaves the count to the tasks themselves.
        check = allowed is None or allowed >= MAX_WORKER_DEATHS
        futures = client.map(dask_task, [task] * len(paths), sent, [dict(options)] * len(paths),
                             [limits] * len(paths), [check] * len(paths), key=keys, pure=False)
        by_key = {f.key: p for f, p in zip(futures, paths, strict=True)}
        sent_by_key = {f.key: p for f, p in zip(futures, sent, strict=True)}
        # Results are fetched by the client as tasks finish, rather than one request per record here.
        for future, outcome in distributed.as_completed(futures, with_results=True, raise_errors=False):
            path = by_key[future.key]
            if not isinstance(outcome, dict):
                outcome = _exception_of(future)
            if isinstance(outcome, dict):
                record: dict[str, Any] = outcome
            elif isinstance(outcome, distributed.KilledWorker):
                tries = "" if allowed is None else f" {allowed + 1} times"
                record = failure_record(task, path, "crashed", f"the Dask worker running this model died{tries} "
                                        f"({outcome})", error_type="KilledWorker")
                if allowed is not None:
                    record["attempts"] = allowed + 1
            else:  # lost connection, cancelled: that model failed, the batch goes on
                record = failure_record(task, path, "crashed", f"Dask could not run this model: "
                                        f"{type(outcome).__name__}: {outcome}", error_type=type(outcome).__name__)
            future.release()
            yield _as_given(record, path, sent_by_key[future.key])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
