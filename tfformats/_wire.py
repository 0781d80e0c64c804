"""The protobuf wire format at the byte level: varints, tags, length-delimited fields, skipping.

One decoder for every place that reads wire bytes without message classes: the table layout (varint lengths and
block handles), bundle index entries (decoded by hand for speed) and the audit's schema-less scans of strings.
Positions are offsets into ``buf``; ``end`` bounds a (sub)message. Errors are FormatErrors whose offset is the
position in ``buf``; callers add the file path.
"""

from __future__ import annotations

from typing import Iterator, Union

from .errors import FormatError, TruncatedError

Buffer = Union[bytes, bytearray, memoryview]

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_VARINT_BYTES = 10
_U64 = (1 << 64) - 1
_INT64_SIGN = 1 << 63


def decode_varint(buf: Buffer, pos: int, end: int | None = None) -> tuple[int, int]:
    """A base-128 varint at ``pos``: ``(value, next_pos)``; values wrap to 64 bits as protobuf's do."""
    limit = len(buf) if end is None else end
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= limit:
            raise TruncatedError("truncated varint", offset=start)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 7 * MAX_VARINT_BYTES:
            raise FormatError(f"varint longer than {MAX_VARINT_BYTES} bytes", offset=start)


def encode_varint(value: int) -> bytes:
    """A non-negative integer as a base-128 varint."""
    if value < 0:
        raise ValueError("varints here are unsigned")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def as_int64(value: int) -> int:
    """A 64-bit varint value read as two's-complement int64."""
    return value - (1 << 64) if value & _INT64_SIGN else value


def as_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def decode_tag(buf: Buffer, pos: int, end: int | None = None) -> tuple[int, int, int]:
    """``(field_number, wire_type, next_pos)`` of the field key at ``pos``."""
    key, pos = decode_varint(buf, pos, end)
    return key >> 3, key & 7, pos


def decode_length(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """``(payload_end, payload_start)`` of a length-delimited field whose length varint is at ``pos``."""
    n, pos = decode_varint(buf, pos, end)
    if pos + n > end:
        raise TruncatedError("field runs past the end of its message", offset=pos)
    return pos + n, pos


def skip_field(buf: Buffer, pos: int, end: int, wire: int) -> int:
    """The position after a field's payload (its key already read); groups are refused."""
    if wire == VARINT:
        return decode_varint(buf, pos, end)[1]
    if wire == FIXED64:
        pos += 8
    elif wire == FIXED32:
        pos += 4
    elif wire == LENGTH:
        pos, _ = decode_length(buf, pos, end)
    else:
        raise FormatError(f"unsupported wire type {wire}", offset=pos)
    if pos > end:
        raise TruncatedError("field runs past the end of its message", offset=end)
    return pos


def iter_fields(buf: Buffer, pos: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field_number, wire_type, value)`` of every field of a message, without a schema.

    Varints come as ints, fixed64/fixed32 as little-endian ints, length-delimited fields as bytes.
    """
    limit = len(buf) if end is None else end
    while pos < limit:
        number, wire, pos = decode_tag(buf, pos, limit)
        if wire == VARINT:
            value, pos = decode_varint(buf, pos, limit)
            yield number, wire, value
        elif wire == LENGTH:
            stop, start = decode_length(buf, pos, limit)
            yield number, wire, bytes(buf[start:stop])
            pos = stop
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > limit:
                raise TruncatedError("field runs past the end of its message", offset=pos)
            yield number, wire, int.from_bytes(bytes(buf[pos:pos + size]), "little")
            pos += size
        else:
            raise FormatError(f"unsupported wire type {wire}", offset=pos)
