"""BundleWriter and save_checkpoint: TF-identical bytes, round trips, atomic output."""

from __future__ import annotations

import io
import os
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixture_data import CKPT_DIR, load_expected
from tfformats import dtypes
from tfformats.bundle import naming
from tfformats.bundle.reader import BundleReader
from tfformats.bundle.writer import BundleWriter
from tfformats.checkpoint.loading import latest_checkpoint, load_checkpoint
from tfformats.checkpoint.save import save_checkpoint
from tfformats.table import layout
from tfformats.table.reader import TableReader
from tfformats.table.writer import TableWriter

# (case, prefix) pairs written by TensorFlow with one tensor per SaveV2 input.
TF_WRITTEN = [
    ("all_dtypes", "all_dtypes"),
    ("tf1_saver", "model.ckpt-1"),
    ("tf1_sharded_devices", "model.ckpt-1"),
    ("partitioned", "model.ckpt"),
]


def _units_in_data_order(reader: BundleReader) -> list[tuple[int, int, str, object, object]]:
    """Every stored piece as (shard, offset, name, entry, extents-or-None), in file order."""
    units = []
    for name in reader.names():
        e = reader.entry(name)
        if e.slices:
            from tfformats.bundle.slices import encode_slice_key

            for extents in e.slices:
                part = reader.slice_entry(name, extents)
                units.append((part.shard_id, part.offset, name, part, extents))
        else:
            units.append((e.shard_id, e.offset, name, e, None))
    # An empty tensor sits at the offset of the tensor written after it.
    units.sort(key=lambda u: (u[0], u[1], u[3].size != 0))
    return units


def _rewrite(src: Path, dst: Path) -> None:
    """Re-save every tensor of ``src`` through the public writer, in TF's data order."""
    with BundleReader(src) as reader:
        num_shards = reader.header.num_shards
        with BundleWriter(dst, num_shards=num_shards) as writer:
            for shard, _, name, entry, extents in _units_in_data_order(reader):
                value = reader._read_whole(name, entry)
                if extents is None:
                    writer.add(name, value, dtype=entry.dtype, shard=shard)
                else:
                    full = reader.entry(name).shape
                    writer.add_slice(name, full, extents, value, dtype=entry.dtype, shard=shard)


def _existing(case: str, prefix: str) -> Path:
    path = CKPT_DIR / case / prefix
    if not naming.index_path(path) or not os.path.exists(naming.index_path(path)):
        pytest.fail(f"fixture {case} not generated" + " (tools/make_fixtures.py writes it)")
    return path


@pytest.mark.parametrize("case,prefix", TF_WRITTEN, ids=[c for c, _ in TF_WRITTEN])
def test_rewriting_a_tf_checkpoint_in_tf_order_reproduces_its_bytes(case: str, prefix: str, tmp_path: Path) -> None:
    src = _existing(case, prefix)
    dst = tmp_path / "copy"
    _rewrite(src, dst)
    assert Path(naming.index_path(dst)).read_bytes() == Path(naming.index_path(src)).read_bytes()
    with BundleReader(src) as reader:
        n = reader.header.num_shards
    for shard in range(n):
        ours = Path(naming.data_path(dst, shard, n)).read_bytes()
        theirs = Path(naming.data_path(src, shard, n)).read_bytes()
        assert ours == theirs, f"shard {shard} differs"


def test_save_checkpoint_values_match_what_tf_read_from_all_dtypes(tmp_path: Path) -> None:
    src = _existing("all_dtypes", "all_dtypes")
    expected = load_expected(src)
    with BundleReader(src) as reader:
        stored = {name: reader.entry(name).dtype for name in reader.names()}
    out = save_checkpoint(tmp_path / "ck", expected.values, dtypes=stored)
    with load_checkpoint(out) as reader:
        assert sorted(reader.keys()) == sorted(expected.values)
        for name, want in expected.values.items():
            got = reader.get_tensor(name)
            assert reader.info(name).dtype.tf_name == expected.dtypes[name], name
            assert got.shape == want.shape, name
            if want.dtype == object:
                assert [bytes(x) for x in got.ravel()] == [bytes(x) for x in want.ravel()], name
            else:
                assert got.tobytes() == want.tobytes(), name


