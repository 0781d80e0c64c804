"""A task that misbehaves on purpose, to test how a batch isolates models (enabled only for tests).

The model file holds one instruction: ``ok``, ``sleep SECONDS``, ``allocate BYTES``, ``kill`` (the process
running the model kills itself), ``segfault``, ``kill-host`` (kills the process that handed it the model: a
Dask worker) or ``raise``.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Mapping


def fault_task(path: str, options: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        words = f.read().split()
    action, arg = (words + ["", ""])[:2]
    if action == "sleep":
        time.sleep(float(arg))
    elif action == "allocate":
        block = bytearray(int(arg))  # touches the pages, so the memory is really used
        del block
    elif action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif action == "kill-host":
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(60)
    elif action == "raise":
        raise RuntimeError("fault task raised on purpose")
    return 0, {"path": path, "action": action, "pid": os.getpid()}


TEST_TASKS = {"fault": fault_task}
