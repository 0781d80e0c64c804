"""Byte sources for fsspec URLs (``s3://``, ``gs://``, ``https://``, ``hf://``, ``memory://`` ...): ranged reads.

Needs the optional ``remote`` extra (``pip install tfformats[remote]``, plus the backend: s3fs, gcsfs, ...).
Nothing here is imported for local paths.

How bytes move:

- Small reads (below :data:`DIRECT_MIN`) go through a per-file cache of :data:`BLOCK`-sized blocks: the blocks a
  read misses are fetched in one request, so neighbouring small tensors and neighbouring index blocks share a
  request. Reading the same region in order grows the request (readahead), up to the end of the file.
- Large reads go straight into the caller's buffer as ranged requests run in parallel (up to :data:`WORKERS`
  pieces of :data:`PIECE_MIN` to :data:`PIECE_MAX` bytes); for plain ``http(s)://`` objects these requests are
  made by :mod:`~tfformats._io.http_ranges`, which is about three times faster than fsspec's HTTP client.
- Every response is checked against the range asked for: a server that ignores ``Range`` (and sends the whole
  file) or sends less than promised raises a :class:`~tfformats.errors.FormatError` naming the URL.
"""

from __future__ import annotations

import collections
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

from ..errors import NotFoundError, PathError, PathLike, TFFormatsError, TruncatedError, WrongFormatError
from . import http_ranges
from .http_ranges import RangeReader
from .source import ByteSource, StorageOptions

# Cache block: a read of S small bytes transfers at most S + 2 * BLOCK.
BLOCK = 64 << 10
# Blocks kept per file (4 MiB): enough for a table's index and the blocks around the last reads.
CACHE_BLOCKS = 64
# Longest readahead of a sequential run of small reads, in blocks (1 MiB).
READAHEAD_BLOCKS = 16
# Reads at least this large bypass the cache and are split into parallel requests.
DIRECT_MIN = 1 << 20
# A large read is split into WORKERS pieces of at least PIECE_MIN and at most PIECE_MAX bytes.
PIECE_MIN = 512 << 10
PIECE_MAX = 32 << 20
WORKERS = 8
# A large range announced by prefetch() is fetched ahead of the reads that consume it, in pieces of
# STREAM_PIECE bytes, at most STREAM_WINDOW at a time (so 32 MiB in flight), never past the range.
STREAM_PIECE = 4 << 20
STREAM_WINDOW = 8

T = TypeVar("T")

_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


class RemoteError(PathError):
    """A URL cannot be read: access refused, a server error, no connection (``path`` is the URL)."""


class RemoteAccessError(RemoteError, PermissionError):
    """The server refused access to a URL (HTTP 401/403, missing or wrong credentials)."""


class MissingExtraError(TFFormatsError, ImportError):
    """A URL needs a package that is not installed (fsspec or the file system's backend)."""

    def __init__(self, detail: str, path: PathLike) -> None:
        super().__init__(f"{os.fspath(path)}: {detail}")
        self.detail = detail
        self.path = os.fspath(path)  # after ImportError.__init__, which sets its own ``path`` to None

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _status(exc: BaseException) -> Optional[int]:
    """The HTTP status an exception (or one it was raised from) carries."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = getattr(current, "status", None)
        if isinstance(status, int) and 100 <= status < 600:
            return status
        current = current.__cause__ or current.__context__
    return None


def remote_error(exc: BaseException, url: str) -> TFFormatsError:
    """The tfformats error for an exception a file system raised while serving ``url``."""
    if isinstance(exc, TFFormatsError):
        return exc
    cause = exc.__cause__
    if isinstance(exc, FileNotFoundError) and isinstance(cause, (OSError, TimeoutError)) \
            and not isinstance(cause, FileNotFoundError) and _status(cause) is None:
        exc = cause  # fsspec's HTTP file system reports a refused connection as a missing file
    status = _status(exc)
    if status in (401, 403) or isinstance(exc, PermissionError):
        return RemoteAccessError(f"access denied{f' (HTTP {status})' if status else ''}: "
                                 "check the credentials (--storage-option / storage_options)", url)
    if status == 404 or (isinstance(exc, FileNotFoundError) and status is None):
        return NotFoundError("no such file", url)
    if type(exc).__name__ in ("ClientPayloadError", "ContentLengthError", "TransferEncodingError",
                              "IncompleteRead", "ResponseStreamingError", "ServerDisconnectedError"):
        return TruncatedError(f"the server stopped sending before the end of the response ({_one_line(exc)})",
                              url)
    if status is not None:
        return RemoteError(f"the server answered HTTP {status}", url)
    return RemoteError(f"cannot read: {_one_line(exc)}", url)


def call(url: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one file-system operation for ``url``, turning its errors into tfformats errors."""
    try:
        return fn(*args, **kwargs)
    except TFFormatsError:
        raise
    except Exception as exc:
        raise remote_error(exc, url) from exc


