"""Random-access byte sources: what readers use to get bytes out of a file, wherever it lives.

A reader asks a :class:`ByteSource` for its size and for byte ranges; it never opens files itself. Local files
are memory-mapped (zero-copy views) and read with ``pread``; URLs are served by ``tfformats._io.remote``, which
reads byte ranges through fsspec. Bounds are the caller's job: a source reads what it is asked for and reports
how many bytes it got.
"""

from __future__ import annotations

import abc
import mmap
import os
import re
from typing import Any, Mapping, Optional

from ..errors import PathLike

StorageOptions = Optional[Mapping[str, Any]]

# An fsspec protocol: two or more letters (so a Windows drive letter is not one), then "://".
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")


def is_url(path: PathLike) -> bool:
    """True for ``scheme://...`` paths other than ``file://`` (which is a local path)."""
    match = _SCHEME.match(os.fspath(path))
    return match is not None and match.group(1).lower() != "file"


def local_path(path: PathLike) -> str:
    """``path`` as a local file-system path (``file://`` stripped)."""
    text = os.fspath(path)
    return text[len("file://"):] if text.lower().startswith("file://") else text


class ByteSource(abc.ABC):
    """Sized, random-access, read-only bytes."""

    path: str
    size: int

    @abc.abstractmethod
    def read_into(self, dest: memoryview, offset: int) -> int:
        """Fill ``dest`` with the bytes at ``offset``; return how many were read (fewer at end of file)."""

    def read(self, offset: int, size: int) -> bytes:
        """The ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        buf = bytearray(max(0, min(size, self.size - offset)))
        got = self.read_into(memoryview(buf), offset) if buf else 0
        return bytes(buf[:got])

    def buffer(self) -> Optional[memoryview]:
        """A zero-copy view of the whole file, or None where the bytes are not in memory (remote files)."""
        return None

    @property
    def fileno(self) -> Optional[int]:
        """An OS file descriptor for kernel-side copies, or None."""
        return None

    def prefetch(self, ranges: list[tuple[int, int]]) -> None:
        """Hint that the ``(offset, size)`` ranges will be read soon (remote sources fetch them in parallel)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> "ByteSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalFile(ByteSource):
    """A local file: ``pread`` for copies into caller buffers, a lazily created read-only map for views."""

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")
        self.fd = self._file.fileno()
        self.size = os.fstat(self.fd).st_size
        self._map: Optional[mmap.mmap] = None
        self._view: Optional[memoryview] = None

    @property
    def fileno(self) -> Optional[int]:
        return self.fd

    @property
    def map(self) -> mmap.mmap:
        if self._map is None:
            self._map = mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ) if self.size else mmap.mmap(-1, 1)
        return self._map

    def buffer(self) -> memoryview:
        if self._view is None:
            self._view = memoryview(self.map)
        return self._view

    def read_into(self, dest: memoryview, offset: int) -> int:
        done = 0
        total = len(dest)
        while done < total:
            n = os.preadv(self.fd, [dest[done:]], offset + done)
            if n <= 0:
                break
            done += n
        return done

    def read(self, offset: int, size: int) -> bytes:
        return self.map[offset:offset + size]

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass  # arrays still view the map; it is released with them
            self._map = None
        self._file.close()


def open_source(path: PathLike, *, storage_options: StorageOptions = None) -> ByteSource:
    """Open ``path`` (a local path, ``file://`` or an fsspec URL) for random access.

    Raises FileNotFoundError (local) or the remote layer's NotFoundError when nothing is there.
    """
    if is_url(path):
        from .remote import open_remote  # needs the optional fsspec extra

        return open_remote(os.fspath(path), storage_options=storage_options)
    return LocalFile(local_path(path))
