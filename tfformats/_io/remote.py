"""Byte sources for fsspec URLs (``s3://``, ``gs://``, ``https://``, ``memory://`` ...): ranged reads, no downloads.

Needs the optional ``remote`` extra (``pip install tfformats[remote]``, plus the backend: s3fs, gcsfs, ...).
"""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError, UnsupportedError
from .source import ByteSource, StorageOptions


def filesystem(url: str, storage_options: StorageOptions = None) -> tuple[Any, str]:
    """The fsspec file system serving ``url`` and the path inside it."""
    try:
        import fsspec
    except ImportError:
        raise UnsupportedError("reading a URL needs fsspec: pip install 'tfformats[remote]'", url) from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except (ImportError, ValueError) as exc:
        raise UnsupportedError(f"no file system for this URL: {exc}", url) from None
    return fs, path


class RemoteFile(ByteSource):
    """One remote object, read by byte range."""

    def __init__(self, url: str, storage_options: StorageOptions = None) -> None:
        self.path = url
        self._fs, self._key = filesystem(url, storage_options)
        try:
            info = self._fs.info(self._key)
        except FileNotFoundError:
            raise NotFoundError("no such file", url) from None
        self.size = int(info.get("size") or 0)

    def read_into(self, dest: memoryview, offset: int) -> int:
        end = min(offset + len(dest), self.size)
        if end <= offset:
            return 0
        data = self._fs.cat_file(self._key, start=offset, end=end)
        dest[:len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


def open_remote(url: str, *, storage_options: StorageOptions = None) -> ByteSource:
    """Open ``url`` for ranged reads."""
    return RemoteFile(url, storage_options)
