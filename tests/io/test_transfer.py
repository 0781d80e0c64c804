"""Kernel-side copies of file ranges, their fallbacks, and checksums of file ranges."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tfformats import checksums
from tfformats._io import transfer
from tfformats.errors import FormatError

SIZE = 3 * transfer.KERNEL_COPY_MIN + 12345  # several buffers long, not a multiple of any


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[int, str, bytes]]:
    payload = np.random.default_rng(7).integers(0, 256, SIZE + 100, dtype=np.uint8).tobytes()
    path = tmp_path / "src.bin"
    path.write_bytes(payload)
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd, str(path), payload
    finally:
        os.close(fd)


def _methods(monkeypatch: pytest.MonkeyPatch, kernel: bool, sendfile: bool) -> None:
    monkeypatch.setattr(transfer, "_kernel_copy", kernel)
    monkeypatch.setattr(transfer, "_sendfile", sendfile)


@pytest.mark.parametrize("kernel,sendfile", [(True, True), (False, True), (False, False)],
                         ids=["copy_file_range", "sendfile", "pread_pwrite"])
def test_copy_range_copies_exact_bytes_with_each_method(source: tuple[int, str, bytes], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, kernel: bool,
                                                        sendfile: bool) -> None:
    fd, path, payload = source
    _methods(monkeypatch, kernel, sendfile)
    with open(tmp_path / "dst.bin", "wb") as out:
        out.write(b"head")
        out.flush()
        transfer.copy_range(fd, 50, out.fileno(), 4, SIZE, path=path)
    assert (tmp_path / "dst.bin").read_bytes() == b"head" + payload[50:50 + SIZE]


def test_refused_kernel_copy_falls_back_to_the_next_method(source: tuple[int, str, bytes], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fd, path, payload = source
    _methods(monkeypatch, True, True)

    def refuse(*args: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    with open(tmp_path / "dst.bin", "wb") as out:
        transfer.copy_range(fd, 0, out.fileno(), 0, SIZE, path=path)
    assert (tmp_path / "dst.bin").read_bytes() == payload[:SIZE]


def test_kernel_copy_stopping_halfway_is_finished_by_the_fallback(source: tuple[int, str, bytes], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fd, path, payload = source
    _methods(monkeypatch, True, False)
    real = os.copy_file_range
    calls = []

    def once(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        calls.append(count)
        return real(src, dst, min(count, 1000), offset_src, offset_dst) if len(calls) == 1 else 0

    monkeypatch.setattr(os, "copy_file_range", once)
    with open(tmp_path / "dst.bin", "wb") as out:
        transfer.copy_range(fd, 7, out.fileno(), 0, SIZE, path=path)
    assert (tmp_path / "dst.bin").read_bytes() == payload[7:7 + SIZE]


@pytest.mark.parametrize("kernel,sendfile", [(True, True), (False, False)], ids=["kernel", "pread_pwrite"])
def test_copy_past_the_end_of_the_source_names_the_file(source: tuple[int, str, bytes], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, kernel: bool,
                                                       sendfile: bool) -> None:
    fd, path, _ = source
    _methods(monkeypatch, kernel, sendfile)
    with open(tmp_path / "dst.bin", "wb") as out:
        with pytest.raises(FormatError) as info:
            transfer.copy_range(fd, 200, out.fileno(), 0, SIZE, path=path)
    assert "src.bin" in str(info.value)


def test_range_crc32c_equals_crc32c_of_the_bytes(source: tuple[int, str, bytes]) -> None:
    fd, path, payload = source
    assert transfer.range_crc32c(fd, 33, SIZE, path=path) == checksums.crc32c(payload[33:33 + SIZE])
    assert transfer.range_crc32c_in_background(fd, 0, 10, path=path).result() == checksums.crc32c(payload[:10])


def test_range_crc32c_past_the_end_names_the_file(source: tuple[int, str, bytes]) -> None:
    fd, path, _ = source
    with pytest.raises(FormatError) as info:
        transfer.range_crc32c(fd, 200, SIZE, path=path)
    assert "src.bin" in str(info.value)


@pytest.mark.parametrize("size", [0, 10, transfer.KERNEL_COPY_MIN - 1, SIZE], ids=["empty", "small", "below", "large"])
def test_append_range_mixes_with_buffered_writes_and_returns_the_crc(source: tuple[int, str, bytes],
                                                                     tmp_path: Path, size: int) -> None:
    fd, path, payload = source
    with open(tmp_path / "dst.bin", "wb") as out:
        out.write(b"a")  # still in the buffer when the range is appended
        crc = transfer.append_range(out, fd, 3, size, path=path)
        out.write(b"z")
    assert crc == checksums.crc32c(payload[3:3 + size])
    assert (tmp_path / "dst.bin").read_bytes() == b"a" + payload[3:3 + size] + b"z"


def test_append_range_without_checksum_returns_none(source: tuple[int, str, bytes], tmp_path: Path) -> None:
    fd, path, payload = source
    with open(tmp_path / "dst.bin", "wb") as out:
        assert transfer.append_range(out, fd, 0, SIZE, path=path, checksum=False) is None
    assert (tmp_path / "dst.bin").read_bytes() == payload[:SIZE]


def test_write_all_writes_large_buffers_in_pieces_that_add_up(tmp_path: Path) -> None:
    import io

    payload = np.arange(transfer.WRITE_PIECE, dtype=np.int32)  # four pieces of bytes
    sizes: list[int] = []

    class Recorder(io.BytesIO):
        def write(self, b: object) -> int:
            sizes.append(len(memoryview(b)))  # type: ignore[arg-type]
            return super().write(b)  # type: ignore[arg-type]

    out = Recorder()
    assert transfer.write_all(out, memoryview(payload.view(np.uint8))) == payload.nbytes
    assert out.getvalue() == payload.tobytes()
    assert max(sizes) <= transfer.WRITE_PIECE and len(sizes) == 4
    assert transfer.write_all(out, b"xy") == 2 and out.getvalue().endswith(b"xy")
