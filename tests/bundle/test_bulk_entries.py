"""Decoding many index entries at once (numpy, column-wise) gives exactly what decoding them one by one gives."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from fixture_data import all_prefixes, load_expected
from tfformats.bundle.entries import decode_entries, decode_entry, decode_header
from tfformats.errors import FormatError
from tfformats.table import TableReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import harness  # noqa: E402

V2 = [p for p in all_prefixes() if load_expected(p).format == "v2"]


def _items(index: Path) -> list[tuple[bytes, bytes]]:
    with TableReader(index) as table:
        return list(table.items())


def _one_by_one(names: list[str], values: list[bytes], header: object) -> list[object]:
    out = []
    for name, value in zip(names, values):
        try:
            out.append(decode_entry(name, value, header))  # type: ignore[arg-type]
        except FormatError as exc:
            out.append(type(exc))
    return out


def _bulk(names: list[str], values: list[bytes], header: object) -> list[object]:
    try:
        return list(decode_entries(names, values, header))  # type: ignore[arg-type]
    except FormatError as exc:
        return [type(exc)]


@pytest.mark.parametrize("prefix", V2, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bulk_decoding_equals_decoding_each_entry(prefix: Path) -> None:
    items = _items(Path(f"{prefix}.index"))
    header = decode_header(items[0][1])
    tensors = [(k.decode("utf-8", "surrogateescape"), v) for k, v in items[1:] if k and k[0] != 0]
    names, values = [n for n, _ in tensors], [v for _, v in tensors]
    assert decode_entries(names, values, header) == [decode_entry(n, v, header) for n, v in tensors]


@pytest.mark.parametrize("seed", range(40))
def test_bulk_decoding_of_mutated_entries_agrees_or_fails_as_one_by_one(seed: int) -> None:
    """Damaged entries (re-encoded with valid table checksums): bulk gives the same entries, or an error too."""
    rng = random.Random(seed)
    index = Path(f"{rng.choice(V2)}.index")
    data = harness.mutate_bundle_entries(index.read_bytes(), rng)
    try:
        items = harness._table_items(data)
        header = decode_header(items[0][1])
    except (FormatError, ValueError):
        return  # the header itself was damaged: nothing to compare
    tensors = [(k.decode("utf-8", "surrogateescape"), v) for k, v in items[1:] if k and k[0] != 0]
    names, values = [n for n, _ in tensors], [v for _, v in tensors]
    single = _one_by_one(names, values, header)
    bulk = _bulk(names, values, header)
    if any(isinstance(s, type) for s in single):
        assert bulk == single or (len(bulk) == 1 and isinstance(bulk[0], type)), (bulk, single)
    else:
        assert bulk == single
