"""The background threads of tfformats' I/O: one per role, started on first use, shared by every reader and writer.

crc32c and file reads release the GIL, so a checksum or the next read can run while the caller works on the
previous piece. Jobs for a role run one at a time in submission order, so a job may wait on the result of a job
submitted before it (chained checksums do).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

Role = Literal["checksum"]

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child (a batch worker) inherits the pools but not their threads: start afresh.
    global _lock
    _pools.clear()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def worker(role: Role) -> ThreadPoolExecutor:
    """The single background thread for ``role``."""
    with _lock:
        pool = _pools.get(role)
        if pool is None:
            pool = _pools[role] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tfformats-{role}")
        return pool


def on_worker() -> bool:
    """True on one of these background threads (which must not wait on a job of their own pool)."""
    return threading.current_thread().name.startswith("tfformats-")