def test_save_checkpoint_writes_state_file_naming_the_prefix(tmp_path: Path) -> None:
    prefix = save_checkpoint(tmp_path / "run" / "model.ckpt-7", {"w": np.ones(3, np.float32)}, update_state=True)
    assert latest_checkpoint(tmp_path / "run") == prefix
    assert "model.ckpt-7" in (tmp_path / "run" / "checkpoint").read_text()
    assert str(tmp_path) not in (tmp_path / "run" / "checkpoint").read_text()


def test_save_checkpoint_without_update_state_leaves_no_state_file(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "ck", {"w": np.ones(3, np.float32)})
    assert not (tmp_path / "checkpoint").exists()


def test_several_shards_spread_tensors_and_read_back(tmp_path: Path) -> None:
    tensors = {f"t{i}": np.full((100 + i,), i, np.int32) for i in range(7)}
    prefix = save_checkpoint(tmp_path / "ck", tensors, num_shards=3)
    for shard in range(3):
        assert os.path.getsize(naming.data_path(prefix, shard, 3)) > 0
    with load_checkpoint(prefix) as reader:
        assert reader.header.num_shards == 3  # type: ignore[attr-defined]
        for name, value in tensors.items():
            np.testing.assert_array_equal(reader.get_tensor(name), value)


def test_failure_inside_writer_leaves_no_checkpoint_and_no_temp_files(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with BundleWriter(tmp_path / "ck") as writer:
            writer.add("a", np.ones(4, np.float32))
            raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []


def test_failure_keeps_an_existing_checkpoint_intact(tmp_path: Path) -> None:
    prefix = save_checkpoint(tmp_path / "ck", {"a": np.arange(3.0)})
    before = Path(naming.index_path(prefix)).read_bytes()
    with pytest.raises(RuntimeError):
        with BundleWriter(prefix) as writer:
            writer.add("b", np.ones(4, np.float32))
            raise RuntimeError("stop")
    assert Path(naming.index_path(prefix)).read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ck.data-00000-of-00001", "ck.index"]


def test_duplicate_name_is_refused(tmp_path: Path) -> None:
    with BundleWriter(tmp_path / "ck") as writer:
        writer.add("a", np.ones(2))
        with pytest.raises(ValueError, match="already added"):
            writer.add("a", np.ones(2))


def test_slices_are_stored_under_slice_keys_and_reassemble(tmp_path: Path) -> None:
    full = np.arange(30, dtype=np.float32).reshape(10, 3)
    with BundleWriter(tmp_path / "ck") as writer:
        writer.add_slice("part", (10, 3), [(0, 4), (0, -1)], full[0:4])
        writer.add_slice("part", (10, 3), [(4, 6), (0, -1)], full[4:10])
        writer.add_slice("whole", (2,), [(0, 2)], np.ones(2, np.int64))
    with BundleReader(tmp_path / "ck") as reader:
        assert reader.entry("part").slices
        assert not reader.entry("whole").slices
        np.testing.assert_array_equal(reader.get_tensor("part"), full)
        assert reader.keys() == ["part", "whole"]


def test_variant_layout_round_trips_through_reader_decoder() -> None:
    from tfformats.bundle import data

    items = [b"", b"abc", bytes(range(256)) * 3]
    payload, crc = data.encode_variants(items)
    decoded, crc2 = data.decode_variants(payload, len(items), name="v")
    assert decoded == items and crc == crc2


# -- property tests: random tables and random tensors through both directions ------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.binary(min_size=1, max_size=40), st.binary(max_size=300), max_size=200),
       st.sampled_from([64, 256, 4096, layout.DEFAULT_BLOCK_SIZE]),
       st.sampled_from([layout.NO_COMPRESSION, layout.SNAPPY_COMPRESSION]))
