"""Hostile bundles a structure-aware fuzzer found: each gives a FormatError before any large allocation.

The files are built here entry by entry (valid table checksums, valid crc32c of the data), so the reader's
deep paths are reached: slices that overlap or leave gaps, dims that promise gigabytes, sizes past the shard.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import tfformats as tff
from tfformats import dtypes
from tfformats.bundle import naming
from tfformats.bundle.entries import HEADER_KEY, Entry, encode_entry, encode_header
from tfformats.bundle.slices import Extent, encode_slice_key
from tfformats.checksums import masked_crc32c
from tfformats.cli import main
from tfformats.errors import FormatError, TruncatedError
from tfformats.table.writer import TableWriter

FLOAT = dtypes.lookup(dtypes.FLOAT)
# What a read of these few-hundred-byte files may allocate at most (tracemalloc peak).
ALLOCATION_LIMIT = 16 << 20


def _write_bundle(prefix: Path, entries: dict[bytes, Entry], data: bytes, num_shards: int = 1) -> None:
    naming.data_path(prefix, 0, num_shards)
    Path(naming.data_path(prefix, 0, num_shards)).write_bytes(data)
    with open(naming.index_path(prefix), "wb") as f:
        table = TableWriter(f)
        table.add(HEADER_KEY, encode_header(num_shards))
        for key in sorted(entries):
            table.add(key, encode_entry(entries[key]))
        table.finish()


def _rows(rows: int, cols: int = 4, start: int = 0) -> np.ndarray:
    return np.arange(start * cols, (start + rows) * cols, dtype=np.float32).reshape(rows, cols)


def _sliced_bundle(prefix: Path, shape: tuple[int, int], row_ranges: list[tuple[int, int]]) -> None:
    """A float32 tensor 'w' of ``shape`` stored as row slices ``[(start, length), ...]``."""
    entries: dict[bytes, Entry] = {}
    data = bytearray()
    extents_list = []
    for start, length in row_ranges:
        part = _rows(length, shape[1], start)
        extents = (Extent(start, length), Extent(0, -1))
        extents_list.append(extents)
        raw = part.tobytes()
        entries[encode_slice_key("w", extents)] = Entry(FLOAT, (length, shape[1]), 0, len(data), len(raw),
                                                        masked_crc32c(raw), ())
        data += raw
    entries[b"w"] = Entry(FLOAT, shape, 0, 0, 0, 0, tuple(extents_list))
    _write_bundle(prefix, entries, bytes(data))


def _bounded(fn: Callable[[], object]) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FormatError):
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < ALLOCATION_LIMIT, f"allocated {peak} bytes before refusing"


@pytest.mark.parametrize("rows", [[(0, 4), (4, 3), (4, 3)], [(0, 4), (3, 3), (7, 3)]], ids=["same", "shifted"])
def test_overlapping_slices_are_refused_instead_of_returning_uninitialized_rows(
        rows: list[tuple[int, int]], tmp_path: Path) -> None:
    # 40 elements "covered" in a [10, 4] tensor, yet some rows are never written.
    prefix = tmp_path / "model"
    _sliced_bundle(prefix, (10, 4), rows)
    with tff.load_checkpoint(prefix) as reader:
        with pytest.raises(FormatError, match="overlap") as info:
            reader.get_tensor("w")
    assert str(prefix) in str(info.value)


def test_slices_that_leave_a_gap_are_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "gap"
    _sliced_bundle(prefix, (10, 4), [(0, 4), (6, 4)])
    with tff.load_checkpoint(prefix) as reader, pytest.raises(FormatError, match="cover 32 elements"):
        reader.get_tensor("w")


def test_slices_that_tile_exactly_read_back_whole(tmp_path: Path) -> None:
    prefix = tmp_path / "good"
    _sliced_bundle(prefix, (10, 4), [(7, 3), (0, 4), (4, 3)])
    with tff.load_checkpoint(prefix) as reader:
        np.testing.assert_array_equal(reader.get_tensor("w"), _rows(10))


def test_a_partitioned_tensor_claiming_gigabytes_is_refused_before_allocating(tmp_path: Path) -> None:
    # One real 4x4 slice, but the full tensor claims 2^31 rows (32 GiB of float32).
    prefix = tmp_path / "huge"
    part = _rows(4).tobytes()
    extents = (Extent(0, 4), Extent(0, -1))
    _write_bundle(prefix, {
        b"w": Entry(FLOAT, (1 << 31, 4), 0, 0, 0, 0, (extents,)),
        encode_slice_key("w", extents): Entry(FLOAT, (4, 4), 0, 0, len(part), masked_crc32c(part), ()),
    }, part)
    with tff.load_checkpoint(prefix) as reader:
        _bounded(lambda: reader.get_tensor("w"))


def test_a_whole_tensor_claiming_more_than_its_shard_is_refused_before_allocating(tmp_path: Path) -> None:
    # 4 GiB claimed in a shard of a few hundred bytes: copy=True must not allocate the output first.
    prefix = tmp_path / "claims"
    shape = (1 << 30,)
    _write_bundle(prefix, {b"w": Entry(FLOAT, shape, 0, 0, 4 << 30, 0, ())}, bytes(860))
    with tff.load_checkpoint(prefix) as reader:
        for copy in (True, False):
            with pytest.raises(TruncatedError, match="needs bytes") as info:
                reader.get_tensor("w", copy=copy)
            assert info.value.offset == 0 and str(prefix) in str(info.value)


@pytest.mark.parametrize("argv", [["inspect", "--all"], ["audit"], ["verify"]], ids=lambda a: a[0])
def test_commands_report_a_hostile_partitioned_tensor_without_a_traceback(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Distinct slice keys, 40 elements in all, but row 3 twice and row 6 never.
    prefix = tmp_path / "model"
    _sliced_bundle(prefix, (10, 4), [(0, 4), (3, 3), (7, 3)])
    status = main([argv[0], str(prefix), *argv[1:]])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert status != 0, captured.out  # never "intact" / "clean"
    assert "overlap" in captured.out + captured.err


def test_an_index_claiming_a_million_shards_is_verified_in_bounded_work(tmp_path: Path) -> None:
    prefix = tmp_path / "many"
    raw = _rows(2).tobytes()
    _write_bundle(prefix, {b"w": Entry(FLOAT, (2, 4), 0, 0, len(raw), masked_crc32c(raw), ())}, raw,
                  num_shards=1 << 20)
    report = tff.verify_checkpoint(prefix)
    missing = [p for p in report.problems if p.kind == "missing_shard"]
    assert len(report.problems) <= 2 and len(missing) == 1, report.problems
    assert f"{(1 << 20) - 1} of the {1 << 20} data shards" in missing[0].message
    assert len(report.shards) == 1 and report.shards[0].present
