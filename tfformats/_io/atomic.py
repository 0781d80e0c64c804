"""Output files that appear only when complete: written under a temporary name, then renamed.

Object stores (URL outputs) have no rename, but an upload becomes visible only once it is whole. So a URL
output is written to a local temporary file first and uploaded in one piece when it is complete; a failure
before or during the upload leaves nothing at the URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator

from ..errors import OutputError, PathLike, TFFormatsError
from .source import StorageOptions, is_url, local_path
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
def staging_folder() -> Iterator[str]:
    """A private local folder for files on their way to a URL, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="tfformats-upload-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def upload(local: str, url: str, *, storage_options: StorageOptions = None) -> None:
    """Upload the local file ``local`` as ``url``; errors name ``url``."""
    from . import fs

    try:
        fs.upload(local, url, storage_options=storage_options)
    except TFFormatsError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write: {getattr(exc, 'detail', exc)}", url) from exc


@contextlib.contextmanager
def atomic_output(path: PathLike, *, storage_options: StorageOptions = None) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it into place on success, remove it on failure.

    For a URL the temporary path is a local file, uploaded as ``path`` on success. Errors from the file
    system are raised as :class:`OutputError` naming ``path``, never the temporary name.
    """
    final = os.fspath(path)
    if is_url(final):
        with staging_folder() as folder:
            tmp = os.path.join(folder, "output")
            yield tmp
            upload(tmp, final, storage_options=storage_options)
        return
    final = local_path(final)
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


def write_bytes(path: PathLike, data: bytes | bytearray | memoryview, *,
                storage_options: StorageOptions = None) -> None:
    """Write ``data`` to ``path`` atomically, in pieces (large single writes are slow on some kernels).

    A URL gets the bytes in one upload.
    """
    text = os.fspath(path)
    if is_url(text):
        from . import fs

        try:
            fs.write_bytes(text, data, storage_options=storage_options)
        except TFFormatsError as exc:
            raise OutputError(f"cannot write: {getattr(exc, 'detail', exc)}", text) from exc
        return
    with atomic_output(text) as tmp:
        with open(tmp, "wb") as f:
            write_all(f, data)