def test_random_tables_round_trip_through_table_writer_and_reader(
        items: dict[bytes, bytes], block_size: int, compression: int) -> None:
    import tempfile

    buf = io.BytesIO()
    writer = TableWriter(buf, block_size=block_size, compression=compression)
    for key in sorted(items):
        writer.add(key, items[key])
    writer.finish()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "t")
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        reader = TableReader(path)
        try:
            assert list(reader.items()) == sorted(items.items())
            for key, value in items.items():
                assert reader.get(key) == value
        finally:
            reader.close()


_STORABLE = [row for row in dtypes.BY_ENUM.values() if row.numpy is not None]


def _random_value(row: dtypes.DType, shape: tuple[int, ...], data: st.DataObject) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    if row.is_string:
        items = data.draw(st.lists(st.binary(max_size=200), min_size=n, max_size=n))
        arr = np.empty(n, dtype=object)
        arr[:] = items
        return arr.reshape(shape)
    assert row.numpy is not None
    raw = data.draw(st.binary(min_size=n * row.itemsize, max_size=n * row.itemsize))
    arr = np.frombuffer(raw, dtype=np.uint8).view(row.numpy).reshape(shape).copy()
    if row.numpy == np.bool_:
        arr = arr.view(np.uint8) & 1
        arr = arr.view(np.bool_)
    elif row.numpy in (ml_dtypes.int4, ml_dtypes.uint4) or row.name in ("int2", "uint2", "float4_e2m1fn"):
        bits = 2 if row.name.endswith("2") else 4
        arr = (arr.view(np.uint8) & ((1 << bits) - 1)).view(row.numpy)
        if row.name in ("int4", "int2"):
            arr = arr.view(np.uint8)
            sign = 1 << (bits - 1)
            arr = np.where(arr & sign, arr | (0xFF ^ ((1 << bits) - 1)), arr).astype(np.uint8).view(row.numpy)
    return arr


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_tensors_of_every_dtype_round_trip_through_bundle_writer_and_reader(
        tmp_path: Path, data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 6))
    tensors: dict[str, tuple[dtypes.DType, np.ndarray]] = {}
    for i in range(count):
        row = data.draw(st.sampled_from(_STORABLE))
        shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3)))
        tensors[f"v{i}/{row.name}"] = (row, _random_value(row, shape, data))
    shards = data.draw(st.integers(1, 3))
    prefix = tmp_path / f"ck{data.draw(st.integers(0, 10**9))}"
    with BundleWriter(prefix, num_shards=shards) as writer:
        for name, (row, value) in tensors.items():
            writer.add(name, value, dtype=row)
    with BundleReader(prefix) as reader:
        assert sorted(reader.keys()) == sorted(tensors)
        for name, (row, value) in tensors.items():
            got = reader.get_tensor(name)
            assert reader.entry(name).dtype.enum == row.enum
            assert got.shape == value.shape
            if row.is_string:
                assert list(got.ravel()) == list(value.ravel())
            else:
                assert got.tobytes() == value.tobytes()


def test_large_tensors_and_large_raw_chunks_get_correct_checksums(tmp_path: Path) -> None:
    from tfformats._io.transfer import KERNEL_COPY_MIN

    rng = np.random.default_rng(11)
    big = rng.standard_normal(KERNEL_COPY_MIN // 4 + 5).astype(np.float32)
    raw = rng.integers(0, 256, 2 * KERNEL_COPY_MIN + 8, dtype=np.uint8).tobytes()
    with BundleWriter(tmp_path / "ck") as writer:
        writer.add("big", big)
        chunks = [raw[:KERNEL_COPY_MIN + 3], raw[KERNEL_COPY_MIN + 3:KERNEL_COPY_MIN + 10], raw[KERNEL_COPY_MIN + 10:]]
        writer.add_raw("raw", "int8", [len(raw)], chunks)
    with BundleReader(tmp_path / "ck") as reader:  # get_tensor checks every crc32c
        assert reader.get_tensor("big").tobytes() == big.tobytes()
        assert reader.get_tensor("raw").tobytes() == raw
