"""Large byte ranges of ``http://`` and ``https://`` objects, read straight into the caller's buffer.

fsspec's HTTP file system (aiohttp on one event-loop thread) moves about a third of what one ``curl`` download
does on the same machine; a few threads each reading a range with ``http.client`` into the destination buffer
(``readinto``: no intermediate bytes objects) reach it. The remote layer uses this for large reads of plain
HTTP(S) objects only; sizes, small reads, listings and every other scheme stay with fsspec. A response must be
``206 Partial Content`` for exactly the range asked for: a server answering ``200`` with the whole file is
refused at once, before its body is read.
"""

from __future__ import annotations

import http.client
import os
import threading
import urllib.parse
from typing import Mapping, Optional

from ..errors import NotFoundError, TruncatedError, WrongFormatError

# Options of fsspec's HTTP file system this reader honours; with any other option fsspec does the reading.
SUPPORTED_OPTIONS = frozenset({"headers"})
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
_TIMEOUT = 60.0
_MAX_REDIRECTS = 5


def usable(url: str, storage_options: Optional[Mapping[str, object]]) -> bool:
    """True when ``url`` can be read here with the same effect as through fsspec."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        return False
    if storage_options and not set(storage_options) <= SUPPORTED_OPTIONS:
        return False
    return not any(os.environ.get(name) for name in _PROXY_VARIABLES)


class RangeReader:
    """Ranged GETs of one URL over per-thread keep-alive connections."""

    def __init__(self, url: str, name: str, headers: Optional[Mapping[str, str]] = None) -> None:
        self.url = url  # where the bytes are (after redirects)
        self.name = name  # what errors call it (the URL the caller gave)
        self.headers = dict(headers or {})
        self._local = threading.local()

    def _connection(self, parts: urllib.parse.SplitResult, fresh: bool) -> http.client.HTTPConnection:
        key = (parts.scheme, parts.netloc)
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get(key)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = pool[key] = cls(parts.netloc, timeout=_TIMEOUT)
        return conn

    def read_into(self, dest: memoryview, start: int) -> None:
        """Fill ``dest`` with the bytes at ``start``, or raise a tfformats error naming the URL."""
        from .remote import remote_error

        try:
            self._read_into(dest, start)
        except (TruncatedError, WrongFormatError, NotFoundError):
            raise
        except Exception as exc:
            raise remote_error(exc, self.name) from exc

    def _read_into(self, dest: memoryview, start: int) -> None:
        url = self.url
        end = start + len(dest)
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {**self.headers, "Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
            response = self._request(parts, target, headers)
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urllib.parse.urljoin(url, response.getheader("Location", ""))
                response.read()
                continue
            try:
                self._receive(response, dest, start, end)
            finally:
                response.close()
            return
        raise http.client.HTTPException(f"more than {_MAX_REDIRECTS} redirects")

    def _request(self, parts: urllib.parse.SplitResult, target: str,
                 headers: dict[str, str]) -> http.client.HTTPResponse:
        for attempt in (0, 1):  # a kept-alive connection the server has closed is retried once on a new one
            conn = self._connection(parts, fresh=attempt > 0)
            try:
                conn.request("GET", target, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _receive(self, response: http.client.HTTPResponse, dest: memoryview, start: int, end: int) -> None:
        status = response.status
        if status == 200:
            self._drop(response)
            raise WrongFormatError(
                f"asked for bytes {start}..{end}, the server answered with the whole file (HTTP 200): it ignores "
                "byte-range requests (Range), so reading it would download whole files", self.name, start)
        if status != 206:
            self._drop(response)
            error = http.client.HTTPException(f"HTTP {status}")
            error.status = status  # type: ignore[attr-defined]
            raise error
        content_range = response.getheader("Content-Range", "")
        if not content_range.startswith(f"bytes {start}-"):
            self._drop(response)
            raise WrongFormatError(f"asked for bytes {start}..{end}, the server sent the range "
                                   f"{content_range or '(none)'}", self.name, start)
        got = 0
        total = len(dest)
        while got < total:
            n = response.readinto(dest[got:])
            if not n:
                break
            got += n
        if got != total:
            self._drop(response)
            raise TruncatedError(f"asked for bytes {start}..{end}, the server sent only {got}: the response was "
                                 "cut short", self.name, start + got)

    def _drop(self, response: http.client.HTTPResponse) -> None:
        """Close the connection of a response whose body is not wanted (it may be a whole file)."""
        response.close()
        pool = self._local.__dict__.get("pool", {})
        for conn in pool.values():
            conn.close()
        pool.clear()
