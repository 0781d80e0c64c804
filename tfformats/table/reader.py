"""Read a sorted-string table (the ``.index`` of a bundle, or a V1 checkpoint)."""

from __future__ import annotations

import bisect
import mmap
import os
from typing import Iterable, Iterator, Optional

from .._io.source import LocalFile, StorageOptions, open_source
from .._wire import decode_varint
from ..errors import ChecksumError, FormatError, PathLike, TruncatedError
from . import columns as columns_layout
from . import layout
from .layout import BlockHandle

# Below this many bytes of blocks, decoding entry by entry is as fast as setting up the column-wise decode.
_COLUMNS_MIN = 64 << 10

# Snappy cannot expand data by more than about 21x (a 3-byte copy op emits at
# most 64 bytes); a declared length above this bound is a lie.
_SNAPPY_MAX_RATIO = 32


def _snappy_uncompress(data: bytes) -> bytes:
    import snappy  # imported lazily: TensorFlow itself never writes snappy tables

    return snappy.uncompress(data)  # type: ignore[no-any-return]


class TableReader:
    """Random and sequential access to the entries of one table file.

    Opening reads only the footer and the index block. Blocks are read,
    checked and decoded on demand; the last one decoded is cached.
    """

    def __init__(self, path: PathLike, *, verify_checksums: bool = True,
                 storage_options: StorageOptions = None) -> None:
        self.path = os.fspath(path)
        self.verify_checksums = verify_checksums
        self._source = open_source(self.path, storage_options=storage_options)
        self.size = self._source.size
        if self.size < layout.FOOTER_SIZE:
            self._source.close()
            raise TruncatedError(
                f"file of {self.size} bytes is too short to be a table "
                f"(a table ends with a {layout.FOOTER_SIZE}-byte footer)", self.path)
        # Local files are sliced straight out of their map; remote ones are read by range.
        self._map: Optional[mmap.mmap] = self._source.map if isinstance(self._source, LocalFile) else None
        footer_at = self.size - layout.FOOTER_SIZE
        try:
            self.footer = layout.decode_footer(self._bytes(footer_at, self.size))
        except FormatError as exc:
            raise type(exc)(exc.detail, self.path, footer_at) from None
        self._check_handle(self.footer.index, "index block", footer_at)
        self.index_keys: list[bytes] = []
        self.index_handles: list[BlockHandle] = []
        index_block = self.read_block(self.footer.index, "index block")
        try:
            for key, start, end in layout.iter_block(index_block):
                handle, _ = layout.decode_block_handle(index_block, start, end)
                self.index_keys.append(key)
                self.index_handles.append(handle)
        except FormatError as exc:
            raise FormatError(f"index block: {exc.detail}", self.path, self.footer.index.offset) from None
        for handle in self.index_handles:
            self._check_handle(handle, "data block", self.footer.index.offset)
        self._cache_handle: Optional[BlockHandle] = None
        self._cache: dict[bytes, bytes] = {}

    # -- blocks ---------------------------------------------------------------------

    def _bytes(self, start: int, end: int) -> bytes:
        if self._map is not None:
            return self._map[start:end]
        return self._source.read(start, end - start)

    def _check_handle(self, handle: BlockHandle, what: str, where: int) -> None:
        end = handle.offset + handle.size + layout.BLOCK_TRAILER_SIZE
        if end > self.size:
            raise TruncatedError(
                f"{what} handle (offset {handle.offset}, size {handle.size}) points past the end "
                f"of the file ({self.size} bytes); the file is truncated or not a table", self.path, where)

    def read_block(self, handle: BlockHandle, what: str = "block") -> bytes:
        """Return the decoded contents of the block at ``handle``."""
        self._check_handle(handle, what, handle.offset)
        start, end = handle.offset, handle.offset + handle.size
        both = self._bytes(start, end + layout.BLOCK_TRAILER_SIZE)
        contents = both[:handle.size]
        compression, stored_crc = layout.decode_block_trailer(both[handle.size:])
        if self.verify_checksums and layout.block_crc(contents, compression) != stored_crc:
            raise ChecksumError(f"{what} checksum mismatch (block of {handle.size} bytes): "
                                "the file is damaged", self.path, start)
        if compression == layout.NO_COMPRESSION:
            return contents
        if compression == layout.SNAPPY_COMPRESSION:
            return self._uncompress(contents, start, what)
        raise FormatError(f"{what} has unknown compression type {compression}", self.path, end)

    def _uncompress(self, contents: bytes, start: int, what: str) -> bytes:
        try:
            declared, _ = decode_varint(contents, 0)
        except FormatError:
            raise FormatError(f"snappy {what} has no valid length header", self.path, start) from None
        if declared > _SNAPPY_MAX_RATIO * len(contents) + 64:
            raise FormatError(f"snappy {what} of {len(contents)} bytes claims to expand to {declared} bytes",
                              self.path, start)
        try:
            out = _snappy_uncompress(contents)
        except Exception as exc:  # the snappy binding raises its own assorted types
            raise FormatError(f"corrupt snappy {what}: {exc}", self.path, start) from None
        if len(out) != declared:
            raise FormatError(f"snappy {what} expanded to {len(out)} bytes, not the {declared} it declares",
                              self.path, start)
        return out

    def block_lists(self, handle: BlockHandle) -> tuple[list[bytes], list[bytes]]:
        """Keys and values of one data block, as two lists."""
        return self._decode_block(handle, self.read_block(handle, "data block"))

    def _decode_block(self, handle: BlockHandle, block: bytes) -> tuple[list[bytes], list[bytes]]:
        try:
            return layout.decode_block(bytes(block))
        except FormatError as exc:
            raise FormatError(f"data block at offset {handle.offset}: {exc.detail}", self.path,
                              handle.offset) from None

    # -- entries ------------------------------------------------------------------

    def iter_blocks(self) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """Yield the keys and values of each data block in order, checking that keys increase."""
        return self._in_order((handle, self.block_lists(handle)) for handle in self.index_handles)

    def _in_order(self, blocks: Iterable[tuple[BlockHandle, tuple[list[bytes], list[bytes]]]]
                  ) -> Iterator[tuple[list[bytes], list[bytes]]]:
        previous: Optional[bytes] = None
        for handle, (keys, values) in blocks:
            if keys:
                if previous is not None and keys[0] <= previous:
                    raise FormatError(f"keys out of order: {keys[0]!r} follows {previous!r}", self.path,
                                      handle.offset)
                previous = keys[-1]
            yield keys, values

    def columns(self) -> columns_layout.Columns:
        """Every entry in key order as columns (checked like :meth:`iter_blocks`, the same errors)."""
        blocks = [self.read_block(handle, "data block") for handle in self.index_handles]
        if sum(map(len, blocks)) >= _COLUMNS_MIN:
            fast = columns_layout.decode_columns(blocks)
            if fast is not None:
                return fast
        keys: list[bytes] = []
        values: list[bytes] = []
        decoded = ((handle, self._decode_block(handle, block)) for handle, block in zip(self.index_handles, blocks))
        for block_keys, block_values in self._in_order(decoded):
            keys += block_keys
            values += block_values
        return columns_layout.from_lists(keys, values)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield every ``(key, value)`` in key order, checking that keys increase."""
        for keys, values in self.iter_blocks():
            yield from zip(keys, values)

    def first(self) -> Optional[tuple[bytes, bytes]]:
        """Return the first entry, decoding only as much as needed."""
        for handle in self.index_handles:
            block = self.read_block(handle, "data block")
            try:
                for key, start, end in layout.iter_block(block):
                    return key, bytes(block[start:end])
            except FormatError as exc:
                raise FormatError(f"data block at offset {handle.offset}: {exc.detail}", self.path,
                                  handle.offset) from None
        return None

    def get(self, key: bytes) -> Optional[bytes]:
        """Return the value stored under ``key``, or None."""
        i = bisect.bisect_left(self.index_keys, key)
        if i == len(self.index_keys):
            return None
        handle = self.index_handles[i]
        if handle != self._cache_handle:
            keys, values = self.block_lists(handle)
            self._cache = dict(zip(keys, values))
            self._cache_handle = handle
        return self._cache.get(key)

    def close(self) -> None:
        self._map = None
        self._source.close()

    def __enter__(self) -> "TableReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
