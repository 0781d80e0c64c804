"""The entries of a bundle index, listed once: tensor names in order, each name's row, each row's entry bytes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..table import TableReader
from ..table.columns import Columns


class Listing(NamedTuple):
    """Every tensor entry of an index (row ``i`` is ``names[i]``), and the entries of stored slices."""

    names: list[str]
    row_of: dict[str, int]
    data: np.ndarray  # uint8; entry ``i`` is data[starts[i]:ends[i]], with padding after the last
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    slice_entries: dict[bytes, bytes]  # slice key -> serialized BundleEntryProto

    def value(self, row: int) -> bytes:
        """The serialized ``BundleEntryProto`` of row ``row``."""
        return self.data[int(self.starts[row]):int(self.ends[row])].tobytes()


def _names(columns: Columns, first: int) -> list[str]:
    """Keys of rows ``first`` on as str (undecodable bytes kept as surrogate escapes)."""
    count = len(columns) - first
    if count == 0:
        return []
    region = columns.keys[int(columns.key_starts[first]):]
    try:
        names = region.decode("utf-8").split("\x00")
        if len(names) == count + 1:  # one separator after each key, and no key holds one itself
            del names[-1]
            return names
    except UnicodeDecodeError:
        pass
    keys = columns.keys
    return [keys[a:a + n].decode("utf-8", "surrogateescape")
            for a, n in zip(columns.key_starts[first:].tolist(), columns.key_lengths[first:].tolist())]


def read_listing(table: TableReader) -> Listing:
    """List every entry of a bundle index ``table`` (its checksums and key order checked)."""
    columns = table.columns()
    # The header (empty key) and the slice keys (0x00 first) sort before every tensor name.
    first = 0
    slice_entries: dict[bytes, bytes] = {}
    keys = columns.keys
    while first < len(columns):
        length = int(columns.key_lengths[first])
        if length and keys[int(columns.key_starts[first])] != 0:
            break
        if length:
            slice_entries[columns.key(first)] = columns.value(first)
        first += 1
    names = _names(columns, first)
    return Listing(names, dict(zip(names, range(len(names)))), columns.data, columns.value_starts[first:],
                   columns.value_ends[first:], slice_entries)
