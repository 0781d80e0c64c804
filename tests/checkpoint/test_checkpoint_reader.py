"""The checkpoint reader against what TensorFlow's own reader returned for real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tfformats as tff
import tfformats.checkpoint.state
from fixture_data import CKPT_DIR, all_prefixes, assert_bit_equal, load_expected

PREFIXES = all_prefixes()
IDS = [str(p.relative_to(CKPT_DIR)) for p in PREFIXES]


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_reader_lists_the_keys_shapes_and_dtypes_tensorflow_lists(prefix: Path) -> None:
    expected = load_expected(prefix)
    with tff.load_checkpoint(prefix) as reader:
        assert sorted(reader.keys()) == sorted(expected.shapes)
        assert reader.get_variable_to_shape_map() == expected.shapes
        dtype_names = {k: tff.dtypes.from_numpy(v).tf_name if v != np.dtype(object) else "string"
                       for k, v in reader.get_variable_to_dtype_map().items()}
        infos = {k: info.dtype.tf_name for k, info in reader.tensor_infos().items()}
        assert infos == expected.dtypes
        assert len(reader) == len(expected.shapes)
        for name in expected.shapes:
            assert name in reader and reader.has_tensor(name)
        assert "no/such/tensor" not in reader
        for name, dt in dtype_names.items():
            if expected.dtypes[name] in ("string", "bfloat16", "float16", "float32"):
                assert dt == expected.dtypes[name]


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_every_tensor_is_bit_identical_to_tensorflow(prefix: Path) -> None:
    expected = load_expected(prefix)
    with tff.load_checkpoint(prefix) as reader:
        for name, value in expected.values.items():
            assert_bit_equal(reader.get_tensor(name), value, name)


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_list_variables_matches_tensorflow(prefix: Path) -> None:
    expected = load_expected(prefix)
    assert [(n, list(s)) for n, s in tff.list_variables(prefix)] == [(n, list(s)) for n, s in expected.list_variables]


def _latest_recorded_last() -> list[Path]:
    """One prefix per folder: the one whose recorded answer was taken after the folder's last save."""
    by_dir: dict[Path, Path] = {}
    for p in PREFIXES:
        e = load_expected(p)
        if e.latest_checkpoint is None or os.path.normpath(p.parent / e.latest_checkpoint) == os.path.normpath(p):
            by_dir[p.parent] = p
    return list(by_dir.values())


@pytest.mark.parametrize("prefix", _latest_recorded_last(), ids=lambda p: str(p.relative_to(CKPT_DIR)))
def test_latest_checkpoint_matches_tensorflow(prefix: Path) -> None:
    expected = load_expected(prefix)
    got = tff.latest_checkpoint(prefix.parent)
    if expected.latest_checkpoint is None:
        assert got is None
    else:
        assert got is not None
        assert os.path.normpath(got) == os.path.normpath(prefix.parent / expected.latest_checkpoint)


@pytest.mark.parametrize("prefix", [p for p in PREFIXES if load_expected(p).object_graph_text],
                         ids=lambda p: str(p.relative_to(CKPT_DIR)))
def test_object_graph_is_parsed_like_tensorflow(prefix: Path) -> None:
    from google.protobuf import text_format

    expected = load_expected(prefix)
    with tff.load_checkpoint(prefix) as reader:
        graph = reader.object_graph
        assert graph is not None
        assert reader.kind == "TF2-object"
        want = tff.proto.TrackableObjectGraph()
        text_format.Parse(expected.object_graph_text, want)
        assert graph == want


def test_load_variable_accepts_tensor_names_with_output_index() -> None:
    prefix = PREFIXES[0]
    expected = load_expected(prefix)
    name = sorted(expected.values)[0]
    assert_bit_equal(tff.load_variable(prefix, name + ":0"), expected.values[name], name)


def _first_v2(predicate=lambda p: True) -> Path:  # type: ignore[no-untyped-def]
    for p in PREFIXES:
        if load_expected(p).format == "v2" and predicate(p):
            return p
    pytest.fail("no V2 fixture matches (tools/make_fixtures.py writes them)")


def test_every_way_of_naming_a_checkpoint_opens_the_same_one() -> None:
    prefix = _first_v2()
    data = sorted(prefix.parent.glob(prefix.name + ".data-*"))[0]
    ways = [prefix, str(prefix), Path(str(prefix) + ".index"), data]
    keys = {tuple(tff.load_checkpoint(w).keys()) for w in ways}
    assert len(keys) == 1


