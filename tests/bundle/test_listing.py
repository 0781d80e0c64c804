"""A large index listed column-wise reads exactly as one listed entry by entry."""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfformats as tff
from fixture_data import all_prefixes, assert_bit_equal, load_expected
from tfformats.bundle import reader as bundle_reader
from tfformats.errors import FormatError
from tfformats.table import reader as table_reader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import harness  # noqa: E402

V2 = [p for p in all_prefixes() if load_expected(p).format == "v2"]
SHAPES: list[tuple[int, ...]] = [(), (3,), (2, 2), (1, 1, 1, 1, 1, 1, 2), (5000, 1, 1, 1, 1, 1, 1), (0, 4), (4,)]


def _many(tmp_path: Path, count: int = 6000) -> str:
    rng = np.random.default_rng(7)
    tensors: dict[str, object] = {}
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        name = f"block_{i // 100:03d}/{['w', 'b', 'ü', '層'][i % 4]}_{i}"
        if i % 11 == 0:
            tensors[name] = np.array([b"a", b"bc"][: max(1, int(np.prod(shape))) % 2 + 1], dtype=object)
        elif shape[:1] == (5000,):
            tensors[name] = np.zeros(shape, np.float16)
        elif i % 5 == 0:
            tensors[name] = rng.integers(-9, 9, shape).astype(np.int64)
        else:
            tensors[name] = rng.standard_normal(shape).astype(np.float32)
    return tff.save_checkpoint(tmp_path / "many", tensors)


def _everything(prefix: str) -> dict[str, Any]:
    try:
        with tff.load_checkpoint(prefix) as reader:
            shapes = reader.get_variable_to_shape_map()
            out: dict[str, Any] = {"shapes": shapes, "dtypes": reader.get_variable_to_dtype_map(),
                                   "names": reader.keys(), "len": len(reader)}
            values = {}
            for name in reader.keys():
                try:
                    values[name] = reader.get_tensor(name)
                except FormatError as exc:
                    values[name] = type(exc).__name__
            out["values"] = values
            out["infos"] = reader.tensor_infos()
            return out
    except FormatError as exc:
        return {"error": type(exc).__name__}


def _entry_by_entry(prefix: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(table_reader, "_COLUMNS_MIN", 1 << 62)
        return _everything(prefix)


def _column_wise(prefix: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(table_reader, "_COLUMNS_MIN", 0)
        return _everything(prefix)


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key == "values":
            assert a[key].keys() == b[key].keys()
            for name in a[key]:
                if isinstance(a[key][name], str):
                    assert a[key][name] == b[key][name], name
                else:
                    assert_bit_equal(a[key][name], b[key][name], name)
        else:
            assert a[key] == b[key], key


def test_a_large_index_takes_the_column_path_and_reads_the_same(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = _many(tmp_path)
    assert Path(prefix + ".index").stat().st_size > table_reader._COLUMNS_MIN
    calls = []
    original = table_reader.columns_layout.decode_columns
    monkeypatch.setattr(table_reader.columns_layout, "decode_columns",
                        lambda blocks: calls.append(1) or original(blocks))
    fast = _everything(prefix)
    assert calls, "the column-wise decoder was not used"
    _assert_same(fast, _entry_by_entry(prefix, monkeypatch))
    assert fast["shapes"]["block_000/b_1"] == [3]
    assert fast["shapes"]["block_000/ü_2"] == [2, 2]
    assert fast["dtypes"]["block_000/w_0"] == np.dtype(object)


@pytest.mark.parametrize("prefix", V2, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_reads_the_same_column_wise(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(_column_wise(str(prefix), monkeypatch), _entry_by_entry(str(prefix), monkeypatch))


@pytest.mark.parametrize("seed", range(60))
def test_mutated_indexes_read_the_same_column_wise(seed: int, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries re-encoded with valid table checksums: both paths give the same values or the same errors."""
    rng = random.Random(seed)
    source = rng.choice(V2)
    folder = tmp_path / "c"
    shutil.copytree(source.parent, folder)
    index = folder / f"{source.name}.index"
    index.write_bytes(harness.mutate_bundle_entries(index.read_bytes(), rng))
    prefix = str(folder / source.name)
    _assert_same(_column_wise(prefix, monkeypatch), _entry_by_entry(prefix, monkeypatch))


def test_arrays_read_after_a_column_wise_listing_are_owned(tmp_path: Path) -> None:
    prefix = _many(tmp_path, 3000)
    with tff.load_checkpoint(prefix) as reader:
        names = list(reader.get_variable_to_shape_map())
        first = reader.get_tensor(names[1])
        first[...] = 42
        again = reader.get_tensor(names[1])
        assert first.flags.writeable and not np.shares_memory(first, again)
        assert not (again == 42).any()


def test_one_damaged_entry_fails_only_its_own_read_and_the_bulk_decode_runs_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tfformats.bundle import entries
    from tfformats.proto import BundleEntryProto

    prefix = _many(tmp_path, 3000)
    index = Path(prefix + ".index")
    items = harness._table_items(index.read_bytes())
    victim = next(i for i, (k, _) in enumerate(items) if k.endswith(b"_7"))
    entry = BundleEntryProto.FromString(items[victim][1])
    entry.size += 4  # no longer what its dtype and shape need
    items[victim] = (items[victim][0], entry.SerializeToString())
    index.write_bytes(harness._table_bytes(items))
    victim_name = items[victim][0].decode()
    calls = []
    original = entries.decode_entry_columns
    monkeypatch.setattr(bundle_reader, "decode_entry_columns", lambda *a, **k: calls.append(1) or original(*a, **k))
    with tff.load_checkpoint(prefix) as reader:
        names = list(reader.get_variable_to_shape_map())
        read = 0
        for name in names:
            if name == victim_name:
                with pytest.raises(FormatError, match="_7"):
                    reader.get_tensor(name)
            else:
                reader.get_tensor(name)
                read += 1
    assert read == len(names) - 1
    assert len(calls) == 1
