"""Column-wise decoding of a whole table gives exactly what decoding its blocks one by one gives, or declines."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Optional

import pytest

from tfformats.errors import FormatError
from tfformats.table import TableReader, TableWriter, layout
from tfformats.table.columns import Columns, decode_columns, from_lists

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
INDEXES = sorted(FIXTURES.rglob("*.index"))


def _blocks(table: TableReader) -> list[bytes]:
    return [table.read_block(handle) for handle in table.index_handles]


def _one_by_one(blocks: list[bytes]) -> Optional[tuple[list[bytes], list[bytes]]]:
    """Keys and values by the entry-by-entry decoder, or None where it refuses the blocks."""
    keys: list[bytes] = []
    values: list[bytes] = []
    try:
        for block in blocks:
            block_keys, block_values = layout.decode_block(block)
            if block_keys and keys and block_keys[0] <= keys[-1]:
                return None
            keys += block_keys
            values += block_values
    except FormatError:
        return None
    return keys, values


def _as_lists(columns: Columns) -> tuple[list[bytes], list[bytes]]:
    return [columns.key(i) for i in range(len(columns))], [columns.value(i) for i in range(len(columns))]


def _table(items: list[tuple[bytes, bytes]], folder: Path, block_size: int = layout.DEFAULT_BLOCK_SIZE
           ) -> TableReader:
    buf = io.BytesIO()
    writer = TableWriter(buf, block_size=block_size)
    for key, value in items:
        writer.add(key, value)
    writer.finish()
    path = folder / "table.index"
    path.write_bytes(buf.getvalue())
    return TableReader(path)


@pytest.mark.parametrize("index", INDEXES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_tensorflow_index_decodes_column_wise_to_the_same_entries(index: Path) -> None:
    with TableReader(index) as table:
        blocks = _blocks(table)
        columns = decode_columns(blocks)
        assert columns is not None, "TensorFlow's own layout must take the column-wise path"
        assert _as_lists(columns) == _one_by_one(blocks)
        assert _as_lists(table.columns()) == _one_by_one(blocks)


def _names(count: int, rng: random.Random) -> list[bytes]:
    words = ["kernel", "bias", "Adam", "moving_mean", "über", "層", "x" * 150, "a\x00b"]
    names = {f"model/{rng.choice(words)}_{i // 37}/{rng.choice(words)}/{i}".encode() for i in range(count)}
    names.add(b"z" * 20_000)  # a key length needing a three-byte varint
    names.add(b"")  # the empty key, first of all
    return sorted(names)


@pytest.mark.parametrize("block_size", [4096, layout.DEFAULT_BLOCK_SIZE])
def test_large_tables_with_long_unicode_and_nul_keys_decode_the_same(block_size: int, tmp_path: Path) -> None:
    rng = random.Random(block_size)
    keys = _names(6000, rng)
    items = [(k, bytes(rng.randrange(256) for _ in range(rng.choice([0, 5, 30, 200])))) for k in keys]
    with _table(items, tmp_path, block_size) as table:
        blocks = _blocks(table)
        columns = decode_columns(blocks)
        assert columns is not None
        assert _as_lists(columns) == ([k for k, _ in items], [v for _, v in items])


def test_a_key_too_long_for_three_varint_bytes_declines_and_the_table_still_reads(tmp_path: Path) -> None:
    items = [(b"a", b"1"), (b"b" * (1 << 21), b"2"), (b"c", b"3")]
    with _table(items, tmp_path) as table:
        assert decode_columns(_blocks(table)) is None
        assert _as_lists(table.columns()) == ([k for k, _ in items], [v for _, v in items])


def test_from_lists_keeps_entries_as_given() -> None:
    keys, values = [b"", b"a", b"b\x00c"], [b"h", b"", b"xyz"]
    assert _as_lists(from_lists(keys, values)) == (keys, values)


def _mutate(block: bytes, rng: random.Random) -> bytes:
    data = bytearray(block)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.6 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op < 0.8 and data:
            at = rng.randrange(len(data))
            del data[at:at + rng.randint(1, 8)]
        else:
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


@pytest.mark.parametrize("seed", range(300))
def test_damaged_blocks_decode_the_same_or_decline(seed: int, tmp_path: Path) -> None:
    """Never a different answer: equal to the one-by-one decoder, or None (which then says what is wrong)."""
    rng = random.Random(seed)
    keys = _names(400, rng)
    items = [(k, bytes([8, 1, 18, 2, 10, 0]) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 9))))
             for k in keys]
    with _table(items, tmp_path, 2048) as table:
        blocks = _blocks(table)
    victim = rng.randrange(len(blocks))
    blocks[victim] = _mutate(blocks[victim], rng)
    expected = _one_by_one(blocks)
    columns = decode_columns(blocks)
    if columns is not None:
        assert expected is not None, "declining is required where the one-by-one decoder refuses"
        assert _as_lists(columns) == expected