def test_folder_and_state_file_open_the_latest_checkpoint() -> None:
    case = CKPT_DIR / "tf1_saver"
    latest = tff.latest_checkpoint(case)
    assert latest is not None
    for way in (case, case / "checkpoint"):
        with tff.load_checkpoint(way) as reader:
            assert os.path.normpath(reader.prefix) == os.path.normpath(latest)


def test_state_file_with_stale_absolute_paths_falls_back_to_its_folder(tmp_path: Path) -> None:
    src = CKPT_DIR / "tf1_saver"
    dst = tmp_path / "moved"
    shutil.copytree(src, dst)
    (dst / "checkpoint").write_text('model_checkpoint_path: "/nonexistent/train/model.ckpt-1"\n'
                                    'all_model_checkpoint_paths: "/nonexistent/train/model.ckpt-1"\n')
    assert tff.latest_checkpoint(dst) == str(dst / "model.ckpt-1")


def test_state_file_with_absolute_paths_is_followed(tmp_path: Path) -> None:
    src = CKPT_DIR / "tf1_saver"
    (tmp_path / "checkpoint").write_text(f'model_checkpoint_path: "{(src / "model.ckpt-1").absolute()}"\n')
    assert tff.latest_checkpoint(tmp_path) == str((src / "model.ckpt-1").absolute())


def test_missing_checkpoint_gives_none_and_file_not_found(tmp_path: Path) -> None:
    assert tff.latest_checkpoint(tmp_path) is None
    with pytest.raises(FileNotFoundError):
        tff.load_checkpoint(tmp_path / "model.ckpt-7")


def test_view_read_shares_the_shard_mapping_and_is_read_only() -> None:
    prefix = _first_v2()
    expected = load_expected(prefix)
    reader = tff.load_checkpoint(prefix)
    checked = 0
    for name, value in expected.values.items():
        info = reader.info(name)
        if info.dtype.is_pod and not info.num_slices and value.size > 1:
            shard_map = np.frombuffer(reader.open_entry(name, reader.entry(name)).buffer(), np.uint8)
            view = reader.get_tensor(name, copy=False)
            assert_bit_equal(np.asarray(view), value, name)
            assert not view.flags.writeable
            assert np.shares_memory(view, shard_map), name
            owned = reader.get_tensor(name)
            assert_bit_equal(owned, value, name)
            assert owned.flags.writeable and not np.shares_memory(owned, shard_map), name
            checked += 1
    assert checked >= 2, f"{prefix} holds too few whole fixed-size tensors for this test"


def test_reading_without_checksums_gives_the_same_values() -> None:
    for prefix in PREFIXES:
        expected = load_expected(prefix)
        with tff.load_checkpoint(prefix, verify_checksums=False) as reader:
            for name, value in expected.values.items():
                assert_bit_equal(reader.get_tensor(name), value, name)


