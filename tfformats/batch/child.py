"""The process that runs models one at a time for a batch: ``python -m tfformats.batch.child``.

It reads jobs from stdin and writes records to stdout, both as length-prefixed pickles, and runs each
model under an address-space limit. Library output is sent to stderr so it cannot garble a record.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from typing import Any, BinaryIO, Optional

_LENGTH = struct.Struct("<Q")
READY = "ready"


def read_frame(stream: BinaryIO) -> Optional[Any]:
    """The next pickled message, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def encode_frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


def decode_length(head: bytes) -> int:
    return int(_LENGTH.unpack(head)[0])


FRAME_HEADER = _LENGTH.size


def model_bytes(path: str) -> int:
    """Bytes of the files a model consists of: reading may map all of them into memory."""
    if "://" in path:
        return 0
    if os.path.isdir(path):
        total = 0
        for folder, _, files in os.walk(path):
            total += sum(_size(os.path.join(folder, f)) for f in files)
        return total
    folder = os.path.dirname(path) or "."
    base = os.path.basename(path)
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    return sum(_size(os.path.join(folder, n)) for n in names if n == base or n.startswith(base + "."))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _address_space() -> Optional[int]:
    """Bytes of address space this process uses now (Linux), or None where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def limit_memory(extra: Optional[int]) -> None:
    """Cap the address space at what is used now plus ``extra`` bytes (None lifts the cap)."""
    try:
        import resource
    except ImportError:  # not POSIX: no limit
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if extra is None:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        return
    used = _address_space()
    if used is None:
        return
    soft = used + extra
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the process that started it dies."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # best effort: stdin closing also ends this process
    if os.getppid() != parent:
        os._exit(0)


def serve(jobs: BinaryIO, records: BinaryIO) -> None:
    """Answer jobs ``(task, path, options, memory_limit)`` with records until stdin closes."""
    from .tasks import failure_record, run_task

    records.write(encode_frame(READY))
    records.flush()
    while True:
        job = read_frame(jobs)
        if job is None:
            return
        task, path, options, memory_limit = job
        try:
            limit_memory(None if memory_limit is None else memory_limit + model_bytes(path))
            record = run_task(task, path, options)
        except MemoryError:
            record = failure_record(task, path, "memory", "ran out of memory (memory limit reached)",
                                    error_type="MemoryError")
        finally:
            limit_memory(None)
        record["pid"] = os.getpid()
        records.write(encode_frame(record))
        records.flush()
        if record["status"] == "memory":
            return  # leave the rest of the batch to a fresh process


def main() -> None:
    import signal

    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    # Ctrl-C reaches the whole process group: the parent handles it and stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    jobs = os.fdopen(os.dup(0), "rb")
    records = os.fdopen(os.dup(1), "wb")
    # From here on, stdin reads nothing and stdout writes go to stderr: only `records` carries answers.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    import tfformats  # noqa: F401  (load the library before the first job, outside its time limit)

    serve(jobs, records)


if __name__ == "__main__":
    main()
