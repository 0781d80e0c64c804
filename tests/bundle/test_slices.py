"""Slice keys (OrderedCode) and slice geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfformats.bundle import slices
from tfformats.bundle.slices import FULL, Extent
from tfformats.errors import FormatError

# Byte strings TensorFlow 2.21 produced for these numbers (hexdumps of real files,
# recorded in the project's format fact sheet).
TF_SIGNED = {64: "c040", 100: "c064", 200: "c0c8", 8190: "dffe", 8191: "dfff", 8192: "e02000",
             99997: "e1869d", 2**20: "f0100000", 2**27 + 5: "f808000005", 2**34 + 7: "fc0400000007",
             2**41 + 3: "fe020000000003", 2**48 + 1: "ff01000000000001", 2**55 + 9: "ff8080000000000009",
             0: "80", 4: "84", 63: "bf", -1: "7f"}


@pytest.mark.parametrize("value,hexbytes", sorted(TF_SIGNED.items()))
def test_signed_numbers_encode_as_tensorflow_wrote_them(value: int, hexbytes: str) -> None:
    assert slices.encode_signed(value).hex() == hexbytes
    assert slices.decode_signed(bytes.fromhex(hexbytes), 0) == (value, len(hexbytes) // 2)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_signed_numbers_round_trip(value: int) -> None:
    enc = slices.encode_signed(value)
    assert slices.decode_signed(enc + b"\x00junk", 0) == (value, len(enc))


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=2, max_size=20))
def test_signed_encoding_preserves_order(values: list[int]) -> None:
    assert sorted(values) == sorted(values, key=slices.encode_signed)


def test_slice_keys_match_tensorflow_examples() -> None:
    # Keys copied from TensorFlow-written .index files (format fact sheet, section 2.6).
    assert slices.encode_slice_key("part", [Extent(0, 4), Extent(0, 3)]).hex() == "00706172740001010280848083"
    assert slices.encode_slice_key("emb", [Extent(0, FULL), Extent(0, FULL)]).hex() == "00656d6200010102807f807f"


@given(st.binary(max_size=40), st.lists(st.tuples(st.integers(0, 2**40), st.integers(-1, 2**40)), max_size=6))
def test_slice_keys_round_trip(name: bytes, extents: list[tuple[int, int]]) -> None:
    ext = [Extent(s, n) for s, n in extents]
    assert slices.decode_slice_key(slices.encode_slice_key(name, ext)) == (name, ext)


@pytest.mark.parametrize("bad", [b"", b"\x01", b"\x00abc", b"\x00a\x00\x01\x09", b"\x00a\x00\x01\x01"])
def test_malformed_slice_keys_raise_format_error(bad: bytes) -> None:
    with pytest.raises(FormatError):
        slices.decode_slice_key(bad)


def test_slice_specs_parse_like_the_saver_writes_them() -> None:
    assert slices.parse_slice_spec("") == ([], None)
    assert slices.parse_slice_spec("10 3 4,3:-") == ([10, 3], [Extent(4, 3), Extent(0, FULL)])
    assert slices.parse_slice_spec("10 3") == ([10, 3], None)


def test_region_places_a_slice_in_the_full_tensor() -> None:
    full = np.arange(30).reshape(10, 3)
    starts, lengths = slices.resolve([Extent(4, 3), Extent(0, FULL)], (10, 3))
    assert full[slices.region(starts, lengths)].tolist() == full[4:7].tolist()
    with pytest.raises(FormatError):
        slices.resolve([Extent(8, 3), Extent(0, FULL)], (10, 3))
