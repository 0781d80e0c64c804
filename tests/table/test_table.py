"""The SSTable reader and writer on TensorFlow-written .index files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tfformats as tff
from fixture_data import all_prefixes, load_expected
from tfformats.errors import ChecksumError, FormatError
from tfformats.table import TableReader, TableWriter, layout

V2_INDEXES = [Path(str(p) + ".index") for p in all_prefixes() if load_expected(p).format == "v2"]


@pytest.mark.parametrize("index", V2_INDEXES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rewriting_a_tensorflow_index_reproduces_it_byte_for_byte(index: Path, tmp_path: Path) -> None:
    with TableReader(index) as table:
        items = list(table.items())
    out = tmp_path / "copy.index"
    with open(out, "wb") as f:
        writer = TableWriter(f)
        for key, value in items:
            writer.add(key, value)
        writer.finish()
    assert out.read_bytes() == index.read_bytes()


@pytest.mark.parametrize("index", [i for i in V2_INDEXES if i.parent.name in ("all_dtypes", "partitioned")],
                         ids=lambda p: p.parent.name)
def test_snappy_compressed_index_reads_the_same(index: Path, tmp_path: Path) -> None:
    prefix = str(index)[: -len(".index")]
    with TableReader(index) as table:
        items = list(table.items())
    for data in Path(prefix).parent.glob(Path(prefix).name + ".data-*"):
        shutil.copy(data, tmp_path / data.name)
    with open(tmp_path / index.name, "wb") as f:
        writer = TableWriter(f, compression=layout.SNAPPY_COMPRESSION, block_size=512)
        for key, value in items:
            writer.add(key, value)
        writer.finish()
    raw = (tmp_path / index.name).read_bytes()
    with TableReader(tmp_path / index.name) as table:
        trailers = [raw[h.offset + h.size] for h in table.index_handles]
        assert layout.SNAPPY_COMPRESSION in trailers
        assert list(table.items()) == items
    expected = load_expected(Path(prefix))
    copy = tff.load_checkpoint(tmp_path / Path(prefix).name)
    assert sorted(copy.keys()) == sorted(expected.values)
    kinds = set()
    for name, value in expected.values.items():
        got = copy.get_tensor(name)
        kinds.add(got.dtype.kind)
        assert got.dtype == value.dtype and got.shape == value.shape, name
        if value.dtype == object:
            assert got.reshape(-1).tolist() == value.reshape(-1).tolist(), name
        else:
            assert got.tobytes() == value.tobytes(), name
    assert "O" in kinds or index.parent.name != "all_dtypes"  # string tensors were compared too


def test_flipped_byte_in_an_index_block_is_a_checksum_error(tmp_path: Path) -> None:
    index = V2_INDEXES[0]
    damaged = tmp_path / index.name
    data = bytearray(index.read_bytes())
    data[10] ^= 0x40
    damaged.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        list(TableReader(damaged).items())
    assert str(damaged) in str(info.value)


def test_truncated_table_names_the_file(tmp_path: Path) -> None:
    index = V2_INDEXES[0]
    for cut in (0, 20, len(index.read_bytes()) - 1):
        damaged = tmp_path / f"cut{cut}.index"
        damaged.write_bytes(index.read_bytes()[:cut])
        with pytest.raises(FormatError) as info:
            list(TableReader(damaged).items())
        assert str(damaged) in str(info.value)


def test_block_handle_near_two_to_the_64_is_rejected(tmp_path: Path) -> None:
    footer = layout.encode_footer(layout.Footer(layout.BlockHandle(0, 0), layout.BlockHandle(2**64 - 10, 5)))
    bad = tmp_path / "huge.index"
    bad.write_bytes(footer)
    with pytest.raises(FormatError, match="past the end"):
        TableReader(bad)


def test_separators_follow_tensorflow_rules() -> None:
    # Index keys TensorFlow wrote after the last block (format fact sheet, section 1.6).
    assert layout.short_successor(b"w") == b"x"
    assert layout.short_successor(b"\x00w") == b"\x01"
    assert layout.short_successor(b"step/.ATTRIBUTES/x") == b"t"
    assert layout.shortest_separator(b"abc", b"abz") == b"abd"
    assert layout.shortest_separator(b"abc", b"abd") == b"abc"
