"""Output files that appear only when complete: written under a temporary name, then renamed."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from ..errors import OutputError, PathLike
from .transfer import write_all

TEMP_MARK = ".tempstate"


def temp_name(path: PathLike) -> str:
    """The temporary name an output is written under, beside it (same folder, so renaming is atomic)."""
    return f"{os.fspath(path)}{TEMP_MARK}{os.getpid()}"


def check_output_folder(path: PathLike) -> None:
    """Raise OutputError naming ``path`` when its folder is missing or is not a folder."""
    text = os.fspath(path)
    folder = os.path.dirname(text) or "."
    if not os.path.exists(folder):
        raise OutputError("cannot write here: the folder does not exist", text)
    if not os.path.isdir(folder):
        raise OutputError("cannot write here: a parent of this path is a file, not a folder", text)
    if os.path.isdir(text):
        raise OutputError("cannot write here: a folder of this name exists", text)


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it into place on success, remove it on failure.

    Errors from the file system are raised as :class:`OutputError` naming ``path``, never the temporary name.
    """
    final = os.fspath(path)
    check_output_folder(final)
    tmp = temp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write: {exc.strerror or exc}", final) from exc
        raise


def write_bytes(path: PathLike, data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` to ``path`` atomically, in pieces (large single writes are slow on some kernels)."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            write_all(f, data)
