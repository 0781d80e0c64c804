"""Every entry of a table at once, decoded column-wise with numpy.

A bundle index of 100,000 tensors holds 100,000 prefix-compressed keys. Decoding them one by one in Python
(:func:`tfformats.table.layout.decode_block`) costs about half a microsecond each; here the entries of all
restart groups advance together, one numpy step per entry of a group (16 steps for TensorFlow's tables), and
keys and values stay positions in one buffer instead of becoming 200,000 bytes objects.

Only the layout TensorFlow's table builder writes is taken: restart points at the start of each group
(sharing nothing with the key before), varints of at most three bytes, maximal key sharing. Anything else,
damage included, makes :func:`decode_columns` return None; the caller then decodes block by block, which
gives the same entries or the precise error.
"""

from __future__ import annotations

import struct
from typing import NamedTuple, Optional, Sequence

import numpy as np

# Past the last block, so that reading a few bytes beyond any entry needs no bounds check.
PADDING = 32
_MAX_GROUP_ENTRIES = 4096
_U32 = struct.Struct("<I")


class Columns(NamedTuple):
    """The keys and values of many table entries, as positions in two buffers (row ``i`` is entry ``i``)."""

    data: np.ndarray  # uint8: the blocks' contents back to back, then PADDING zero bytes
    keys: bytes  # every key back to back, each followed by one 0x00 byte
    key_starts: np.ndarray  # int64 positions in ``keys``
    key_lengths: np.ndarray  # int64
    value_starts: np.ndarray  # int64 positions in ``data``
    value_ends: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.key_starts)

    def key(self, i: int) -> bytes:
        start = int(self.key_starts[i])
        return self.keys[start:start + int(self.key_lengths[i])]

    def value(self, i: int) -> bytes:
        return self.data[int(self.value_starts[i]):int(self.value_ends[i])].tobytes()


def from_lists(keys: Sequence[bytes], values: Sequence[bytes]) -> Columns:
    """Columns holding entries already decoded one by one."""
    count = len(keys)
    key_lengths = np.fromiter(map(len, keys), np.int64, count)
    key_starts = np.cumsum(key_lengths + 1) - key_lengths - 1
    value_lengths = np.fromiter(map(len, values), np.int64, count)
    value_ends = np.cumsum(value_lengths)
    data = np.frombuffer(b"".join(values) + bytes(PADDING), np.uint8)
    joined = b"".join(k + b"\x00" for k in keys)
    return Columns(data, joined, key_starts, key_lengths, value_ends - value_lengths, value_ends)


def _restart_groups(blocks: Sequence[bytes]) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """``(starts, ends)`` of every restart group, as positions in the blocks joined; None if unusual."""
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    base = 0
    for block in blocks:
        size = len(block)
        if size < 4:
            return None
        (count,) = _U32.unpack_from(block, size - 4)
        entries_end = size - 4 - 4 * count
        if count == 0 or count > (size - 4) // 4 or entries_end <= 0:
            return None
        restarts = np.frombuffer(block, "<u4", count, entries_end).astype(np.int64)
        if restarts[0] != 0 or (count > 1 and not (np.diff(restarts) > 0).all()) or restarts[-1] >= entries_end:
            return None
        starts.append(restarts + base)
        ends.append(np.append(restarts[1:], entries_end) + base)
        base += size
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


