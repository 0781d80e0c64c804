"""Real servers on 127.0.0.1 for the remote tests: an HTTP server that honours Range and counts what it sends
(plus misbehaving variants), and an S3 API server (moto) reached through s3fs."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shutil
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class Counter:
    """What one server sent: bytes (headers and bodies) and requests, by method."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.bytes = 0
            self.body_bytes = 0
            self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
            self.headers: list[dict[str, str]] = []  # the headers of each request, in the same order

    def gets(self) -> list[tuple[str, str, str]]:
        return [r for r in self.requests if r[0] == "GET"]


class _CountingWriter:
    def __init__(self, raw: Any, counter: Counter) -> None:
        self.raw, self.counter = raw, counter

    def write(self, data: bytes) -> int:
        with self.counter.lock:
            self.counter.bytes += len(data)
        return int(self.raw.write(data))

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``server.mode`` picks the behaviour: ok, ignore_range, truncate, forbidden."""

    protocol_version = "HTTP/1.1"
    server: "CountingServer"

    def setup(self) -> None:
        super().setup()
        self.wfile = _CountingWriter(self.wfile, self.server.counter)  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self, data: bytes) -> None:
        with self.server.counter.lock:
            self.server.counter.body_bytes += len(data)
        self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        counter = self.server.counter
        with counter.lock:
            counter.requests.append((self.command, self.path, self.headers.get("Range", "")))
            counter.headers.append(dict(self.headers.items()))
        mode = self.server.mode
        if mode == "forbidden":
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not self.path.endswith("/"):
                self.send_response(301)
                self.send_header("Location", self.path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            listing = self.list_directory(path)  # sends its own headers
            if listing is not None:
                data = listing.read()
                if body:
                    self._body(data)
            return
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(path)
        start, end = 0, size
        ranged = self.headers.get("Range")
        match = _RANGE.match(ranged or "")
        partial = match is not None and mode != "ignore_range"
        if partial and match is not None:
            start = int(match.group(1))
            end = min(int(match.group(2)) + 1, size) if match.group(2) else size
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if not body:
            return
        send_end = start + (end - start) // 2 if mode == "truncate" else end
        with open(path, "rb") as f:
            f.seek(start)
            pos = start
            while pos < send_end:
                chunk = f.read(min(1 << 20, send_end - pos))
                if not chunk:
                    break
                self._body(chunk)
                pos += len(chunk)
        if mode == "truncate":
            self.close_connection = True
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


class CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)  # a client hanging up early is expected here

    def __init__(self, root: Path, mode: str) -> None:
        self.root, self.mode, self.counter = root, mode, Counter()
        handler = lambda *a: RangeHandler(*a, directory=str(root))  # noqa: E731
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serve(root: Path, mode: str = "ok") -> Iterator[CountingServer]:
    server = CountingServer(root, mode)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def copy_fixture(name: str, dst: Path) -> Path:
    """Copy the model files of ``tests/fixtures/ckpt/<name>`` (not the expected values) into ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in (FIXTURES / "ckpt" / name).iterdir():
        if item.is_file() and not item.name.endswith((".expected.json", ".expected.npz", ".object_graph.pbtxt")):
            shutil.copy2(item, dst / item.name)
    return dst


@pytest.fixture
def http_root(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    return root


@pytest.fixture
def http_server(http_root: Path) -> Iterator[CountingServer]:
    """An HTTP server on 127.0.0.1 serving ``http_root``, honouring Range and counting bytes sent."""
    with serve(http_root) as server:
        yield server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 API server (moto's server mode) on 127.0.0.1, for the whole session."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Storage options for the moto server and a fresh bucket named in ``["bucket"]`` (removed afterwards)."""
    import uuid

    import s3fs

    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    options = {"key": "testing", "secret": "testing", "endpoint_url": s3_endpoint,
               "client_kwargs": {"region_name": "us-east-1"}}
    fs = s3fs.S3FileSystem(**options)
    bucket = f"tff-{uuid.uuid4().hex[:12]}"
    fs.call_s3("create_bucket", Bucket=bucket)
    fs.invalidate_cache()
    try:
        yield {"options": options, "bucket": bucket, "fs": fs}
    finally:
        with contextlib.suppress(Exception):
            fs.rm(bucket, recursive=True)
        fs.invalidate_cache()
