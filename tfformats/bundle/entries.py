"""Header and entry records of a TensorBundle ``.index`` table, decoded and encoded.

The header lives under the empty key; every other key maps to a
``BundleEntryProto`` describing where one tensor (or one slice) is stored.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

from .. import dtypes
from ..dtypes import DType
from ..errors import FormatError, PathLike
from .slices import Extent, extents_from_proto

HEADER_KEY = b""
LITTLE_ENDIAN, BIG_ENDIAN = 0, 1
# Largest rank TensorFlow allows; also a guard against absurd shapes.
MAX_RANK = 254
_MAX_ELEMENTS = 1 << 62


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
        n = 1
        for d in self.shape:
            n *= d
        return n


def decode_header(value: bytes, path: Optional[PathLike] = None) -> Header:
    from ..proto import BundleHeaderProto

    proto = BundleHeaderProto()
    try:
        proto.ParseFromString(value)
    except Exception:
        raise FormatError("bundle header is not a valid BundleHeaderProto", path) from None
    if proto.num_shards < 1 or proto.num_shards > 1 << 20:
        raise FormatError(f"bundle header says {proto.num_shards} shards", path)
    if proto.endianness not in (LITTLE_ENDIAN, BIG_ENDIAN):
        raise FormatError(f"bundle header has unknown endianness {proto.endianness}", path)
    version = proto.version
    if version.producer < 0 or version.min_consumer > 1 or 1 in version.bad_consumers:
        raise FormatError(f"bundle was written by an incompatible version (producer {version.producer}, "
                          f"min_consumer {version.min_consumer})", path)
    return Header(proto.num_shards, proto.endianness, version.producer, version.min_consumer)


def encode_header(num_shards: int, endianness: int = LITTLE_ENDIAN) -> bytes:
    from ..proto import BundleHeaderProto

    proto = BundleHeaderProto()
    proto.num_shards = num_shards
    proto.endianness = endianness
    proto.version.producer = 1
    return proto.SerializeToString()


def check_shape(dims: Sequence[int], what: str, path: Optional[PathLike]) -> tuple[int, ...]:
    """Validate dimensions read from a file; reject negatives and overflow."""
    if len(dims) > MAX_RANK:
        raise FormatError(f"{what} has rank {len(dims)}", path)
    total = 1
    for d in dims:
        if d < 0:
            raise FormatError(f"{what} has a negative dimension {d}", path)
        total *= d
        if total > _MAX_ELEMENTS:
            raise FormatError(f"{what} has an absurd shape {list(dims)}", path)
    return tuple(int(d) for d in dims)


def decode_entry(name: str, value: bytes, header: Header, path: Optional[PathLike] = None) -> Entry:
    """Decode and validate the entry stored under ``name``."""
    from ..proto import BundleEntryProto

    proto = BundleEntryProto()
    try:
        proto.ParseFromString(value)
    except Exception:
        raise FormatError(f"entry for {name!r} is not a valid BundleEntryProto", path) from None
    what = f"tensor {name!r}"
    row = dtypes.lookup(proto.dtype, path, name)
    if row.enum == dtypes.RESOURCE:
        raise FormatError(f"{what} has dtype DT_RESOURCE, which cannot be stored", path)
    if proto.shape.unknown_rank:
        raise FormatError(f"{what} has a shape of unknown rank", path)
    shape = check_shape([d.size for d in proto.shape.dim], what, path)
    if proto.shard_id < 0 or proto.shard_id >= header.num_shards:
        raise FormatError(f"{what} is in shard {proto.shard_id} but the bundle has {header.num_shards}", path)
    if proto.offset < 0 or proto.size < 0:
        raise FormatError(f"{what} has negative offset or size", path)
    slices = tuple(tuple(extents_from_proto(s)) for s in proto.slices)
    entry = Entry(row, shape, proto.shard_id, proto.offset, proto.size, proto.crc32c, slices)
    if not slices and row.is_pod and proto.size != entry.nelements * row.itemsize:
        raise FormatError(f"{what} is {proto.size} bytes but {row.tf_name}{list(shape)} needs "
                          f"{entry.nelements * row.itemsize}", path)
    if row.is_string and not slices and proto.size < 4:
        raise FormatError(f"{what} is a string tensor of {proto.size} bytes, too short for its checksum", path)
    return entry


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
    return proto.SerializeToString()