# The extra (pyproject.toml) that brings the backend of a URL scheme.
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "hf": "hf", "http": "remote", "https": "remote"}


def filesystem(url: str, storage_options: StorageOptions = None) -> tuple[Any, str]:
    """The fsspec file system serving ``url`` and the path inside it."""
    try:
        import fsspec
    except ImportError:
        raise MissingExtraError("reading a URL needs fsspec: pip install 'tfformats[remote]'", url) from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        extra = _EXTRAS.get(url.split("://", 1)[0].lower(), "remote")
        raise MissingExtraError(f"{_one_line(exc)} (pip install 'tfformats[{extra}]')", url) from None
    except ValueError as exc:
        raise MissingExtraError(f"no file system for this URL: {_one_line(exc)}", url) from None
    except TypeError as exc:
        raise RemoteError(f"storage options not accepted: {_one_line(exc)}", url) from None
    return fs, path


def _workers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="tfformats-remote")
        return _pool


def _forget_workers() -> None:
    """In a forked child the parent's worker threads do not exist: start a new pool when one is needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


class _Stream:
    """A large range fetched ahead of its reader; ``pieces`` maps each piece's start to its pending bytes."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.scheduled = start  # where the next piece to fetch begins
        self.pieces: dict[int, Future[bytearray]] = {}

    def piece_at(self, pos: int) -> int:
        return self.start + (pos - self.start) // STREAM_PIECE * STREAM_PIECE


