"""Tensor bytes inside ``.data`` shards: POD arrays and length-prefixed strings.

Pure layout functions shared by the bundle reader and writer.
"""

from __future__ import annotations

import struct
from typing import Iterable, Optional

import numpy as np

from .. import checksums
from ..errors import FormatError
from .._wire import decode_varint, encode_varint

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def string_length_crc(lengths: Iterable[int]) -> int:
    """Raw CRC over the element lengths, each as 4 (or, when huge, 8) little-endian bytes."""
    crc = 0
    for n in lengths:
        crc = checksums.crc32c(_U32.pack(n) if n <= 0xFFFFFFFF else _U64.pack(n), crc)
    return crc


def encode_strings(values: Iterable[bytes]) -> tuple[bytes, int]:
    """Lay out a string tensor; return ``(bytes, masked entry crc32c)``."""
    items = list(values)
    lengths = [len(v) for v in items]
    head = b"".join(encode_varint(n) for n in lengths)
    length_crc = string_length_crc(lengths)
    stored = _U32.pack(checksums.mask(length_crc))
    body = b"".join(items)
    crc = checksums.crc32c(body, checksums.crc32c(stored, length_crc))
    return head + stored + body, checksums.mask(crc)


def decode_strings(buf: bytes, count: int, *, verify: bool, name: str) -> tuple[list[bytes], Optional[int]]:
    """Parse ``count`` strings from ``buf``; return them and the masked crc (if ``verify``).

    Raises FormatError when the lengths disagree with the buffer, and
    ChecksumError-worthy mismatches are left to the caller (which knows the entry).
    """
    size = len(buf)
    pos = 0
    lengths = []
    total = 0
    for _ in range(count):
        n, pos = decode_varint(buf, pos)
        total += n
        lengths.append(n)
        if total > size:
            raise FormatError(f"string tensor {name!r} declares {total}+ bytes of strings in an entry of "
                              f"{size} bytes")
    if pos + 4 + total != size:
        raise FormatError(f"string tensor {name!r}: lengths add up to {pos + 4 + total} bytes, the entry has {size}")
    (stored,) = _U32.unpack_from(buf, pos)
    crc: Optional[int] = None
    if verify:
        length_crc = string_length_crc(lengths)
        if checksums.mask(length_crc) != stored:
            raise FormatError(f"string tensor {name!r}: length checksum mismatch")
        crc = checksums.mask(checksums.crc32c(buf[pos + 4:], checksums.crc32c(buf[pos:pos + 4], length_crc)))
    pos += 4
    out = []
    for n in lengths:
        out.append(bytes(buf[pos:pos + n]))
        pos += n
    return out, crc


def string_array(values: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr.reshape(shape)


def encode_variants(values: Iterable[bytes]) -> tuple[bytes, int]:
    """Lay out a variant tensor from serialized elements; return ``(bytes, masked entry crc32c)``."""
    out = bytearray()
    crc = 0
    for element in values:
        out += encode_varint(len(element))
        crc = checksums.crc32c(_U64.pack(len(element)), crc)
        out += element
        crc = checksums.crc32c(element, crc)
        stored = _U32.pack(checksums.mask(crc))
        out += stored
        crc = checksums.crc32c(stored, crc)
    return bytes(out), checksums.mask(crc)


def decode_variants(buf: bytes, count: int, *, name: str) -> tuple[list[bytes], int]:
    """Parse ``count`` serialized variant elements; return them and the masked running crc.

    Each element is a varint length, the serialized VariantTensorDataProto, and
    a 4-byte masked checksum of everything so far (lengths hashed as 8 bytes).
    """
    pos = 0
    crc = 0
    out = []
    for _ in range(count):
        n, pos = decode_varint(buf, pos)
        if pos + n + 4 > len(buf):
            raise FormatError(f"variant tensor {name!r} runs past its entry")
        crc = checksums.crc32c(_U64.pack(n), crc)
        element = bytes(buf[pos:pos + n])
        crc = checksums.crc32c(element, crc)
        pos += n
        stored = buf[pos:pos + 4]
        crc = checksums.crc32c(stored, crc)
        pos += 4
        out.append(element)
    if pos != len(buf):
        raise FormatError(f"variant tensor {name!r} has {len(buf) - pos} trailing bytes")
    return out, checksums.mask(crc)