def _varint(data: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Varints of at most three bytes at ``pos``: ``(values, next positions, all fitted)``."""
    b0 = data[pos].astype(np.int64)
    value = b0 & 0x7F
    more = b0 >= 0x80
    length = np.ones(len(pos), np.int64)
    if more.any():
        b1 = data[pos + 1].astype(np.int64)
        value |= np.where(more, (b1 & 0x7F) << 7, 0)
        length += more
        more &= b1 >= 0x80
        if more.any():
            b2 = data[pos + 2].astype(np.int64)
            value |= np.where(more, (b2 & 0x7F) << 14, 0)
            length += more
            if (more & (b2 >= 0x80)).any():
                return value, pos, False
    return value, pos + length, True


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lengths[i]`` of every ``i``, concatenated."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    # 32-bit positions where they fit: half the memory to write and read back.
    kind = np.int32 if total < 1 << 31 and (not len(starts) or int(starts.max()) < 1 << 31) else np.int64
    offsets = np.repeat((starts - (ends - lengths)).astype(kind), lengths)
    offsets += np.arange(total, dtype=kind)
    return offsets


def _increasing(buf: np.ndarray, a_starts: np.ndarray, a_lengths: np.ndarray, b_starts: np.ndarray,
                b_lengths: np.ndarray) -> bool:
    """Whether every key ``a`` sorts strictly before its key ``b`` (bytewise), both given as positions in ``buf``.

    Keys are compared 8 bytes at a time as big-endian words; ``buf`` must extend 8 bytes past every key.
    """
    unaligned = np.ndarray((len(buf) - 7,), ">u8", buf, 0, (1,))
    undecided = np.arange(len(a_starts))
    k = 0
    while len(undecided):
        a_left = np.clip(a_lengths[undecided] - k, 0, 8).astype(np.uint64)
        b_left = np.clip(b_lengths[undecided] - k, 0, 8).astype(np.uint64)
        # Big-endian: the bytes past a key's end are the low-order ones; clear them.
        a = unaligned[a_starts[undecided] + k] & ~((np.uint64(1) << ((8 - a_left) * np.uint64(8))) - np.uint64(1))
        b = unaligned[b_starts[undecided] + k] & ~((np.uint64(1) << ((8 - b_left) * np.uint64(8))) - np.uint64(1))
        if (a > b).any():
            return False
        tie = a == b
        # Equal so far and one of them ends here: the shorter one sorts first (equal keys are not increasing).
        ended = tie & ((a_left < 8) | (b_left < 8))
        if (ended & (a_left >= b_left)).any():
            return False
        undecided = undecided[tie & ~ended]
        k += 8
    return True


_Step = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # groups, shared, non-shared, key at, end


def _walk_groups(data: np.ndarray, group_starts: np.ndarray, group_ends: np.ndarray) -> Optional[list[_Step]]:
    """Decode the entry headers of all restart groups together: step k holds the k-th entry of each group."""
    steps: list[_Step] = []
    active = np.arange(len(group_starts))
    pos = group_starts.copy()
    while len(active):
        if len(steps) >= _MAX_GROUP_ENTRIES:
            return None
        at = pos[active]
        shared, at, ok1 = _varint(data, at)
        non_shared, at, ok2 = _varint(data, at)
        value_length, at, ok3 = _varint(data, at)
        value_end = at + non_shared + value_length
        if not (ok1 and ok2 and ok3) or (value_end > group_ends[active]).any():
            return None
        if not steps and shared.any():
            return None  # a restart point shares nothing with the key before it
        steps.append((active, shared, non_shared, at, value_end))
        pos[active] = value_end
        active = active[value_end < group_ends[active]]
    return steps


def _rebuild_keys(data: np.ndarray, rows_of_step: list[np.ndarray], shared: np.ndarray, non_shared: np.ndarray,
                  delta_at: np.ndarray, key_starts: np.ndarray, key_lengths: np.ndarray) -> Optional[np.ndarray]:
    """Every full key (followed by a 0x00) in one buffer, checking each is greater than the one before it."""
    out = np.zeros(int(key_starts[-1] + key_lengths[-1] + 1) + PADDING, np.uint8)
    out[_ranges(key_starts + shared, non_shared)] = data[_ranges(delta_at, non_shared)]
    for rows in rows_of_step[1:]:  # the k-th keys of all groups copy their prefix from the (k-1)-th
        before = rows - 1
        cut = shared[rows]
        if (cut > key_lengths[before]).any() or (non_shared[rows] == 0).any():
            return None
        out[_ranges(key_starts[rows], cut)] = out[_ranges(key_starts[before], cut)]
        # With maximal sharing, a key is greater than the one before it exactly when its first unshared byte is.
        longer = cut < key_lengths[before]
        if longer.any() and not (out[(key_starts[rows] + cut)[longer]]
                                 > out[(key_starts[before] + cut)[longer]]).all():
            return None
    return out


def decode_columns(blocks: Sequence[bytes]) -> Optional[Columns]:
    """Every entry of the data ``blocks`` (decoded block contents, in table order), or None if unusual.

    The result is what decoding each block with :func:`~tfformats.table.layout.decode_block` gives, keys in
    strictly increasing order across all blocks; when the blocks are not in the plain layout, or anything
    about them is wrong, the answer is None and nothing is claimed.
    """
    groups = _restart_groups(blocks)
    if groups is None:
        return None
    group_starts, group_ends = groups
    data = np.frombuffer(b"".join(blocks) + bytes(PADDING), np.uint8)
    steps = _walk_groups(data, group_starts, group_ends)
    if steps is None:
        return None
    if not steps:
        return Columns(data, b"", *(np.zeros(0, np.int64) for _ in range(4)))
    # Row of the k-th entry of group g: the rows of all earlier groups, plus k.
    per_group = np.zeros(len(group_starts), np.int64)
    for active, *_ in steps:
        per_group[active] += 1
    first_row = np.cumsum(per_group) - per_group
    count = int(per_group.sum())
    shared, non_shared, delta_at, value_ends = (np.zeros(count, np.int64) for _ in range(4))
    rows_of_step = []
    for k, (active, step_shared, step_non_shared, step_delta_at, step_value_end) in enumerate(steps):
        rows = first_row[active] + k
        rows_of_step.append(rows)
        shared[rows] = step_shared
        non_shared[rows] = step_non_shared
        delta_at[rows] = step_delta_at
        value_ends[rows] = step_value_end
    key_lengths = shared + non_shared
    key_starts = np.cumsum(key_lengths + 1) - key_lengths - 1
    out = _rebuild_keys(data, rows_of_step, shared, non_shared, delta_at, key_starts, key_lengths)
    if out is None:
        return None
    # Groups (and blocks) start afresh: each group's first key must be greater than the key before it.
    firsts = first_row[1:][per_group[1:] > 0]
    if not _increasing(out, key_starts[firsts - 1], key_lengths[firsts - 1], key_starts[firsts],
                       key_lengths[firsts]):
        return None
    return Columns(data, out[:len(out) - PADDING].tobytes(), key_starts, key_lengths, delta_at + non_shared,
                   value_ends)
