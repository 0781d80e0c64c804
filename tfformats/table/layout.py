"""Byte layout of the sorted-string table (SSTable) behind ``.index`` files.

Pure functions only: every ``decode_*`` here has its ``encode_*`` beside it, and
both the table reader and the table writer use them. Decoders take a buffer and
a position and raise :class:`~tfformats.errors.FormatError` on malformed input;
callers attach the file name.
"""

from __future__ import annotations

import struct
from typing import Iterator, NamedTuple, Union

from .. import checksums
from .._wire import decode_varint, encode_varint
from ..errors import FormatError, WrongFormatError

Buffer = Union[bytes, bytearray, memoryview]

FOOTER_SIZE = 48
# Fixed 64-bit little-endian number closing every table file.
TABLE_MAGIC = 0xDB4775248B80FB57
BLOCK_TRAILER_SIZE = 5
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1

# What TensorFlow's table builder uses; a reader must not rely on them.
DEFAULT_BLOCK_SIZE = 262144
DATA_RESTART_INTERVAL = 16
INDEX_RESTART_INTERVAL = 1

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class BlockHandle(NamedTuple):
    """Where a block lives: its offset and its size without the 5-byte trailer."""

    offset: int
    size: int


class Footer(NamedTuple):
    metaindex: BlockHandle
    index: BlockHandle  # type: ignore[assignment]  # field name shadows tuple.index on purpose


# -- varints -----------------------------------------------------------------

# -- block handles and the footer ---------------------------------------------

def decode_block_handle(buf: Buffer, pos: int = 0, limit: int | None = None) -> tuple[BlockHandle, int]:
    offset, pos = decode_varint(buf, pos, limit)
    size, pos = decode_varint(buf, pos, limit)
    return BlockHandle(offset, size), pos


def encode_block_handle(handle: BlockHandle) -> bytes:
    return encode_varint(handle.offset) + encode_varint(handle.size)


def decode_footer(buf: Buffer) -> Footer:
    """Decode the 48-byte footer (``buf`` must be exactly those bytes)."""
    if len(buf) != FOOTER_SIZE:
        raise FormatError(f"footer must be {FOOTER_SIZE} bytes, got {len(buf)}")
    (magic,) = _U64.unpack_from(buf, FOOTER_SIZE - 8)
    if magic != TABLE_MAGIC:
        raise WrongFormatError(f"not a table: bad magic number {magic:#018x} in the footer")
    metaindex, pos = decode_block_handle(buf, 0, FOOTER_SIZE - 8)
    index, _ = decode_block_handle(buf, pos, FOOTER_SIZE - 8)
    return Footer(metaindex, index)


def encode_footer(footer: Footer) -> bytes:
    handles = encode_block_handle(footer.metaindex) + encode_block_handle(footer.index)
    return handles + bytes(FOOTER_SIZE - 8 - len(handles)) + _U64.pack(TABLE_MAGIC)


# -- block trailers ------------------------------------------------------------

def block_crc(contents: Buffer, compression: int) -> int:
    """Masked CRC stored in a trailer: covers the stored bytes and the type byte."""
    return checksums.mask(checksums.crc32c(bytes((compression,)), checksums.crc32c(contents)))


def encode_block_trailer(contents: Buffer, compression: int) -> bytes:
    return bytes((compression,)) + _U32.pack(block_crc(contents, compression))


def decode_block_trailer(trailer: Buffer) -> tuple[int, int]:
    """Return ``(compression_type, masked_crc)`` from 5 trailer bytes."""
    return trailer[0], _U32.unpack_from(trailer, 1)[0]


# -- block contents -------------------------------------------------------------

def decode_restarts(block: Buffer) -> tuple[int, int]:
    """Return ``(entries_end, num_restarts)`` for a block; validates the array."""
    size = len(block)
    if size < 4:
        raise FormatError(f"block of {size} bytes is too short for its restart count")
    (num_restarts,) = _U32.unpack_from(block, size - 4)
    entries_end = size - 4 - 4 * num_restarts
    if num_restarts > (size - 4) // 4 or entries_end < 0:
        raise FormatError(f"block of {size} bytes claims {num_restarts} restart points")
    return entries_end, num_restarts


