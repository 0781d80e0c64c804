"""Remote reads: bytes a server sends per operation, and the rate of reading one large tensor over HTTP.

Usage (from the repository root)::

    python benchmarks/bench_remote.py                 # 1 GiB tensor, 5 rounds
    python benchmarks/bench_remote.py --size-mib 256 --runs 5

An HTTP server honouring ``Range`` runs in a separate process on 127.0.0.1 (so it does not share the client's
interpreter), sends file bytes with ``sendfile`` and counts every byte it sends, headers included. The report gives, for each operation, the bytes
sent against the budget it must stay within, then the time to read one tensor of ``--size-mib`` MiB through
``tfformats.load_checkpoint(url).get_tensor`` (checksum verified) next to one plain sequential download of the
same data file: with ``curl`` (when installed) and with one GET through fsspec/aiohttp, the three interleaved in
``--runs`` rounds; the ratio is the median over rounds of (download time / tfformats time).
Files are served from the page cache. Nothing here asserts anything; it prints numbers.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

KIB, MIB = 1 << 10, 1 << 20
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


# -- the server (its own process) ---------------------------------------------------------------------------

class _Count:
    lock = threading.Lock()
    sent = 0
    requests = 0


class _Writer:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, data: bytes) -> int:
        with _Count.lock:
            _Count.sent += len(data)
        return int(self.raw.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.wfile = _Writer(self.wfile)  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._serve(False)

    def do_GET(self) -> None:
        if self.path == "/__count":
            with _Count.lock:
                body = json.dumps({"bytes": _Count.sent, "requests": _Count.requests}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.raw.write(body)  # not counted
            return
        if self.path == "/__reset":
            with _Count.lock:
                _Count.sent = _Count.requests = 0
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._serve(True)

    def _serve(self, body: bool) -> None:
        with _Count.lock:
            _Count.requests += 1
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self._reply(404)
            return
        size = os.path.getsize(path)
        match = _RANGE.match(self.headers.get("Range", ""))
        start, end = 0, size
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) + 1, size) if match.group(2) else size
        self.send_response(206 if match else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        if match:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if not body:
            return
        self.wfile.flush()
        with open(path, "rb") as f:  # sendfile, as nginx and other real servers send files
            pos = start
            while pos < end:
                sent = os.sendfile(self.connection.fileno(), f.fileno(), pos, min(16 * MIB, end - pos))
                if sent <= 0:
                    break
                pos += sent
                with _Count.lock:
                    _Count.sent += sent


def serve(root: str, port_file: str) -> None:
    handler = lambda *a: _Handler(*a, directory=root)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


# -- the client -------------------------------------------------------------------------------------------

class Server:
    def __init__(self, root: Path) -> None:
        port_file = root / ".port"
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(root), "--port-file", str(port_file)])
        deadline = time.time() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.time() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    def reset(self) -> None:
        urllib.request.urlopen(self.url + "/__reset").read()

    def count(self) -> dict[str, int]:
        return json.loads(urllib.request.urlopen(self.url + "/__count").read())  # type: ignore[no-any-return]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _timed(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_data(root: Path, size: int) -> tuple[int, dict[str, int]]:
    import numpy as np

    import tfformats as tff

    rng = np.random.default_rng(0)
    small: dict[str, object] = {f"layer_{i:04d}/bias": rng.standard_normal(16).astype(np.float32)
                                for i in range(3000)}
    small["medium/kernel"] = rng.standard_normal((256, 256)).astype(np.float32)
    small["zlarge/kernel"] = rng.integers(0, 255, 10 * MIB, dtype=np.uint8)
    tff.save_checkpoint(root / "budget" / "model.ckpt-1", small)
    big = np.frombuffer(rng.bytes(size), dtype=np.uint8)
    tff.save_checkpoint(root / "rate" / "model.ckpt-1", {"big": big})
    sizes = {name: int(np.asarray(small[name]).nbytes) for name in ("layer_1234/bias", "medium/kernel",
                                                                      "zlarge/kernel")}
    return os.path.getsize(root / "budget" / "model.ckpt-1.index"), sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the large tensor (default 1024)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port_file)
        return 0

    import fsspec

    import tfformats as tff

    root = Path(tempfile.mkdtemp(prefix="tfformats-bench-remote-"))
    try:
        index_size, sizes = write_data(root, args.size_mib * MIB)
        server = Server(root)
        try:
            prefix = f"{server.url}/budget/model.ckpt-1"
            print(f"budget checkpoint: .index {index_size} bytes, 3002 tensors")
            print(f"{'operation':42s} {'sent':>12s} {'budget':>12s}")

            def measure(label: str, fn: Callable[[], Any], budget: int) -> None:
                server.reset()
                fn()
                count = server.count()
                print(f"{label:42s} {count['bytes']:>12,d} {budget:>12,d}   ({count['requests']} requests)")

            measure("list_variables", lambda: tff.list_variables(prefix), index_size + 64 * KIB)
            for name, nbytes in sizes.items():
                measure(f"load_variable {name} ({nbytes:,d} B)", lambda n=name: tff.load_variable(prefix, n),
                        index_size + nbytes + 256 * KIB)

            data_url = f"{server.url}/rate/model.ckpt-1.data-00000-of-00001"
            size = args.size_mib * MIB
            for _ in range(2):  # warm the page cache and the connection pool
                urllib.request.urlopen(data_url).read()
            fs = fsspec.filesystem("http")

            def read_tensor(verify: bool = True) -> None:
                with tff.load_checkpoint(f"{server.url}/rate/model.ckpt-1", verify_checksums=verify) as reader:
                    value = reader.get_tensor("big")
                    assert value.nbytes == size

            sides: dict[str, Callable[[], Any]] = {}
            if shutil.which("curl"):
                sides["curl, one GET"] = lambda: subprocess.run(["curl", "-s", "-o", "/dev/null", data_url],
                                                                check=True)
            sides["fsspec/aiohttp, one GET"] = lambda: fs.cat_file(data_url)
            sides["tfformats get_tensor (crc verified)"] = read_tensor
            # Without the checksum the reader asks for the whole tensor in one read: the I/O layer's own rate.
            sides["tfformats get_tensor, verify_checksums=False"] = lambda: read_tensor(False)
            # Interleaved, so that load from other processes hits every side alike; ratios are taken per round.
            times: dict[str, list[float]] = {label: [] for label in sides}
            for _ in range(args.runs):
                for label, fn in sides.items():
                    times[label].append(_timed(fn, 1))
            ours = times["tfformats get_tensor (crc verified)"]
            print(f"\none tensor of {args.size_mib} MiB, median of {args.runs} interleaved rounds")
            for label, seconds in times.items():
                median = statistics.median(seconds)
                line = f"{label:42s} {median:8.3f} s {size / median / MIB:10.1f} MiB/s"
                if "tfformats" not in label:
                    ratio = statistics.median(t / o for t, o in zip(seconds, ours))
                    line += f"   tfformats (crc verified) rate / this rate: {ratio:.2f}"
                print(line)
        finally:
            server.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
