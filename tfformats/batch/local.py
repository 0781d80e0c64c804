"""Run a batch on this machine: N child processes, each fed one model at a time by its own thread."""

from __future__ import annotations

import os
import queue
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Iterator, Mapping, Sequence

from .isolate import DEFAULT_LIMITS, IsolatedRunner, Limits


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_local(task: str, paths: Sequence[str], options: Mapping[str, Any], *, jobs: int | None = None,
              limits: Limits = DEFAULT_LIMITS) -> Iterator[dict[str, Any]]:
    """Records of ``task`` on every path, in the order they finish, from ``jobs`` worker processes."""
    count = max(1, min(jobs or default_jobs(), len(paths) or 1))
    runners: queue.SimpleQueue[IsolatedRunner] = queue.SimpleQueue()
    every = [IsolatedRunner(limits) for _ in range(count)]
    for runner in every:
        runners.put(runner)

    def one(path: str) -> dict[str, Any]:
        runner = runners.get()
        try:
            return runner.run(task, path, options)
        finally:
            runners.put(runner)

    executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="tfformats-batch")
    pending: set[Future[dict[str, Any]]] = set()
    todo = iter(paths)
    try:
        # Keep a few models queued per worker rather than submitting the whole hub at once.
        for path in todo:
            pending.add(executor.submit(one, path))
            if len(pending) >= 2 * count:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.add(executor.submit(one, nxt))
    finally:
        if pending:  # stopped early (an interrupt, or the caller stopped iterating): stop the children now
            for runner in every:
                runner.kill()
        executor.shutdown(wait=True, cancel_futures=True)
        for runner in every:
            runner.close()
