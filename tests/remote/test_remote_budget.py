"""Byte budgets, measured by counting what an HTTP server on this machine sends (headers included)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import tfformats as tff
from remote_servers import CountingServer

pytest.importorskip("fsspec")

KIB = 1 << 10
SMALL_TENSORS = 3000
LARGE = 10 << 20  # bytes of the large tensor: read as several parallel ranged requests


@pytest.fixture
def big_ckpt(http_root: Path) -> dict[str, object]:
    """A checkpoint with many small tensors (an index of several blocks), a medium and a large tensor."""
    rng = np.random.default_rng(7)
    tensors: dict[str, object] = {f"layer_{i:04d}/bias": rng.standard_normal(16).astype(np.float32)
                                  for i in range(SMALL_TENSORS)}
    tensors["medium/kernel"] = rng.standard_normal((256, 256)).astype(np.float32)  # 256 KiB
    tensors["zlarge/kernel"] = rng.integers(0, 255, LARGE, dtype=np.uint8)
    prefix = http_root / "run" / "model.ckpt-1"
    tff.save_checkpoint(prefix, tensors, update_state=True)
    return {"tensors": tensors, "index_size": os.path.getsize(str(prefix) + ".index")}


def test_list_variables_transfers_at_most_the_index_and_64_kib(http_server: CountingServer,
                                                                big_ckpt: dict[str, object]) -> None:
    index_size = int(big_ckpt["index_size"])  # type: ignore[call-overload]
    assert index_size > 64 * KIB  # several cache blocks, so the budget is not met by one lucky request
    http_server.counter.reset()
    names = tff.list_variables(f"{http_server.url}/run/model.ckpt-1")
    sent = http_server.counter.bytes
    assert len(names) == SMALL_TENSORS + 2
    assert sent <= index_size + 64 * KIB, (sent, index_size)
    assert not any(".data-" in path for _, path, _ in http_server.counter.gets())


@pytest.mark.parametrize("name", ["layer_1234/bias", "medium/kernel", "zlarge/kernel"])
def test_load_variable_transfers_at_most_index_tensor_and_256_kib(http_server: CountingServer,
                                                                   big_ckpt: dict[str, object], name: str) -> None:
    tensors = big_ckpt["tensors"]
    assert isinstance(tensors, dict)
    expected = tensors[name]
    index_size = int(big_ckpt["index_size"])  # type: ignore[call-overload]
    http_server.counter.reset()
    value = tff.load_variable(f"{http_server.url}/run/model.ckpt-1", name)
    sent = http_server.counter.bytes
    assert value.tobytes() == expected.tobytes()
    assert sent <= index_size + expected.nbytes + 256 * KIB, (sent, index_size, expected.nbytes)


def test_one_tensor_from_the_folder_url_stays_within_the_budget(http_server: CountingServer,
                                                                big_ckpt: dict[str, object]) -> None:
    index_size = int(big_ckpt["index_size"])  # type: ignore[call-overload]
    http_server.counter.reset()
    value = tff.load_variable(f"{http_server.url}/run/", "medium/kernel")
    assert http_server.counter.bytes <= index_size + value.nbytes + 256 * KIB


def test_large_tensor_is_read_by_parallel_ranged_requests(http_server: CountingServer,
                                                          big_ckpt: dict[str, object]) -> None:
    with tff.load_checkpoint(f"{http_server.url}/run/model.ckpt-1") as reader:
        reader.keys()
        http_server.counter.reset()
        value = reader.get_tensor("zlarge/kernel")
    data_gets = [r for r in http_server.counter.gets() if ".data-" in r[1]]
    assert value.nbytes == LARGE
    assert len(data_gets) >= 2 and all(rng.startswith("bytes=") for _, _, rng in data_gets)


def test_neighbouring_small_tensors_share_a_request(http_server: CountingServer,
                                                    big_ckpt: dict[str, object]) -> None:
    tensors = big_ckpt["tensors"]
    assert isinstance(tensors, dict)
    names = [f"layer_{i:04d}/bias" for i in range(100, 140)]
    with tff.load_checkpoint(f"{http_server.url}/run/model.ckpt-1") as reader:
        reader.keys()
        http_server.counter.reset()
        for name in names:
            assert reader.get_tensor(name).tobytes() == tensors[name].tobytes()
    data_gets = [r for r in http_server.counter.gets() if ".data-" in r[1]]
    assert 1 <= len(data_gets) <= 2, data_gets


def test_damaged_tensor_at_a_url_fails_its_checksum_naming_the_url(http_server: CountingServer,
                                                                   http_root: Path,
                                                                   big_ckpt: dict[str, object]) -> None:
    url = f"{http_server.url}/run/model.ckpt-1"
    with tff.load_checkpoint(url) as reader:
        entry = reader.entry("medium/kernel")  # type: ignore[attr-defined]
    data = http_root / "run" / "model.ckpt-1.data-00000-of-00001"
    with open(data, "r+b") as f:
        f.seek(entry.offset + 100)
        byte = f.read(1)
        f.seek(entry.offset + 100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(tff.ChecksumError) as info:
        tff.load_variable(url, "medium/kernel")
    assert f"{url}.data-00000-of-00001" in str(info.value)
    assert "medium/kernel" in str(info.value)


def test_prefetched_large_range_is_fetched_ahead_and_never_past_its_end(http_server: CountingServer,
                                                                        http_root: Path,
                                                                        big_ckpt: dict[str, object]) -> None:
    from tfformats._io.remote import STREAM_PIECE, RemoteFile

    with tff.load_checkpoint(f"{http_server.url}/run/model.ckpt-1") as reader:
        entry = reader.entry("zlarge/kernel")  # type: ignore[attr-defined]
    path = "/run/model.ckpt-1.data-00000-of-00001"
    stored = (http_root / path.lstrip("/")).read_bytes()[entry.offset:entry.offset + entry.size]
    source = RemoteFile(http_server.url + path)
    try:
        http_server.counter.reset()
        source.prefetch([(entry.offset, entry.size)])
        out = bytearray(entry.size)
        view = memoryview(out)
        chunk = 2 << 20  # how the bundle reader consumes a large tensor while checksumming it
        for start in range(0, entry.size, chunk):
            assert source.read_into(view[start:start + chunk], entry.offset + start) == len(view[start:start + chunk])
    finally:
        source.close()
    assert bytes(out) == stored
    gets = http_server.counter.gets()
    assert len(gets) == -(-entry.size // STREAM_PIECE)
    assert http_server.counter.body_bytes == entry.size  # nothing fetched twice, nothing past the range


def test_header_storage_option_is_sent_with_every_request(http_server: CountingServer,
                                                          big_ckpt: dict[str, object]) -> None:
    opts = {"headers": {"X-Token": "secret-123"}}
    http_server.counter.reset()
    value = tff.load_variable(f"{http_server.url}/run/model.ckpt-1", "zlarge/kernel", storage_options=opts)
    assert value.nbytes == LARGE
    counter = http_server.counter
    data_gets = [h for (method, path, _), h in zip(counter.requests, counter.headers)
                 if method == "GET" and ".data-" in path]
    assert len(data_gets) >= 2  # the parallel ranged requests of the large tensor
    assert all(h.get("X-Token") == "secret-123" for h in counter.headers)


def test_index_larger_than_a_block_from_a_server_ignoring_range_is_refused(http_root: Path,
                                                                           big_ckpt: dict[str, object]) -> None:
    from remote_servers import serve

    with serve(http_root, "ignore_range") as server:
        url = f"{server.url}/run/model.ckpt-1"
        with pytest.raises(tff.FormatError) as info:
            tff.list_variables(url)
        sent = server.counter.bytes
    assert f"{url}.index" in str(info.value) and "Range" in str(info.value)
    assert sent < 4 * int(big_ckpt["index_size"])  # type: ignore[call-overload]  # refused, not retried
