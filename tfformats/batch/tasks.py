"""The per-model work of a batch: one plain function from (task, path, options) to a record.

:func:`run_task` is what every backend runs, in a child process of a local pool or of a Dask worker. It
calls the public library API and returns a JSON-ready record; it never raises for a bad model.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any, Callable, Mapping

from ..errors import TFFormatsError

Options = Mapping[str, Any]
TaskFunction = Callable[[str, Options], "tuple[int, dict[str, Any]]"]

# Set in the environment (of the workers too) to enable the fault-injection task used by the tests.
TEST_TASKS_ENV = "TFFORMATS_BATCH_TEST_TASKS"

STATUS_BY_EXIT = {0: "ok", 1: "problem", 2: "unreadable"}
FAILURE_STATUSES = ("timeout", "memory", "crashed", "error")
_UNREADABLE = (TFFormatsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def _remote(options: Options) -> dict[str, Any]:
    """``storage_options`` for the readers, when the batch has any (URLs only)."""
    storage = options.get("storage_options")
    return {"storage_options": dict(storage)} if storage else {}


def audit_task(path: str, options: Options) -> tuple[int, dict[str, Any]]:
    """What ``tfformats audit PATH --json`` prints (the op list only with ``ops``)."""
    from ..audit.report import audit_path

    extra = {"allow": options["allow"]} if options.get("allow") else {}
    report = audit_path(path, check_variables=options.get("check_variables", True), **extra, **_remote(options))
    fail_on = str(options.get("fail_on", "high"))
    failing = report.at_least(fail_on)
    doc = report.to_dict()
    if not options.get("ops", False):
        doc.pop("ops", None)
    doc["fail_on"] = fail_on
    doc["failed"] = bool(failing)
    return (1 if failing else 0), doc


def verify_task(path: str, options: Options) -> tuple[int, dict[str, Any]]:
    """What ``tfformats verify PATH --json`` prints."""
    from ..checkpoint.verify import verify_checkpoint

    report = verify_checkpoint(path, **_remote(options))
    return report.exit_code, report.to_dict()


def inspect_task(path: str, options: Options) -> tuple[int, dict[str, Any]]:
    """The listing of ``tfformats inspect PATH --json``: totals, tensors and the object graph summary."""
    from ..checkpoint.describe import describe
    from ..checkpoint.loading import load_checkpoint
    from ..checkpoint.stats import tensor_stats
    from ..dtypes import VARIANT

    with load_checkpoint(path, verify_checksums=options.get("verify", True), **_remote(options)) as reader:
        doc = describe(reader, path)
        if options.get("stats", False):
            infos = reader.tensor_infos()
            for entry in doc["tensors"]:
                if infos[entry["name"]].dtype.enum != VARIANT:
                    entry["stats"] = tensor_stats(reader.get_tensor(entry["name"]))
    return 0, doc


def graph_task(path: str, options: Options) -> tuple[int, dict[str, Any]]:
    """What ``tfformats graph PATH --json`` prints."""
    from ..graphs.read import read_message
    from ..graphs.summary import summarize

    kind, message = read_message(path, **_remote(options))
    return 0, {"path": path, **summarize(kind, message)}


TASKS: dict[str, TaskFunction] = {"audit": audit_task, "verify": verify_task, "inspect": inspect_task,
                                  "graph": graph_task}


def task_function(name: str) -> TaskFunction:
    """The function behind a task name; the test-only tasks exist when TFFORMATS_BATCH_TEST_TASKS=1."""
    if name in TASKS:
        return TASKS[name]
    if os.environ.get(TEST_TASKS_ENV) == "1":
        from .faults import TEST_TASKS

        if name in TEST_TASKS:
            return TEST_TASKS[name]
    raise KeyError(f"no batch task named {name!r}; known: {', '.join(sorted(TASKS))}")


def failure_record(task: str, path: str, status: str, message: str, *, seconds: float = 0.0,
                   error_type: str = "") -> dict[str, Any]:
    """A record for a model that gave no result: unreadable, timed out, out of memory, crashed."""
    return {"path": path, "task": task, "status": status, "exit_code": 2, "seconds": round(seconds, 6),
            "error": message, "error_type": error_type or status, "result": None}


def run_task(task: str, path: str, options: Options) -> dict[str, Any]:
    """Run one task on one model and return its record; errors become records, never exceptions.

    Example:
        >>> run_task("verify", "train/model.ckpt-1000", {})["status"]
        'ok'
    """
    start = time.perf_counter()
    function = task_function(task)
    try:
        exit_code, doc = function(path, options)
    except MemoryError:
        return failure_record(task, path, "memory", "ran out of memory (memory limit reached)",
                              seconds=time.perf_counter() - start, error_type="MemoryError")
    except _UNREADABLE as exc:
        return failure_record(task, path, "unreadable", str(exc), seconds=time.perf_counter() - start,
                              error_type=type(exc).__name__)
    except OSError as exc:  # ENOMEM: a memory map or a thread was refused under the memory limit
        status = "memory" if exc.errno == errno.ENOMEM else "unreadable"
        return failure_record(task, path, status, str(exc), seconds=time.perf_counter() - start,
                              error_type=type(exc).__name__)
    except Exception as exc:  # a reader bug on this input: record it and go on with the batch
        return failure_record(task, path, "error", f"{type(exc).__name__}: {exc}",
                              seconds=time.perf_counter() - start, error_type=type(exc).__name__)
    record = {"path": path, "task": task, "status": STATUS_BY_EXIT.get(exit_code, "problem"), "exit_code": exit_code,
              "seconds": round(time.perf_counter() - start, 6), "result": doc}
    problems = doc.get("problems")
    if exit_code == 2 and isinstance(problems, list) and problems:  # verify reports, rather than raises
        record["error"] = str(problems[0].get("message", ""))
    return record