def test_unknown_tensor_name_raises_key_error() -> None:
    with tff.load_checkpoint(PREFIXES[0]) as reader:
        with pytest.raises(KeyError, match="no/such"):
            reader.get_tensor("no/such")


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_items_gives_the_same_values_with_every_tensor_on_the_large_path(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfformats.bundle import reader as bundle_reader

    monkeypatch.setattr(bundle_reader, "_SMALL", 0)  # every tensor takes the large-tensor path
    expected = load_expected(prefix)
    with tff.load_checkpoint(prefix) as reader:
        seen = {}
        for name, value in reader.items():
            seen[name] = value
            assert value.flags.writeable
        assert sorted(seen) == sorted(expected.shapes)
        for name, value in expected.values.items():
            assert_bit_equal(seen[name], value, name)


def test_items_on_the_large_path_still_detects_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfformats.bundle import reader as bundle_reader

    monkeypatch.setattr(bundle_reader, "_SMALL", 0)
    src = CKPT_DIR / "tf1_saver"
    shutil.copytree(src, tmp_path / "c")
    data = tmp_path / "c" / "model.ckpt-2.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    with tff.load_checkpoint(tmp_path / "c" / "model.ckpt-2") as reader:
        with pytest.raises(tff.ChecksumError):
            for _ in reader.items():
                pass


def test_writing_into_a_managed_folder_keeps_its_history(tmp_path: Path) -> None:
    import numpy as np

    src = CKPT_DIR / "manager"
    shutil.copytree(src, tmp_path / "m")
    before = tfformats.checkpoint.state.read_state(tmp_path / "m")
    tff.save_checkpoint(tmp_path / "m" / "edited", {"x": np.arange(3, dtype=np.float32)}, update_state=True)
    after = tfformats.checkpoint.state.read_state(tmp_path / "m")
    assert after.model_checkpoint_path == "edited"
    assert list(after.all_model_checkpoint_paths) == list(before.all_model_checkpoint_paths) + ["edited"]
    assert tff.latest_checkpoint(tmp_path / "m") == str(tmp_path / "m" / "edited")


def test_big_endian_bundle_is_byte_swapped_on_read(tmp_path: Path) -> None:
    """A bundle whose header says BIG has every element stored byte-swapped (CRCs over the stored bytes)."""
    from tfformats import checksums
    from tfformats.bundle import entries
    from tfformats.bundle.reader import _swap_bytes
    from tfformats.table import TableReader, TableWriter

    prefix = CKPT_DIR / "all_dtypes" / "all_dtypes"
    expected = load_expected(prefix)
    data = bytearray((CKPT_DIR / "all_dtypes" / "all_dtypes.data-00000-of-00001").read_bytes())
    with TableReader(str(prefix) + ".index") as table:
        items = list(table.items())
    header = entries.decode_header(items[0][1])
    out_items = [(b"", entries.encode_header(header.num_shards, entries.BIG_ENDIAN))]
    for key, value in items[1:]:
        e = entries.decode_entry(key.decode("utf-8"), value, header)
        if e.dtype.is_pod and not e.slices and e.size:
            assert e.dtype.numpy is not None
            arr = np.frombuffer(bytes(data[e.offset:e.offset + e.size]), e.dtype.numpy).copy()
            _swap_bytes(arr)
            stored = arr.tobytes()
            data[e.offset:e.offset + e.size] = stored
            e = e._replace(crc32c=checksums.masked_crc32c(stored))
        out_items.append((key, entries.encode_entry(e)))
    (tmp_path / "be.data-00000-of-00001").write_bytes(bytes(data))
    with open(tmp_path / "be.index", "wb") as f:
        writer = TableWriter(f)
        for key, value in out_items:
            writer.add(key, value)
        writer.finish()
    with tff.load_checkpoint(tmp_path / "be") as reader:
        assert reader.header.endianness == entries.BIG_ENDIAN  # type: ignore[attr-defined]
        swapped_any = False
        for name, value in expected.values.items():
            got = reader.get_tensor(name)
            assert_bit_equal(got, value, name)
            assert_bit_equal(reader.get_tensor(name, copy=False), value, name)
            swapped_any |= value.dtype.itemsize > 1 and value.size > 0 and value.dtype != object
        assert swapped_any


def test_big_endian_bytes_written_by_hand_read_as_the_numbers_they_spell(tmp_path: Path) -> None:
    """Bytes typed out in big-endian order (not produced by the reader's own swap) decode to the right values."""
    from tfformats import checksums
    from tfformats.bundle import entries
    from tfformats.table import TableWriter

    f32 = entries.Entry(tff.dtypes.lookup(tff.dtypes.FLOAT), (2,), 0, 0, 8, 0, ())
    i16 = entries.Entry(tff.dtypes.lookup(tff.dtypes.INT16), (3,), 0, 8, 6, 0, ())
    c64 = entries.Entry(tff.dtypes.lookup(tff.dtypes.COMPLEX64), (1,), 0, 16, 8, 0, ())
    # 1.0f = 3f 80 00 00, -2.5f = c0 20 00 00; int16 1, -2, 258 = 00 01, ff fe, 01 02;
    # complex64 (1.0, -2.5): each part on its own, real first.
    stored = {f32: bytes.fromhex("3f800000 c0200000"), i16: bytes.fromhex("0001 fffe 0102 0000"),
              c64: bytes.fromhex("3f800000 c0200000")}
    data = stored[f32] + stored[i16] + stored[c64]
    (tmp_path / "hand.data-00000-of-00001").write_bytes(data)
    with open(tmp_path / "hand.index", "wb") as f:
        writer = TableWriter(f)
        writer.add(b"", entries.encode_header(1, entries.BIG_ENDIAN))
        for key, e in [(b"c", c64), (b"f", f32), (b"i", i16)]:
            raw = stored[e][:e.size]
            writer.add(key, entries.encode_entry(e._replace(crc32c=checksums.masked_crc32c(raw))))
        writer.finish()
    with tff.load_checkpoint(tmp_path / "hand") as reader:
        for copy in (True, False):
            assert reader.get_tensor("f", copy=copy).tolist() == [1.0, -2.5]
            assert reader.get_tensor("i", copy=copy).tolist() == [1, -2, 258]
            assert reader.get_tensor("c", copy=copy).tolist() == [complex(1.0, -2.5)]
