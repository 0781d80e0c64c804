"""Write a sorted-string table the way TensorFlow's table builder does."""

from __future__ import annotations

from typing import BinaryIO, Optional

from ..errors import PathLike
from . import layout
from .layout import BlockHandle, Footer


def _snappy_compress(data: bytes) -> bytes:
    import snappy

    return snappy.compress(data)  # type: ignore[no-any-return]


class TableWriter:
    """Stream sorted ``(key, value)`` pairs into a table file.

    Keys must be added in strictly increasing bytewise order. With the default
    options the output matches TensorFlow's byte for byte.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        block_size: int = layout.DEFAULT_BLOCK_SIZE,
        compression: int = layout.NO_COMPRESSION,
        path: Optional[PathLike] = None,
    ) -> None:
        self._file = file
        self._offset = 0
        self.block_size = block_size
        self.compression = compression
        self._data = layout.BlockBuilder(layout.DATA_RESTART_INTERVAL)
        self._index = layout.BlockBuilder(layout.INDEX_RESTART_INTERVAL)
        self._last_key: Optional[bytes] = None
        self._pending: Optional[BlockHandle] = None  # last flushed block, awaiting its index key
        self.num_entries = 0
        self._finished = False

    def add(self, key: bytes, value: bytes) -> None:
        if self._last_key is not None and key <= self._last_key:
            raise ValueError(f"table keys must increase: {key!r} after {self._last_key!r}")
        # A huge entry closes the current block first, as TensorFlow does.
        if self._data.num_entries and len(key) + len(value) >= 2 * self.block_size:
            self._flush()
        if self._pending is not None:
            assert self._last_key is not None
            self._add_index(layout.shortest_separator(self._last_key, key))
        self._data.add(key, value)
        self._last_key = key
        self.num_entries += 1
        if self._data.estimated_size() >= self.block_size:
            self._flush()

    def _add_index(self, separator: bytes) -> None:
        assert self._pending is not None
        self._index.add(separator, layout.encode_block_handle(self._pending))
        self._pending = None

    def _write_block(self, contents: bytes, compression: int) -> BlockHandle:
        if compression == layout.SNAPPY_COMPRESSION:
            packed = _snappy_compress(contents)
            # Keep the compressed form only when it saves at least an eighth.
            if len(packed) < len(contents) - len(contents) // 8:
                contents = packed
            else:
                compression = layout.NO_COMPRESSION
        handle = BlockHandle(self._offset, len(contents))
        self._file.write(contents)
        self._file.write(layout.encode_block_trailer(contents, compression))
        self._offset += len(contents) + layout.BLOCK_TRAILER_SIZE
        return handle

    def _flush(self) -> None:
        if not self._data.num_entries:
            return
        self._pending = self._write_block(self._data.finish(), self.compression)
        self._data.reset()

    def finish(self) -> int:
        """Write the remaining blocks and the footer; return the file size."""
        if self._finished:
            return self._offset
        self._flush()
        if self._pending is not None:
            assert self._last_key is not None
            self._add_index(layout.short_successor(self._last_key))
        metaindex = self._write_block(layout.BlockBuilder(layout.DATA_RESTART_INTERVAL).finish(),
                                      layout.NO_COMPRESSION)
        index = self._write_block(self._index.finish(), layout.NO_COMPRESSION)
        self._file.write(layout.encode_footer(Footer(metaindex, index)))
        self._offset += layout.FOOTER_SIZE
        self._finished = True
        return self._offset
