"""Run models in a separate process with a time and memory limit, so a bad model cannot take the batch down.

An :class:`IsolatedRunner` keeps one child process (``tfformats.batch.child``) and hands it one model at a
time. A model that runs past its timeout gets its process killed; a process that dies while running a model
(killed, segfault, abort) is replaced and the model is run once more, in case the death had another cause;
a second death records the model as crashed. Either way the runner starts a fresh process for the next model.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..errors import TFFormatsError
from .child import FRAME_HEADER, READY, decode_length, encode_frame
from .tasks import failure_record

DEFAULT_TIMEOUT = 300.0
DEFAULT_MEMORY = 4 << 30
_STARTUP_TIMEOUT = 120.0
# Thread pools in numerical libraries reserve address space per thread; one thread per child is plenty.
_CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Limits:
    """Per-model limits: seconds of wall time and bytes of memory beyond the model's own files (None: none)."""

    timeout: Optional[float] = DEFAULT_TIMEOUT
    memory: Optional[int] = DEFAULT_MEMORY


DEFAULT_LIMITS = Limits()


class _Died(Exception):
    """The child process ended while running a model."""


class _TimedOut(Exception):
    """The child process did not answer within the model's time limit."""


def _death_reason(returncode: Optional[int]) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


class IsolatedRunner:
    """One child process that runs models one at a time under ``limits``."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._closed = False

    # -- the child process ---------------------------------------------------------------------

    def _start(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise _Died("the batch was stopped")
        if os.name != "posix":  # the time limit waits on pipes with select(), the memory limit is an rlimit
            raise TFFormatsError("batch mode runs each model in a worker process, which needs a POSIX system "
                                 "(Linux, macOS)")
        env = dict(os.environ)
        for key, value in _CHILD_ENV.items():
            env.setdefault(key, value)
        proc = subprocess.Popen([sys.executable, "-m", "tfformats.batch.child", str(os.getpid())],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env, close_fds=True)
        self._proc = proc
        try:
            if self._receive(proc, time.monotonic() + _STARTUP_TIMEOUT) != READY:
                raise _Died("did not start")
        except (_Died, _TimedOut) as exc:
            self._stop()
            raise TFFormatsError(f"cannot start a process to run models ({exc}): is tfformats installed "
                                 f"for {sys.executable}?") from None
        return proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """End the child process: it exits when its input closes."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def kill(self) -> None:
        """Stop at once, also while a model runs (from another thread): no new process is started."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def __enter__(self) -> "IsolatedRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one message ---------------------------------------------------------------------------

    @staticmethod
    def _read_exactly(proc: subprocess.Popen[bytes], size: int, deadline: Optional[float]) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                raise _TimedOut()
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise _Died()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _receive(self, proc: subprocess.Popen[bytes], deadline: Optional[float]) -> Any:
        import pickle

        size = decode_length(self._read_exactly(proc, FRAME_HEADER, deadline))
        return pickle.loads(self._read_exactly(proc, size, deadline))

    def _attempt(self, task: str, path: str, options: Mapping[str, Any]) -> dict[str, Any]:
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        if self._closed:
            raise _Died("the batch was stopped")
        assert proc.stdin is not None
        deadline = None if self.limits.timeout is None else time.monotonic() + self.limits.timeout
        try:
            proc.stdin.write(encode_frame((task, path, dict(options), self.limits.memory)))
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Died() from None
        record: dict[str, Any] = self._receive(proc, deadline)
        if record.get("status") == "memory":  # the child leaves after running out of memory
            self._stop()
        return record

    # -- one model -----------------------------------------------------------------------------

    def run(self, task: str, path: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """The record of one model; a timeout or a crash gives a failure record, never an exception."""
        start = time.perf_counter()
        reason = ""
        for attempt in (1, 2):
            try:
                record = self._attempt(task, path, options)
            except _TimedOut:
                self._stop()
                record = failure_record(task, path, "timeout", f"no result within {self.limits.timeout:g} s; "
                                        "the process running it was stopped", seconds=time.perf_counter() - start)
            except _Died:
                if self._closed:
                    raise TFFormatsError("the batch was stopped") from None
                proc = self._proc
                returncode = proc.wait() if proc is not None else None
                self._stop()
                reason = _death_reason(returncode)
                continue
            record["attempts"] = attempt
            return record
        record = failure_record(task, path, "crashed", f"the process running this model {reason}, twice",
                                seconds=time.perf_counter() - start)
        record["attempts"] = 2
        return record


_local = threading.local()


def thread_runner(limits: Limits) -> IsolatedRunner:
    """The runner of the calling thread (one child process per thread), made on first use."""
    runner: Optional[IsolatedRunner] = getattr(_local, "runner", None)
    if runner is None or runner.limits != limits:
        if runner is not None:
            runner.close()
        runner = IsolatedRunner(limits)
        _local.runner = runner
    return runner


def run_isolated(task: str, path: str, options: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """Run one model in the calling thread's child process: the function local pools and Dask workers call."""
    return thread_runner(limits).run(task, path, options)
