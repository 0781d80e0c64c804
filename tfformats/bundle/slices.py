"""Tensor slices: the keys they are stored under and where they go in the full tensor.

A slice is a list of extents, one per dimension; an extent is ``(start, length)``
with ``length == -1`` meaning "the whole dimension". Slice keys use the
order-preserving "OrderedCode" byte encoding so that all slices of a tensor sort
together right after the bundle header.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

from ..errors import FormatError

FULL = -1  # length of an extent that covers its whole dimension


class Extent(NamedTuple):
    start: int
    length: int  # FULL for the whole dimension


# -- OrderedCode primitives ---------------------------------------------------------

def encode_unsigned(value: int) -> bytes:
    """Unsigned number: a length byte, then big-endian bytes without leading zeros."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((len(body),)) + body


def decode_unsigned(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise FormatError("truncated ordered-code number", offset=pos)
    n = buf[pos]
    if n > 8 or pos + 1 + n > len(buf):
        raise FormatError("bad ordered-code number", offset=pos)
    return int.from_bytes(buf[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def encode_string(value: bytes) -> bytes:
    """Escape 0x00 and 0xff so the terminator ``00 01`` sorts before any content."""
    return _escape(value) + b"\x00\x01"


def _escape(value: bytes) -> bytes:
    out = bytearray()
    for byte in value:
        if byte == 0x00:
            out += b"\x00\xff"
        elif byte == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(byte)
    return bytes(out)


def decode_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    n = len(buf)
    while pos < n:
        byte = buf[pos]
        if byte == 0x00:
            if pos + 1 >= n:
                break
            nxt = buf[pos + 1]
            if nxt == 0x01:
                return bytes(out), pos + 2
            if nxt != 0xFF:
                raise FormatError("bad escape in ordered-code string", offset=pos)
            out.append(0x00)
            pos += 2
        elif byte == 0xFF:
            if pos + 1 >= n or buf[pos + 1] != 0x00:
                raise FormatError("bad escape in ordered-code string", offset=pos)
            out.append(0xFF)
            pos += 2
        else:
            out.append(byte)
            pos += 1
    raise FormatError("unterminated ordered-code string", offset=pos)


# Header masks XORed into the leading bytes of a signed number of n bytes (n = 1..10).
_SIGNED_HEADER = {1: b"\x80", 2: b"\xc0", 3: b"\xe0", 4: b"\xf0", 5: b"\xf8", 6: b"\xfc", 7: b"\xfe",
                  8: b"\xff", 9: b"\xff\x80", 10: b"\xff\xc0"}


def encode_signed(value: int) -> bytes:
    """Signed number whose byte order matches numeric order."""
    for n in range(1, 11):
        if -(1 << (7 * n - 1)) <= value < (1 << (7 * n - 1)):
            break
    else:
        raise ValueError(f"{value} does not fit in 64 bits")
    raw = bytearray((value & ((1 << (8 * n)) - 1)).to_bytes(n, "big"))
    for i, m in enumerate(_SIGNED_HEADER[n]):
        raw[i] ^= m
    return bytes(raw)


def decode_signed(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise FormatError("truncated ordered-code signed number", offset=pos)
    # The length is the run of leading bits that differ from the sign bit
    # (the first bit is 1 for non-negative numbers).
    flip = 0x00 if buf[pos] >= 0x80 else 0xFF
    b0 = buf[pos] ^ flip
    if b0 != 0xFF:
        n = 1
        while b0 & (0x80 >> n):
            n += 1
    else:
        if pos + 1 >= len(buf):
            raise FormatError("truncated ordered-code signed number", offset=pos)
        b1 = buf[pos + 1] ^ flip
        if b1 < 0x80:
            n = 8
        elif b1 < 0xC0:
            n = 9
        elif b1 < 0xE0:
            n = 10
        else:
            raise FormatError("ordered-code signed number longer than 10 bytes", offset=pos)
    if pos + n > len(buf):
        raise FormatError("truncated ordered-code signed number", offset=pos)
    raw = bytearray(buf[pos:pos + n])
    for i, m in enumerate(_SIGNED_HEADER[n]):
        raw[i] ^= m
    return int.from_bytes(raw, "big", signed=True), pos + n


# -- slice keys -------------------------------------------------------------------------

def encode_slice_key(name: str | bytes, extents: Sequence[Extent]) -> bytes:
    """The bundle key of one slice of tensor ``name``."""
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    parts = [encode_unsigned(0), encode_string(raw), encode_unsigned(len(extents))]
    for ext in extents:
        parts.append(encode_signed(ext.start))
        parts.append(encode_signed(ext.length))
    return b"".join(parts)


def decode_slice_key(key: bytes) -> tuple[bytes, list[Extent]]:
    """Invert :func:`encode_slice_key`."""
    tag, pos = decode_unsigned(key, 0)
    if tag != 0:
        raise FormatError(f"slice key starts with {tag}, not 0")
    name, pos = decode_string(key, pos)
    rank, pos = decode_unsigned(key, pos)
    if rank > 64:
        raise FormatError(f"slice key claims rank {rank}")
    extents = []
    for _ in range(rank):
        start, pos = decode_signed(key, pos)
        length, pos = decode_signed(key, pos)
        extents.append(Extent(start, length))
    return name, extents


# -- slice specs and geometry -----------------------------------------------------------

def extents_from_proto(proto: object) -> list[Extent]:
    """Extents of a TensorSliceProto; an extent without ``length`` is full."""
    out = []
    for ext in proto.extent:  # type: ignore[attr-defined]
        if not ext.HasField("length"):
            out.append(Extent(0, FULL))
        else:
            out.append(Extent(ext.start, ext.length))
    return out


def parse_slice_spec(spec: str) -> tuple[list[int], Optional[list[Extent]]]:
    """Parse a saver's ``shape_and_slice`` string such as ``"10 3 0,4:-"``.

    Returns the full shape and the extents; ``("", ...)`` and a spec with no
    slice part mean the whole tensor (extents None).
    """
    spec = spec.strip()
    if not spec:
        return [], None
    fields = spec.split(" ")
    try:
        if ":" in fields[-1] or "," in fields[-1] or fields[-1] == "-":
            shape = [int(f) for f in fields[:-1]]
            extents = []
            for part in fields[-1].split(":"):
                if part == "-":
                    extents.append(Extent(0, FULL))
                else:
                    start, length = part.split(",")
                    extents.append(Extent(int(start), int(length)))
            return shape, extents
        return [int(f) for f in fields], None
    except ValueError:
        raise ValueError(f"bad slice spec {spec!r}") from None


def resolve(extents: Sequence[Extent], full_shape: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return ``(starts, lengths)`` with full extents expanded; validates bounds."""
    if len(extents) != len(full_shape):
        raise FormatError(f"slice of rank {len(extents)} for a tensor of rank {len(full_shape)}")
    starts, lengths = [], []
    for ext, dim in zip(extents, full_shape):
        if ext.length == FULL:
            starts.append(0)
            lengths.append(dim)
        else:
            if ext.start < 0 or ext.length < 0 or ext.start + ext.length > dim:
                raise FormatError(f"slice extent {ext.start}:{ext.start + ext.length} lies outside "
                                  f"a dimension of size {dim}")
            starts.append(ext.start)
            lengths.append(ext.length)
    return tuple(starts), tuple(lengths)


def region(starts: Sequence[int], lengths: Sequence[int]) -> tuple[slice, ...]:
    """numpy index selecting a slice inside the full tensor."""
    return tuple(slice(s, s + n) for s, n in zip(starts, lengths))


def is_full(extents: Sequence[Extent], full_shape: Sequence[int]) -> bool:
    """True when the slice covers the whole tensor."""
    starts, lengths = resolve(extents, full_shape)
    return all(s == 0 for s in starts) and tuple(lengths) == tuple(full_shape)


def check_tiling(shape: Sequence[int], parts: Sequence[tuple[Sequence[int], Sequence[int]]]) -> None:
    """Check that the ``(starts, lengths)`` boxes tile a tensor of ``shape`` exactly.

    The element counts must add up to the tensor's and no two boxes may overlap; together that means
    every element is written exactly once. Boxes are swept in order of their first coordinate, so only
    boxes that overlap along dimension 0 are compared (partitioned variables are cut along one or two
    dimensions, which keeps that set small). Raises FormatError.
    """
    total = 1
    for d in shape:
        total *= d
    covered = 0
    for _, lengths in parts:
        n = 1
        for d in lengths:
            n *= d
        covered += n
    if covered != total:
        raise FormatError(f"cover {covered} elements but the tensor has {total}")
    if not shape or len(parts) < 2:
        return
    boxes = sorted((tuple(s), tuple(n)) for s, n in parts if all(n))
    active: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for starts, lengths in boxes:
        active = [b for b in active if b[0][0] + b[1][0] > starts[0]]
        for other_starts, other_lengths in active:
            if all(a < ob + ol and ob < a + al
                   for a, al, ob, ol in zip(starts, lengths, other_starts, other_lengths)):
                where = ", ".join(f"{a}:{a + al}" for a, al in zip(starts, lengths))
                raise FormatError(f"overlap: the slice [{where}] shares elements with another slice")
        active.append((starts, lengths))
