"""Header and entry records of a TensorBundle ``.index`` table, decoded and encoded.

The header lives under the empty key; every other key maps to a
``BundleEntryProto`` describing where one tensor (or one slice) is stored.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, cast

import numpy as np

from .. import checksums, dtypes
from ..dtypes import DType
from ..errors import FormatError, PathLike
from ..shapes import check_shape, num_elements
from .._wire import as_int32, as_int64, decode_length, decode_varint, skip_field
from .slices import FULL, Extent

HEADER_KEY = b""
LITTLE_ENDIAN, BIG_ENDIAN = 0, 1
# Largest rank TensorFlow allows; also a guard against absurd shapes.


class Header(NamedTuple):
    num_shards: int
    endianness: int
    producer: int
    min_consumer: int


class Entry(NamedTuple):
    """One decoded ``BundleEntryProto``."""

    dtype: DType
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int
    slices: tuple[tuple[Extent, ...], ...]  # non-empty only for partitioned full-name entries

    @property
    def nelements(self) -> int:
        return num_elements(self.shape)


def decode_header(value: bytes, path: Optional[PathLike] = None) -> Header:
    """Decode and validate the ``BundleHeaderProto`` stored under the empty key."""
    try:
        num_shards, endianness, producer, min_consumer, bad = _parse_header(value)
    except FormatError:
        raise FormatError("bundle header is not a valid BundleHeaderProto", path) from None
    if num_shards < 1 or num_shards > 1 << 20:
        raise FormatError(f"bundle header says {num_shards} shards", path)
    if endianness not in (LITTLE_ENDIAN, BIG_ENDIAN):
        raise FormatError(f"bundle header has unknown endianness {endianness}", path)
    if producer < 0 or min_consumer > 1 or 1 in bad:
        raise FormatError(f"bundle was written by an incompatible version (producer {producer}, "
                          f"min_consumer {min_consumer})", path)
    return Header(num_shards, endianness, producer, min_consumer)


def encode_header(num_shards: int, endianness: int = LITTLE_ENDIAN) -> bytes:
    from ..proto import BundleHeaderProto

    proto = BundleHeaderProto()
    proto.num_shards = num_shards
    proto.endianness = endianness
    proto.version.producer = 1
    return cast(bytes, proto.SerializeToString())


def decode_entry(name: str, value: bytes, header: Header, path: Optional[PathLike] = None,
                 cache: Optional[dict[bytes, tuple[DType, tuple[int, ...], int]]] = None) -> Entry:
    """Decode and validate the entry stored under ``name``.

    ``cache`` (a dict kept by the caller across calls) lets entries with an
    already-seen dtype and shape skip decoding and validating them again.
    """
    if cache is not None and len(value) > 4 and value[0] == 0x08 and value[1] < 0x80 and value[2] == 0x12 \
            and value[3] < 0x80:
        head_end = 4 + value[3]
        fields = _fast_tail(value, head_end)
        if fields is not None:
            head = value[:head_end]
            known = cache.get(head)
            if known is None:
                row, shape = _dtype_and_shape(name, value, path)
                known = cache[head] = (row, shape, _expected_size(row, shape))
            row, shape, expected = known
            shard_id, offset, size, crc = fields
            if shard_id < header.num_shards and (size == expected if row.itemsize else size >= -expected):
                return Entry(row, shape, shard_id, offset, size, crc, ())
    try:
        enum, dims, unknown_rank, shard_id, offset, size, crc, slices = _parse_entry(value)
    except FormatError as exc:
        raise FormatError(f"entry for {name!r} is not a valid BundleEntryProto ({exc.detail})", path) from None
    row, shape = _checked_dtype_and_shape(name, max(enum, 0), dims, unknown_rank, path)
    return _checked_entry(name, row, shape, shard_id, offset, size, crc, slices, header, path)


def _fast_tail(value: bytes, pos: int) -> Optional[tuple[int, int, int, int]]:
    """``(shard_id, offset, size, crc32c)`` after the dtype and shape, or None for anything unusual.

    Covers what TensorFlow writes for a tensor stored whole: small
    non-negative varints for fields 3-5 and a fixed32 for field 6. Anything
    else (slices, repeated or unknown fields, damage) goes to the full parser.
    """
    end = len(value)
    shard_id = offset = size = crc = 0
    try:
        while pos < end:
            tag = value[pos]
            pos += 1
            if tag == 0x35:
                if pos + 4 > end:
                    return None
                crc = int.from_bytes(value[pos:pos + 4], "little")
                pos += 4
                continue
            if tag != 0x18 and tag != 0x20 and tag != 0x28:
                return None
            byte = value[pos]
            pos += 1
            number = byte & 0x7F
            shift = 7
            while byte >= 0x80:
                if shift > 56:
                    return None
                byte = value[pos]
                pos += 1
                number |= (byte & 0x7F) << shift
                shift += 7
            if tag == 0x20:
                offset = number
            elif tag == 0x28:
                size = number
            else:
                shard_id = number
    except IndexError:
        return None
    return shard_id, offset, size, crc


def _checked_entry(name: str, row: DType, shape: tuple[int, ...], shard_id: int, offset: int, size: int,
                   crc: int, slices: tuple[tuple[Extent, ...], ...], header: Header,
                   path: Optional[PathLike]) -> Entry:
    if shard_id < 0 or shard_id >= header.num_shards:
        raise FormatError(f"tensor {name!r} is in shard {shard_id} but the bundle has {header.num_shards}", path)
    if offset < 0 or size < 0:
        raise FormatError(f"tensor {name!r} has negative offset or size", path)
    entry = Entry(row, shape, shard_id, offset, size, crc, slices)
    if not slices:
        if row.itemsize and size != (entry.nelements if shape else 1) * row.itemsize:
            raise FormatError(f"tensor {name!r} is {size} bytes but {row.tf_name}{list(shape)} needs "
                              f"{entry.nelements * row.itemsize}", path)
        if row.enum == dtypes.STRING and size < 4:
            raise FormatError(f"tensor {name!r} is a string tensor of {size} bytes, too short for its checksum",
                              path)
    return entry


def _checked_dtype_and_shape(name: str, enum: int, dims: list[int], unknown_rank: bool,
                             path: Optional[PathLike]) -> tuple[DType, tuple[int, ...]]:
    what = f"tensor {name!r}"
    row = dtypes.lookup(enum, path, name)
    if row.enum == dtypes.RESOURCE:
        raise FormatError(f"{what} has dtype DT_RESOURCE, which cannot be stored", path)
    if unknown_rank:
        raise FormatError(f"{what} has a shape of unknown rank", path)
    return row, check_shape(dims, what, path)


class Heads(NamedTuple):
    """The dtype-and-shape prefix of many entries, decoded once per distinct prefix."""

    ids: np.ndarray  # int64 per entry: an index into ``rows``, or -1 for an entry of unusual layout
    rows: list[tuple[DType, tuple[int, ...], int]]  # (dtype, shape, expected size) of each distinct prefix


# Prefixes up to this many bytes are grouped column-wise (rank 4 with dims below 2**14 fits); longer ones
# one by one.
_HEAD_BYTES = 24
_HASH = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9),
         np.uint64(0x27D4EB2F165667C5))


def _words(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, count: int) -> list[np.ndarray]:
    """The first ``8 * count`` bytes at each start as little-endian 64-bit words, bytes past ``lengths`` zeroed."""
    unaligned = np.ndarray((len(data) - 7,), "<u8", data, 0, (1,))  # a word at every byte position
    words = []
    for k in range(count):
        valid = np.clip(lengths - 8 * k, 0, 8).astype(np.uint64)
        mask = np.where(valid == 8, np.uint64(0xFFFFFFFFFFFFFFFF),
                        (np.uint64(1) << (valid * np.uint64(8))) - np.uint64(1))
        words.append(unaligned[starts + 8 * k] & mask)
    return words


def _group_heads(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Group equal prefixes of at most ``_HEAD_BYTES`` bytes: ``(group of each, first row of each group)``.

    None when two different prefixes hash alike (never seen; the caller then groups them one by one).
    """
    w0, w1, w2 = _words(data, starts, lengths, _HEAD_BYTES // 8)
    key = (w0 * _HASH[0]) ^ (w1 * _HASH[1]) ^ (w2 * _HASH[2]) ^ (lengths.astype(np.uint64) * _HASH[3])
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    lead = first[group]
    if not ((w0 == w0[lead]).all() and (w1 == w1[lead]).all() and (w2 == w2[lead]).all()
            and (lengths == lengths[lead]).all()):
        return None
    return group, first


def decode_heads(names: Sequence[str], data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 path: Optional[PathLike] = None,
                 cache: Optional[dict[bytes, tuple[DType, tuple[int, ...], int]]] = None) -> Heads:
    """Group entries by their ``08 <dtype> 12 <len> <shape>`` prefix; each distinct one is checked once.

    Entry ``i`` is ``data[starts[i]:ends[i]]``; ``data`` must extend at least ``_HEAD_BYTES`` bytes past the
    last entry. Distinct prefixes are checked in the order of their first entry, so the first bad one raises.
    """
    known_of = cache if cache is not None else {}
    count = len(starts)
    lengths = ends - starts
    ids = np.full(count, -1, np.int64)
    if count == 0:
        return Heads(ids, [])
    b0, b1, b2, b3 = (data[starts + k] for k in range(4))
    usual = (lengths > 4) & (b0 == 0x08) & (b1 < 0x80) & (b2 == 0x12) & (b3 < 0x80)
    head_lengths = np.minimum(4 + b3.astype(np.int64), lengths)
    short = np.flatnonzero(usual & (head_lengths <= _HEAD_BYTES))
    rest = np.flatnonzero(usual & (head_lengths > _HEAD_BYTES)).tolist()
    leads: list[tuple[int, np.ndarray]] = []  # (first row, every row) of each distinct prefix
    grouped = _group_heads(data, starts[short], head_lengths[short]) if len(short) else None
    if grouped is not None:
        group, first = grouped
        members = short[np.argsort(group, kind="stable")]
        bounds = np.cumsum(np.bincount(group, minlength=len(first))).tolist()
        for g, lead in enumerate(short[first].tolist()):
            leads.append((lead, members[bounds[g - 1] if g else 0:bounds[g]]))
    else:
        rest = sorted(rest + short.tolist())
    by_bytes: dict[bytes, list[int]] = {}
    for row in rest:
        by_bytes.setdefault(data[starts[row]:starts[row] + head_lengths[row]].tobytes(), []).append(row)
    leads.extend((same[0], np.array(same, np.int64)) for same in by_bytes.values())
    leads.sort(key=lambda lead: lead[0])
    rows: list[tuple[DType, tuple[int, ...], int]] = []
    for lead, same in leads:
        start = int(starts[lead])
        head = data[start:start + int(head_lengths[lead])].tobytes()
        known = known_of.get(head)
        if known is None:
            row_type, shape = _dtype_and_shape(names[lead], data[start:int(ends[lead])].tobytes(), path)
            known = known_of[head] = (row_type, shape, _expected_size(row_type, shape))
        ids[same] = len(rows)
        rows.append(known)
    return Heads(ids, rows)


def dtypes_and_shapes(names: Sequence[str], data: np.ndarray, starts: np.ndarray, ends: np.ndarray, heads: Heads,
                      path: Optional[PathLike] = None) -> list[tuple[DType, tuple[int, ...]]]:
    """Only the dtype and shape of each entry: what listing a checkpoint needs."""
    pairs: list[Optional[tuple[DType, tuple[int, ...]]]] = [(row, shape) for row, shape, _ in heads.rows]
    unusual = np.flatnonzero(heads.ids < 0).tolist()
    out = [pairs[h] for h in heads.ids.tolist()] if not unusual else \
        [pairs[h] if h >= 0 else None for h in heads.ids.tolist()]
    for i in unusual:
        out[i] = _dtype_and_shape(names[i], data[starts[i]:ends[i]].tobytes(), path)
    return cast("list[tuple[DType, tuple[int, ...]]]", out)


def _expected_size(row: DType, shape: tuple[int, ...]) -> int:
    """The size a whole tensor must have: exact for fixed-size dtypes, at least 4 (as -4) for strings."""
    return num_elements(shape) * row.itemsize if row.itemsize else (-4 if row.is_string else 0)


def _dtype_and_shape(name: str, value: bytes, path: Optional[PathLike]) -> tuple[DType, tuple[int, ...]]:
    try:
        enum, dims, unknown_rank, *_ = _parse_entry(value)
    except FormatError as exc:
        raise FormatError(f"entry for {name!r} is not a valid BundleEntryProto ({exc.detail})", path) from None
    return _checked_dtype_and_shape(name, max(enum, 0), dims, unknown_rank, path)


# -- protobuf wire format, just the messages an index holds --------------------------------
# Hand-rolled because decoding 100,000 entries through message objects is slow
# and would load the protobuf runtime just to open a checkpoint. Unknown fields
# are skipped as protobuf does; a known field with the wrong wire type, a
# truncated field or a group is an error.



def _wire_error(field: int, wire: int) -> FormatError:
    return FormatError(f"field {field} has wire type {wire}")


def _parse_shape(buf: bytes, pos: int, end: int, dims: list[int]) -> bool:
    """Append the dims of a TensorShapeProto to ``dims``; return unknown_rank."""
    unknown_rank = False
    while pos < end:
        tag, pos = decode_varint(buf, pos, end)
        field, wire = tag >> 3, tag & 7
        if field == 2:
            if wire != 2:
                raise _wire_error(field, wire)
            dim_end, pos = decode_length(buf, pos, end)
            size = 0
            while pos < dim_end:
                dtag, pos = decode_varint(buf, pos, dim_end)
                if dtag == 0x08:
                    raw, pos = decode_varint(buf, pos, dim_end)
                    size = as_int64(raw)
                else:
                    pos = skip_field(buf, pos, dim_end, dtag & 7)
            dims.append(size)
        elif field == 3:
            if wire != 0:
                raise _wire_error(field, wire)
            raw, pos = decode_varint(buf, pos, end)
            unknown_rank = raw != 0
        else:
            pos = skip_field(buf, pos, end, wire)
    return unknown_rank


def _parse_slice(buf: bytes, pos: int, end: int) -> tuple[Extent, ...]:
    extents = []
    while pos < end:
        tag, pos = decode_varint(buf, pos, end)
        if tag != 0x0A:
            pos = skip_field(buf, pos, end, tag & 7)
            continue
        ext_end, pos = decode_length(buf, pos, end)
        start, length = 0, FULL
        while pos < ext_end:
            etag, pos = decode_varint(buf, pos, ext_end)
            if etag == 0x08:
                raw, pos = decode_varint(buf, pos, ext_end)
                start = as_int64(raw)
            elif etag == 0x10:
                raw, pos = decode_varint(buf, pos, ext_end)
                length = as_int64(raw)
            else:
                pos = skip_field(buf, pos, ext_end, etag & 7)
        extents.append(Extent(start, length))
    return tuple(extents)


def _parse_entry(buf: bytes, pos: int = 0
                 ) -> tuple[int, list[int], bool, int, int, int, int, tuple[tuple[Extent, ...], ...]]:
    """Fields of a serialized ``BundleEntryProto`` from ``pos`` on.

    Absent fields take proto3 defaults, except the dtype, which is -1 when
    absent (so callers can tell whether it was seen).
    """
    end = len(buf)
    enum = -1
    shard_id = offset = size = crc = 0
    dims: list[int] = []
    unknown_rank = False
    slices = []
    while pos < end:
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = decode_varint(buf, pos, end)
        if tag == 0x35:
            if pos + 4 > end:
                raise FormatError("truncated fixed32")
            crc = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        elif tag == 0x08 or tag == 0x18 or tag == 0x20 or tag == 0x28:
            if pos >= end:
                raise FormatError("truncated varint")
            raw = buf[pos]
            if raw < 0x80:
                pos += 1
            else:
                raw, pos = decode_varint(buf, pos, end)
            if tag == 0x08:
                enum = as_int32(raw)
            elif tag == 0x18:
                shard_id = as_int32(raw)
            elif tag == 0x20:
                offset = as_int64(raw)
            else:
                size = as_int64(raw)
        elif tag == 0x12:
            sub_end, pos = decode_length(buf, pos, end)
            unknown_rank = _parse_shape(buf, pos, sub_end, dims) or unknown_rank
            pos = sub_end
        elif tag == 0x3A:
            sub_end, pos = decode_length(buf, pos, end)
            slices.append(_parse_slice(buf, pos, sub_end))
            pos = sub_end
        else:
            field, wire = tag >> 3, tag & 7
            if 1 <= field <= 7 or field == 0:
                raise _wire_error(field, wire)
            pos = skip_field(buf, pos, end, wire)
    return enum, dims, unknown_rank, shard_id, offset, size, crc, tuple(slices)


def _parse_header(buf: bytes) -> tuple[int, int, int, int, list[int]]:
    """Fields of a serialized ``BundleHeaderProto``."""
    end = len(buf)
    pos = 0
    num_shards = endianness = producer = min_consumer = 0
    bad: list[int] = []
    while pos < end:
        tag, pos = decode_varint(buf, pos, end)
        if tag == 0x08:
            raw, pos = decode_varint(buf, pos, end)
            num_shards = as_int32(raw)
        elif tag == 0x10:
            raw, pos = decode_varint(buf, pos, end)
            endianness = as_int32(raw)
        elif tag == 0x1A:
            sub_end, pos = decode_length(buf, pos, end)
            while pos < sub_end:
                vtag, pos = decode_varint(buf, pos, sub_end)
                if vtag == 0x08:
                    raw, pos = decode_varint(buf, pos, sub_end)
                    producer = as_int32(raw)
                elif vtag == 0x10:
                    raw, pos = decode_varint(buf, pos, sub_end)
                    min_consumer = as_int32(raw)
                elif vtag == 0x18:
                    raw, pos = decode_varint(buf, pos, sub_end)
                    bad.append(as_int32(raw))
                elif vtag == 0x1A:  # packed bad_consumers
                    packed_end, pos = decode_length(buf, pos, sub_end)
                    while pos < packed_end:
                        raw, pos = decode_varint(buf, pos, packed_end)
                        bad.append(as_int32(raw))
                else:
                    pos = skip_field(buf, pos, sub_end, vtag & 7)
        else:
            field, wire = tag >> 3, tag & 7
            if 1 <= field <= 3 or field == 0:
                raise _wire_error(field, wire)
            pos = skip_field(buf, pos, end, wire)
    return num_shards, endianness, producer, min_consumer, bad


def encode_entry(entry: Entry) -> bytes:
    from ..proto import BundleEntryProto

    proto = BundleEntryProto()
    proto.dtype = entry.dtype.enum
    proto.shape.SetInParent()  # TensorFlow writes the shape even for scalars
    for d in entry.shape:
        proto.shape.dim.add().size = d
    proto.shard_id = entry.shard_id
    proto.offset = entry.offset
    proto.size = entry.size
    proto.crc32c = entry.crc32c
    for extents in entry.slices:
        sl = proto.slices.add()
        for ext in extents:
            e = sl.extent.add()
            if ext.length >= 0:
                e.start = ext.start
                e.length = ext.length
    return cast(bytes, proto.SerializeToString())


# -- many entries at once ---------------------------------------------------------------------
# Opening a checkpoint of 100,000 small tensors decodes 100,000 entries. In the layout TensorFlow
# writes for a tensor stored whole (dtype, shape, then small varints for shard/offset/size and a
# fixed32 crc), the tails can be decoded column-wise with numpy; anything else goes through
# decode_entry one by one, which also produces the precise error for damaged entries.

_TAIL_FIELDS = 4  # shard_id, offset, size, crc32c: each at most once in TensorFlow's output
_MAX_FAST_VALUE = 1 << 62


def _decode_tails(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, ok: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise decode of fields 3-6 after each entry's dtype and shape; clears ``ok`` where unusual."""
    count = len(starts)
    pos = starts + 4 + buf[starts + 3].astype(np.int64)
    ok &= pos <= ends
    fields = {0x18: np.zeros(count, np.uint64), 0x20: np.zeros(count, np.uint64), 0x28: np.zeros(count, np.uint64)}
    crc = np.zeros(count, np.uint64)
    for _ in range(_TAIL_FIELDS + 1):
        active = ok & (pos < ends)
        if not active.any():
            break
        here = np.where(active, pos, 0)  # entries already done or refused may point anywhere: read at 0
        tag = buf[here]
        is_crc = active & (tag == 0x35)
        is_varint = active & ((tag == 0x18) | (tag == 0x20) | (tag == 0x28))
        ok &= ~(active & ~is_crc & ~is_varint)
        word = buf[here + 1].astype(np.uint64) | (buf[here + 2].astype(np.uint64) << np.uint64(8)) \
            | (buf[here + 3].astype(np.uint64) << np.uint64(16)) | (buf[here + 4].astype(np.uint64) << np.uint64(24))
        crc = np.where(is_crc, word, crc)
        value = np.zeros(count, np.uint64)
        at = here + 1
        going = is_varint.copy()
        for k in range(9):  # 9 bytes of 7 bits hold every value below 2**63
            byte = buf[at].astype(np.uint64)
            value |= np.where(going, (byte & np.uint64(0x7F)) << np.uint64(7 * k), np.uint64(0))
            at = np.where(going, at + 1, at)
            going &= byte >= 0x80
            if not going.any():
                break
        ok &= ~going  # a varint longer than that is not TensorFlow's output
        for field_tag, column in fields.items():
            hit = is_varint & (tag == field_tag)
            column[hit] = value[hit]
        pos = np.where(is_crc, pos + 5, np.where(is_varint, at, pos))
    ok &= pos == ends
    for column in fields.values():
        ok &= column < _MAX_FAST_VALUE
    return fields[0x18], fields[0x20], fields[0x28], crc, ok


class EntryColumns(NamedTuple):
    """Many entries decoded column by column: row ``i`` of every column is entry ``i``.

    Only rows where ``whole`` is set hold a tensor stored whole in TensorFlow's usual layout; the others are
    decoded one by one (see :func:`decode_entry_columns`). Dtype and shape are given per distinct prefix:
    entry ``i`` has ``kinds[kind_ids[i]]``.
    """

    whole: np.ndarray  # bool
    kinds: list[tuple[DType, tuple[int, ...]]]
    kind_ids: np.ndarray  # int64, an index into kinds
    itemsizes: np.ndarray  # int64, bytes per element (0 for strings and variants)
    shard_ids: np.ndarray  # uint64
    offsets: np.ndarray  # uint64
    sizes: np.ndarray  # uint64
    crcs: np.ndarray  # uint64, masked as stored
    raw_crcs: np.ndarray  # uint64, unmasked: what crc32c of the bytes must equal

    def entry(self, i: int) -> Entry:
        row, shape = self.kinds[int(self.kind_ids[i])]
        return Entry(row, shape, int(self.shard_ids[i]), int(self.offsets[i]), int(self.sizes[i]),
                     int(self.crcs[i]), ())


def decode_entry_columns(names: Sequence[str], data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                         header: Header, path: Optional[PathLike] = None,
                         cache: Optional[dict[bytes, tuple[DType, tuple[int, ...], int]]] = None,
                         heads: Optional[Heads] = None, lenient: bool = False
                         ) -> tuple[EntryColumns, dict[str, Entry]]:
    """Decode many entries at once (entry ``i`` is ``data[starts[i]:ends[i]]``): ``(columns, other)``.

    ``columns`` holds, where ``whole`` is set, every tensor stored whole in TensorFlow's usual layout, with the
    *unmasked* crc32c beside the stored one so that readers compare checksums without masking each time;
    ``other`` holds every other entry (partitioned tensors, unusual layouts) by name, decoded and checked one
    by one by :func:`decode_entry`. ``heads`` (from :func:`decode_heads` on the same entries, e.g. when they
    were listed first) saves decoding the dtype-and-shape prefixes again. ``data`` must extend at least 24
    bytes past the last entry. With ``lenient``, an entry that does not decode is left out of both
    instead of raising (so one damaged entry leaves the others readable; decoding it alone says what is wrong).
    """
    if cache is None:
        cache = {}
    if heads is None:
        heads = decode_heads(names, data, starts, ends, path, cache)
    head_ids = heads.ids.copy()
    ok = head_ids >= 0
    shard_ids, offsets, sizes, crcs, ok = _decode_tails(data, np.where(ok, starts, 0), np.where(ok, ends, 0), ok)
    head_ids[~ok] = 0
    rows = heads.rows or [(dtypes.lookup(dtypes.FLOAT), (), 0)]
    # A size past what the fast path accepts (an absurd shape) stands for "never equal": such entries go to
    # decode_entry, which says what is wrong with them.
    expected = np.array([min(k[2], _MAX_FAST_VALUE) for k in rows], np.int64)[head_ids]
    fixed = np.array([bool(k[0].itemsize) for k in rows], bool)[head_ids]
    signed_sizes = sizes.astype(np.int64)
    ok &= np.where(fixed, signed_sizes == expected, signed_sizes >= -expected) & (shard_ids < header.num_shards)
    # unmask: subtract the mask constant, then rotate left by 15 (checksums.unmask, column-wise)
    rotated = (crcs - np.uint64(checksums.MASK_DELTA)) & np.uint64(0xFFFFFFFF)
    raw_crcs = ((rotated >> np.uint64(17)) | (rotated << np.uint64(15))) & np.uint64(0xFFFFFFFF)
    itemsizes = np.array([k[0].itemsize for k in rows], np.int64)
    columns = EntryColumns(ok, [(k[0], k[1]) for k in rows], head_ids, itemsizes[head_ids], shard_ids, offsets,
                           sizes, crcs, raw_crcs)
    other: dict[str, Entry] = {}
    for i in np.flatnonzero(~ok).tolist():
        try:
            other[names[i]] = decode_entry(names[i], data[starts[i]:ends[i]].tobytes(), header, path, cache)
        except FormatError:
            if not lenient:
                raise
    return columns, other


def decode_entries(names: Sequence[str], values: Sequence[bytes], header: Header, path: Optional[PathLike] = None,
                   cache: Optional[dict[bytes, tuple[DType, tuple[int, ...], int]]] = None) -> list[Entry]:
    """Decode many entries; the same result as :func:`decode_entry` on each, much faster in bulk."""
    from ..table.columns import from_lists

    table = from_lists([b""] * len(values), values)
    columns, other = decode_entry_columns(names, table.data, table.value_starts, table.value_ends, header, path,
                                          cache)
    return [columns.entry(i) if columns.whole[i] else other[name] for i, name in enumerate(names)]