def iter_block(block: Buffer) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(key, value_start, value_end)`` for every entry of a block.

    Offsets are positions in ``block``; keys are rebuilt from prefix sharing.
    """
    end, _ = decode_restarts(block)
    pos = 0
    key = b""
    while pos < end:
        entry_at = pos
        # Three varints; almost always one byte each, so try that first.
        shared = block[pos]
        if shared < 0x80:
            pos += 1
        else:
            shared, pos = decode_varint(block, pos, end)
        non_shared = block[pos] if pos < end else 0x80
        if non_shared < 0x80:
            pos += 1
        else:
            non_shared, pos = decode_varint(block, pos, end)
        value_len = block[pos] if pos < end else 0x80
        if value_len < 0x80:
            pos += 1
        else:
            value_len, pos = decode_varint(block, pos, end)
        if shared > len(key):
            raise FormatError(f"entry shares {shared} key bytes but the previous key has {len(key)}",
                              offset=entry_at)
        value_start = pos + non_shared
        value_end = value_start + value_len
        if value_end > end:
            raise FormatError("entry runs past the end of its block", offset=entry_at)
        key = key[:shared] + bytes(block[pos:value_start])
        yield key, value_start, value_end
        pos = value_end


def decode_block(block: bytes) -> tuple[list[bytes], list[bytes]]:
    """All keys and values of a block as two lists, checking that keys increase.

    Same result as :func:`iter_block`, in one tight loop: listing an index of
    100,000 entries spends most of its time here.
    """
    end, _ = decode_restarts(block)
    keys: list[bytes] = []
    values: list[bytes] = []
    add_key = keys.append
    add_value = values.append
    pos = 0
    key = b""
    while pos < end:
        entry_at = pos
        shared = block[pos]
        non_shared = block[pos + 1] if pos + 1 < end else 0x80
        value_len = block[pos + 2] if pos + 2 < end else 0x80
        if shared | non_shared | value_len < 0x80:
            pos += 3
        else:
            shared, pos = decode_varint(block, pos, end)
            non_shared, pos = decode_varint(block, pos, end)
            value_len, pos = decode_varint(block, pos, end)
        value_start = pos + non_shared
        value_end = value_start + value_len
        if value_end > end:
            raise FormatError("entry runs past the end of its block", offset=entry_at)
        if shared:
            if shared > len(key):
                raise FormatError(f"entry shares {shared} key bytes but the previous key has {len(key)}",
                                  offset=entry_at)
            new_key = key[:shared] + block[pos:value_start]
        else:
            new_key = block[pos:value_start]
        if new_key <= key and keys:
            raise FormatError(f"keys out of order: {new_key!r} follows {key!r}", offset=entry_at)
        key = new_key
        add_key(key)
        add_value(block[value_start:value_end])
        pos = value_end
    return keys, values


class BlockBuilder:
    """Accumulates sorted entries into one block with prefix-compressed keys."""

    def __init__(self, restart_interval: int = DATA_RESTART_INTERVAL) -> None:
        self.restart_interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self._buf = bytearray()
        self._restarts = [0]
        self._counter = 0
        self._last_key = b""
        self.num_entries = 0

    def add(self, key: bytes, value: Buffer) -> None:
        shared = 0
        if self._counter < self.restart_interval:
            limit = min(len(key), len(self._last_key))
            while shared < limit and key[shared] == self._last_key[shared]:
                shared += 1
        else:
            self._restarts.append(len(self._buf))
            self._counter = 0
        self._buf += encode_varint(shared)
        self._buf += encode_varint(len(key) - shared)
        self._buf += encode_varint(len(value))
        self._buf += key[shared:]
        self._buf += value
        self._last_key = key
        self._counter += 1
        self.num_entries += 1

    def estimated_size(self) -> int:
        return len(self._buf) + 4 * len(self._restarts) + 4

    def finish(self) -> bytes:
        tail = b"".join(_U32.pack(r) for r in self._restarts) + _U32.pack(len(self._restarts))
        return bytes(self._buf) + tail


# -- index separators -------------------------------------------------------------

def shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key ``k`` with ``start <= k < limit`` (TensorFlow's index-key choice)."""
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n:
        byte = start[i]
        if byte < 0xFF and byte + 1 < limit[i]:
            return start[:i] + bytes((byte + 1,))
    return start


def short_successor(key: bytes) -> bytes:
    """A short key ``>= key``: bump the first byte that is not 0xff and cut after it."""
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes((byte + 1,))
    return key