class RemoteFile(ByteSource):
    """One remote object, read by byte range through a small block cache."""

    def __init__(self, url: str, storage_options: StorageOptions = None) -> None:
        self.path = url
        self._fs, self._key = filesystem(url, storage_options)
        info = call(url, self._fs.info, self._key)
        if info.get("type") == "directory":
            raise NotFoundError("this is a folder, not a file", url)
        size = info.get("size")
        if size is None:
            raise RemoteError("the server does not tell the size of this file (no Content-Length)", url)
        self.size = int(size)
        # Large reads of plain HTTP(S) objects bypass fsspec's event loop (see http_ranges).
        self._ranges: Optional[RangeReader] = None
        if http_ranges.usable(url, storage_options):
            headers = dict(storage_options or {}).get("headers")
            self._ranges = RangeReader(str(info.get("url") or url), url, headers if isinstance(headers, dict) else None)
        self._blocks: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._run_end = -1  # block after the last cache fetch, for readahead
        self._readahead = 0
        self._streams: list[_Stream] = []

    # -- requests -------------------------------------------------------------------------

    def fetch(self, start: int, end: int) -> bytes:
        """The bytes ``start:end`` in one request, checked to be exactly that range."""
        data = call(self.path, self._fs.cat_file, self._key, start=start, end=end)
        if len(data) != end - start:
            if len(data) > end - start:
                raise WrongFormatError(
                    f"asked for bytes {start}..{end} ({end - start} bytes), the server sent {len(data)}: "
                    "it ignores byte-range requests (Range), so reading it would download whole files", self.path,
                    start)
            raise TruncatedError(f"asked for bytes {start}..{end}, the server sent only {len(data)} "
                                 f"(the file is {self.size} bytes): the response was cut short", self.path,
                                 start + len(data))
        return bytes(data)

    def _fetch_into(self, dest: memoryview, offset: int) -> None:
        dest[:] = self.fetch(offset, offset + len(dest))

    def _fetch_piece(self, start: int, end: int) -> bytearray:
        buf = bytearray(end - start)
        (self._ranges.read_into if self._ranges is not None else self._fetch_into)(memoryview(buf), start)
        return buf

    # -- streams (large ranges announced by prefetch) ---------------------------------------

    def _schedule(self, stream: _Stream) -> None:
        """Start fetching the next pieces of ``stream`` up to the window (caller holds the lock)."""
        while stream.scheduled < stream.end and len(stream.pieces) < STREAM_WINDOW:
            start, end = stream.scheduled, min(stream.scheduled + STREAM_PIECE, stream.end)
            stream.pieces[start] = _workers().submit(self._fetch_piece, start, end)
            stream.scheduled = end

    def _stream_for(self, offset: int, end: int) -> Optional[_Stream]:
        with self._lock:
            for stream in self._streams:
                if stream.start <= offset and end <= stream.end and stream.piece_at(offset) in stream.pieces:
                    return stream
        return None

    def _read_stream(self, stream: _Stream, dest: memoryview, offset: int) -> bool:
        """Copy ``dest`` out of the stream's pieces; False (nothing copied) when they do not hold it."""
        end = offset + len(dest)
        pos = offset
        while pos < end:
            start = stream.piece_at(pos)
            with self._lock:
                pending = stream.pieces.get(start)
            if pending is None:
                if pos == offset:
                    return False
                self._fetch_into(dest[pos - offset:], pos)  # the reader skipped ahead of the stream
                return True
            data = pending.result()
            stop = min(end, start + len(data))
            dest[pos - offset:stop - offset] = memoryview(data)[pos - start:stop - start]
            if stop == start + len(data):  # this piece is used up
                with self._lock:
                    stream.pieces.pop(start, None)
                    self._schedule(stream)
                    if not stream.pieces and stream.scheduled >= stream.end and stream in self._streams:
                        self._streams.remove(stream)
            pos = stop
        return True

    # -- cache ----------------------------------------------------------------------------

    def _cached_blocks(self, first: int, last: int) -> dict[int, bytes]:
        """Blocks ``first..last`` (inclusive), fetching the missing ones in one request."""
        with self._lock:
            have = {i: self._blocks[i] for i in range(first, last + 1) if i in self._blocks}
            for i in have:
                self._blocks.move_to_end(i)
            missing = [i for i in range(first, last + 1) if i not in have]
            if not missing:
                return have
            lo, hi = missing[0], missing[-1]
            self._readahead = min(max(1, self._readahead * 2), READAHEAD_BLOCKS) if lo == self._run_end else 0
            hi += self._readahead
        last_block = (self.size - 1) // BLOCK
        hi = min(hi, last_block)
        data = self.fetch(lo * BLOCK, min((hi + 1) * BLOCK, self.size))
        with self._lock:
            for i in range(lo, hi + 1):
                block = data[(i - lo) * BLOCK:(i - lo + 1) * BLOCK]
                if first <= i <= last:
                    have[i] = block
                self._blocks[i] = block
                self._blocks.move_to_end(i)
            while len(self._blocks) > CACHE_BLOCKS:
                self._blocks.popitem(last=False)
            self._run_end = hi + 1
        return have

    def _read_cached(self, dest: memoryview, offset: int) -> None:
        end = offset + len(dest)
        first, last = offset // BLOCK, (end - 1) // BLOCK
        blocks = self._cached_blocks(first, last)
        pos = 0
        for i in range(first, last + 1):
            block = blocks[i]
            lo = max(offset - i * BLOCK, 0)
            hi = min(end - i * BLOCK, len(block))
            dest[pos:pos + hi - lo] = block[lo:hi]
            pos += hi - lo

    # -- ByteSource -----------------------------------------------------------------------

    def read_into(self, dest: memoryview, offset: int) -> int:
        n = min(len(dest), self.size - offset)
        if n <= 0:
            return 0
        target = dest[:n]
        stream = self._stream_for(offset, offset + n) if self._streams else None
        if stream is not None and self._read_stream(stream, target, offset):
            return n
        if n < DIRECT_MIN:
            self._read_cached(target, offset)
            return n
        piece = min(max(-(-n // WORKERS), PIECE_MIN), PIECE_MAX)
        pieces = [(start, min(start + piece, n)) for start in range(0, n, piece)]
        fetch = self._ranges.read_into if self._ranges is not None else self._fetch_into
        futures: list[Future[None]] = [_workers().submit(fetch, target[a:b], offset + a) for a, b in pieces]
        error: Optional[BaseException] = None
        for future in futures:
            exc = future.exception()
            if exc is not None and error is None:
                error = exc
        if error is not None:
            raise error
        return n

    def read(self, offset: int, size: int) -> bytes:
        n = max(0, min(size, self.size - offset))
        if n == 0:
            return b""
        if n < DIRECT_MIN:
            buf = bytearray(n)
            self._read_cached(memoryview(buf), offset)
            return bytes(buf)
        return super().read(offset, n)

    def prefetch(self, ranges: list[tuple[int, int]]) -> None:
        """Start fetching ``(offset, size)`` ranges that will be read soon.

        Small ranges are fetched into the block cache now, in parallel. A large range becomes a stream: its
        pieces are fetched in the background, a window ahead of the reads that consume it in order (a reader
        checksumming a large tensor chunk by chunk then never waits for a request), and never past its end.
        """
        jobs = []
        for offset, size in ranges:
            end = min(offset + size, self.size)
            if end <= offset:
                continue
            if size < DIRECT_MIN:
                jobs.append(_workers().submit(self._cached_blocks, offset // BLOCK, (end - 1) // BLOCK))
            else:
                stream = _Stream(offset, end)
                with self._lock:
                    self._streams.append(stream)
                    self._schedule(stream)
        for job in jobs:
            job.result()

    def close(self) -> None:
        with self._lock:
            self._blocks.clear()
            for stream in self._streams:
                for pending in stream.pieces.values():
                    pending.cancel()
            self._streams.clear()


def open_remote(url: str, *, storage_options: StorageOptions = None) -> ByteSource:
    """Open ``url`` for ranged reads."""
    return RemoteFile(url, storage_options)


__all__ = ["BLOCK", "DIRECT_MIN", "MissingExtraError", "PIECE_MAX", "PIECE_MIN", "RemoteAccessError", "RemoteError", "RemoteFile",
           "call", "filesystem", "open_remote", "remote_error"]
