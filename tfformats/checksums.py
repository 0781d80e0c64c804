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
