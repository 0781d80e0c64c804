"""CRC-32C helpers: masking and combining the CRCs of adjacent pieces."""

from __future__ import annotations

import random

import crc32c
import pytest

from tfformats import checksums


def test_mask_and_unmask_are_inverse_and_match_a_value_worked_by_hand() -> None:
    # crc32c(b"123456789") is the standard check value 0xE3069283; masked: rotate right 15, add 0xA282EAD8.
    raw = checksums.crc32c(b"123456789")
    assert raw == 0xE3069283
    rotated = ((0xE3069283 >> 15) | (0xE3069283 << 17)) & 0xFFFFFFFF
    assert checksums.mask(raw) == (rotated + 0xA282EAD8) & 0xFFFFFFFF
    assert checksums.unmask(checksums.mask(raw)) == raw


@pytest.mark.parametrize("len_a, len_b", [(0, 0), (0, 7), (7, 0), (1, 1), (4096, 4097), (3, 1 << 20)])
def test_combine_equals_the_crc_of_the_concatenation(len_a: int, len_b: int) -> None:
    rng = random.Random(len_a * 31 + len_b)
    a = rng.randbytes(len_a)
    b = rng.randbytes(len_b)
    assert checksums.crc32c_combine(crc32c.crc32c(a), crc32c.crc32c(b), len(b)) == crc32c.crc32c(a + b)


def test_combine_over_many_random_splits() -> None:
    rng = random.Random(9)
    data = rng.randbytes(20_000)
    for _ in range(200):
        cut = rng.randrange(len(data) + 1)
        combined = checksums.crc32c_combine(crc32c.crc32c(data[:cut]), crc32c.crc32c(data[cut:]), len(data) - cut)
        assert combined == crc32c.crc32c(data)


def test_combine_detects_a_flipped_bit_in_either_piece() -> None:
    a, b = bytearray(b"x" * 1000), bytearray(b"y" * 3000)
    whole = crc32c.crc32c(bytes(a + b))
    b[2999] ^= 1
    assert checksums.crc32c_combine(crc32c.crc32c(bytes(a)), crc32c.crc32c(bytes(b)), len(b)) != whole
