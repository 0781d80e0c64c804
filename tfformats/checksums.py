"""Masked CRC-32C, the checksum every TensorFlow table and bundle uses."""

from __future__ import annotations

import crc32c as _crc32c

# LevelDB-style masking: rotate right by 15 bits and add a constant, so that a
# CRC stored inside data that is itself checksummed does not cancel out.
MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """Return CRC-32C of ``data``, continuing from ``value``."""
    return _crc32c.crc32c(data, value)


# The C function itself, for loops where a Python-level wrapper call would show up in profiles.
crc32c_raw = _crc32c.crc32c


def mask(crc: int) -> int:
    """Mask a raw CRC the way TensorFlow stores it."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def unmask(masked: int) -> int:
    """Invert :func:`mask`."""
    rot = (masked - MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """Return ``mask(crc32c(data))``."""
    return mask(_crc32c.crc32c(data))


# -- combining the CRCs of adjacent pieces --------------------------------------------------
#
# Appending n zero bytes to a message multiplies its CRC register by x^(8n) modulo the CRC
# polynomial, so the CRC of A+B follows from crc(A), crc(B) and len(B). Polynomials here are
# bit-reflected like the CRC itself: bit 31 holds x^0.

_POLY_REFLECTED = 0x82F63B78  # CRC-32C (Castagnoli)
_X0 = 1 << 31


def _multiply_mod_poly(a: int, b: int) -> int:
    """Product of two reflected polynomials modulo the CRC-32C polynomial."""
    product = 0
    bit = _X0
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _POLY_REFLECTED if b & 1 else b >> 1
    return product


def _powers_of_x() -> list[int]:
    """``x^(2^k)`` modulo the polynomial for k = 0..63."""
    powers = [_X0 >> 1]  # x^1
    for _ in range(63):
        powers.append(_multiply_mod_poly(powers[-1], powers[-1]))
    return powers


_X_TO_2_TO_K = _powers_of_x()
_shift_cache: dict[int, int] = {}


def _x_to_8n(n: int) -> int:
    """``x^(8n)`` modulo the polynomial (cached: readers combine pieces of the same few lengths)."""
    cached = _shift_cache.get(n)
    if cached is None:
        cached, k, rest = _X0, 3, n
        while rest:
            if rest & 1:
                cached = _multiply_mod_poly(_X_TO_2_TO_K[k & 63], cached)
            rest >>= 1
            k += 1
        if len(_shift_cache) < 4096:
            _shift_cache[n] = cached
    return cached


def crc32c_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC-32C of ``A + B`` from the CRC-32C of ``A``, that of ``B`` and the length of ``B`` in bytes."""
    return _multiply_mod_poly(_x_to_8n(len_b), crc_a) ^ crc_b
