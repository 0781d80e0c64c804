"""Read TensorBundle (V2) checkpoints: ``<prefix>.index`` plus ``.data`` shards."""

from __future__ import annotations

import contextlib
import gc
import operator
import os
from typing import Iterator, Optional, Sequence

import numpy as np

from .. import checksums, dtypes
from ..checksums import MASK_DELTA, crc32c_raw
from ..checkpoint.interface import CheckpointReader, TensorInfo
from .._io.threads import on_worker, worker
from .._io.source import ByteSource, LocalFile, StorageOptions, is_url, open_source
from ..errors import ChecksumError, FormatError, MissingShardError, PathLike, TruncatedError, WrongFormatError
from ..table import TableReader
from . import data, naming
from .entries import (BIG_ENDIAN, HEADER_KEY, Entry, EntryColumns, Header, Heads, decode_entry,
                      decode_entry_columns, decode_header, decode_heads, dtypes_and_shapes)
from .listing import Listing, read_listing
from .slices import Extent, check_tiling, encode_slice_key, region, resolve

# Tensors larger than this are read (and their checksum computed) in two halves, one per thread.
_SPLIT_MIN = 8 << 20
_PAGE = 4096
# Tensors up to this size are copied straight out of the memory map.
_SMALL = 1 << 20
_CHUNK = 2 << 20
_second = operator.itemgetter(1)
_SmallRead = tuple[memoryview, int, int, np.dtype, tuple[int, ...], int]


def _read_and_crc(shard: ByteSource, dest: memoryview, offset: int) -> tuple[int, int]:
    """Fill ``dest`` from ``offset`` in chunks, each checksummed while still in cache; ``(bytes read, crc)``."""
    got = crc = 0
    for start in range(0, len(dest), _CHUNK):
        chunk = dest[start:start + _CHUNK]
        n = shard.read_into(chunk, offset + start)
        crc = checksums.crc32c(chunk[:n], crc)
        got += n
        if n < len(chunk):
            break
    return got, crc


def _split_crc(view: memoryview) -> int:
    """CRC-32C of a large buffer, computed in two halves on two threads."""
    if on_worker():
        return checksums.crc32c(view)
    half = len(view) // 2
    second = worker("checksum").submit(checksums.crc32c, view[half:])
    return checksums.crc32c_combine(checksums.crc32c(view[:half]), second.result(), len(view) - half)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small tuples.

    Decoding 100,000 entries allocates hundreds of thousands of tuples, none of them cyclic; each
    collection the allocations trigger walks every young object again, which doubles the work.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _swap_bytes(arr: np.ndarray) -> None:
    """Byte-swap every element of ``arr`` in place (complex: each half on its own)."""
    item = arr.dtype.itemsize // 2 if arr.dtype.kind == "c" else arr.dtype.itemsize
    if item > 1:
        flat = arr.reshape(-1).view(np.dtype(f"u{item}"))
        flat.byteswap(inplace=True)


class BundleReader(CheckpointReader):
    """Lazy reader of one V2 checkpoint.

    Opening reads the table footer, its index and the header entry only.
    ``get_tensor`` returns a new array the caller owns; ``get_tensor(name,
    copy=False)`` returns a read-only view into the memory-mapped shard where
    the stored bytes can be used as they are (whole, little-endian, fixed-size
    tensors), and a fresh array otherwise.
    """

    format = "V2"

    def __init__(self, prefix: PathLike, *, verify_checksums: bool = True,
                 storage_options: StorageOptions = None) -> None:
        self.prefix = os.fspath(prefix)
        self.verify_checksums = verify_checksums
        self.storage_options = storage_options
        self.index_path = naming.index_path(self.prefix)
        self._table = TableReader(self.index_path, verify_checksums=verify_checksums,
                                  storage_options=storage_options)
        first = self._table.first()
        if first is None or first[0] != HEADER_KEY:
            raise FormatError("bundle index has no header entry (the empty key must come first)", self.index_path)
        if first[1][:1] == b"\x0a":
            raise WrongFormatError("this table holds a V1 checkpoint, not a V2 bundle index", self.index_path,
                                   actual="V1")
        self.header: Header = decode_header(first[1], self.index_path)
        self._little = self.header.endianness != BIG_ENDIAN
        self._listing: Optional[Listing] = None  # every entry's name and bytes, once the index was listed
        self._entries: dict[str, Entry] = {}
        self._all_entries = False
        # After the index was decoded in bulk: the entries as columns (row i is the listing's row i), and the
        # small fixed-size tensors in local shards, ready to be sliced out of the map (see get_tensor).
        self._columns: Optional[EntryColumns] = None
        # Per listing row: (shard map, start, end, dtype, shape, raw crc) of a small fixed-size tensor in a
        # local shard, else None; and each name's row. Both empty until the index is decoded in bulk.
        self._small: list[Optional[_SmallRead]] = []
        self._row_of: dict[str, int] = {}
        self._heads: Optional[Heads] = None  # dtype/shape prefixes, once the index has been listed
        self._entry_cache: dict[bytes, tuple[dtypes.DType, tuple[int, ...], int]] = {}
        self._infos: Optional[dict[str, TensorInfo]] = None
        self._shards: dict[int, ByteSource] = {}
        # Whole-shard views of local shards, for the small-tensor path.
        self._views: dict[int, memoryview] = {}

    @property
    def num_shards(self) -> int:
        """How many ``.data`` shards the header says the checkpoint has."""
        return self.header.num_shards

    # -- entries ------------------------------------------------------------------------

    def _load_listing(self) -> Listing:
        if self._listing is None:
            with _gc_paused():
                self._listing = read_listing(self._table)
        return self._listing

    def _load_heads(self) -> Heads:
        listing = self._load_listing()
        if self._heads is None:
            self._heads = decode_heads(listing.names, listing.data, listing.starts, listing.ends, self.index_path,
                                       self._entry_cache)
        return self._heads

    def _load_entries(self) -> None:
        """Decode every entry at once (listing and then reading many tensors need them all).

        Tensors stored whole stay in columns; Entry objects are made from them only when asked for.
        """
        if self._all_entries:
            return
        listing = self._load_listing()
        # Set first: whatever happens below, every later entry() decodes only the entry it is asked for.
        self._all_entries = True
        with _gc_paused():
            try:
                columns, other = decode_entry_columns(listing.names, listing.data, listing.starts, listing.ends,
                                                      self.header, self.index_path, self._entry_cache, self._heads,
                                                      lenient=True)
            except FormatError:
                return  # a damaged entry: each entry is decoded on its own, so only reading that one fails
            self._columns = columns
            self._entries.update(other)
            self._small = self._small_reads(columns)
            if self._small:
                self._row_of = listing.row_of

    def _small_reads(self, c: EntryColumns) -> list[Optional[_SmallRead]]:
        """Per row: how to slice a small fixed-size tensor out of a local shard's map, or None."""
        count = len(c.whole)
        if not self._little or not count:
            return []
        shard_size = np.zeros(self.header.num_shards, np.uint64)
        used = np.flatnonzero(np.bincount(c.shard_ids[c.whole].astype(np.int64), minlength=1)).tolist()
        for shard_id in used:
            try:
                if self._shard(shard_id).buffer() is not None:
                    shard_size[shard_id] = self._shards[shard_id].size
            except FormatError:
                pass  # a missing shard: its tensors take the ordinary path, which reports it
        ends = c.offsets + c.sizes
        pick = np.flatnonzero(c.whole & (c.itemsizes > 0) & (c.sizes > 0) & (c.sizes <= _SMALL)
                              & (ends <= shard_size[np.where(c.whole, c.shard_ids, 0).astype(np.int64)]))
        if not len(pick):
            return []
        numpy_of = np.empty(len(c.kinds), object)
        numpy_of[:] = [row.numpy for row, _ in c.kinds]
        shape_of = np.empty(len(c.kinds), object)
        shape_of[:] = [shape for _, shape in c.kinds]
        kinds = c.kind_ids[pick]
        if len(self._views) == 1:
            views: list[memoryview] = list(self._views.values()) * len(pick)
        else:
            view_of = np.empty(self.header.num_shards, object)
            for shard_id, view in self._views.items():
                view_of[shard_id] = view
            views = view_of[c.shard_ids[pick].astype(np.int64)].tolist()
        reads: list[Optional[_SmallRead]] = list(zip(views, c.offsets[pick].tolist(), ends[pick].tolist(),
                                                     numpy_of[kinds].tolist(), shape_of[kinds].tolist(),
                                                     c.raw_crcs[pick].tolist()))
        if len(pick) == count:
            return reads
        rows: list[Optional[_SmallRead]] = [None] * count
        for row, read in zip(pick.tolist(), reads):
            rows[row] = read
        return rows

    def _all_names_and_entries(self) -> Iterator[tuple[str, Entry]]:
        self._load_entries()
        for name in self._load_listing().names:
            yield name, self.entry(name)

    def _raw_value(self, name: str) -> Optional[bytes]:
        if self._listing is not None:
            row = self._listing.row_of.get(name)
            return None if row is None else self._listing.value(row)
        return self._table.get(name.encode("utf-8", "surrogateescape"))

    def entry(self, name: str) -> Entry:
        """The decoded index entry of ``name`` (KeyError if absent)."""
        entry = self._entries.get(name)
        if entry is None and self._listing is not None and not self._all_entries:
            # The index was listed, so many tensors are likely to be read: decode every entry at once.
            self._load_entries()
            entry = self._entries.get(name)
        if entry is None and self._columns is not None and self._listing is not None:
            row = self._listing.row_of.get(name)
            if row is not None and self._columns.whole[row]:
                entry = self._entries[name] = self._columns.entry(row)
        if entry is None:
            value = self._raw_value(name)
            if value is None or not name:
                raise KeyError(f"{name!r} is not in checkpoint {self.prefix}")
            entry = decode_entry(name, value, self.header, self.index_path, self._entry_cache)
            self._entries[name] = entry
        return entry

    def slice_entry(self, name: str, extents: Sequence[Extent]) -> Entry:
        """The entry of one stored slice of the partitioned tensor ``name``."""
        key = encode_slice_key(name, extents)
        value = self._listing.slice_entries.get(key) if self._listing is not None else self._table.get(key)
        if value is None:
            raise FormatError(f"partitioned tensor {name!r} lists a slice that has no entry", self.index_path)
        return decode_entry(name, value, self.header, self.index_path, self._entry_cache)

    def slices_of(self, name: str) -> list[tuple[tuple[Extent, ...], Entry]]:
        """``(extents, entry)`` of every stored slice of ``name`` (empty for a tensor stored whole)."""
        return [(extents, self.slice_entry(name, extents)) for extents in self.entry(name).slices]

    def index_blocks(self) -> Iterator[tuple[list[bytes], list[bytes]] | FormatError]:
        """Keys and values of each index data block in order; a block that cannot be read comes as its error.

        For checking a damaged index block by block; readers use :meth:`raw_entries`.
        """
        for handle in self._table.index_handles:
            try:
                yield self._table.block_lists(handle)
            except FormatError as exc:
                yield exc

    def raw_entries(self) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, serialized BundleEntryProto)`` of the index in key order, header and slices included."""
        return self._table.items()

    def names(self) -> list[str]:
        """Every tensor name in the index, in stored (sorted) order."""
        return list(self._load_listing().names)

    def tensor_infos(self) -> dict[str, TensorInfo]:
        if self._infos is None:
            infos = {}
            for name, e in self._all_names_and_entries():
                if e.slices:
                    nbytes = sum(part.size for _, part in self.slices_of(name))
                else:
                    nbytes = e.size
                infos[name] = TensorInfo(name, e.dtype, e.shape, nbytes, len(e.slices))
            self._infos = infos
        return self._infos

    def keys(self) -> list[str]:
        return self.names()  # the index is sorted already

    def _dtypes_and_shapes(self) -> list[tuple[dtypes.DType, tuple[int, ...]]]:
        """Dtype and shape of every tensor in listing order, decoding only what listing needs."""
        listing = self._load_listing()
        heads = self._load_heads()
        with _gc_paused():
            return dtypes_and_shapes(listing.names, listing.data, listing.starts, listing.ends, heads,
                                     self.index_path)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        pairs = self._dtypes_and_shapes()
        with _gc_paused():
            return dict(zip(self._load_listing().names, map(list, map(_second, pairs))))

    def get_variable_to_dtype_map(self) -> dict[str, np.dtype]:
        obj = np.dtype(object)
        return {name: row.numpy if row.numpy is not None else obj for name, (row, _) in
                zip(self._load_listing().names, self._dtypes_and_shapes())}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._load_listing().row_of

    def has_tensor(self, name: str) -> bool:
        return name in self._load_listing().row_of

    def __len__(self) -> int:
        return len(self._load_listing().names)

    # -- data ----------------------------------------------------------------------------

    def _shard(self, shard_id: int) -> ByteSource:
        shard = self._shards.get(shard_id)
        if shard is None:
            path = naming.data_path(self.prefix, shard_id, self.header.num_shards)
            try:
                shard = open_source(path, storage_options=self.storage_options)
            except FileNotFoundError:
                present = naming.data_shards(self.prefix) if not is_url(self.prefix) else []
                hint = f"; present: {', '.join(os.path.basename(p) for p in present)}" if present else ""
                raise MissingShardError(
                    f"data shard {shard_id} of {self.header.num_shards} is missing{hint}", path) from None
            self._shards[shard_id] = shard
            view = shard.buffer()
            if view is not None:
                self._views[shard_id] = view
        return shard

    def open_entry(self, name: str, e: Entry) -> ByteSource:
        """The shard holding entry ``e`` of ``name``, after checking the entry lies inside it.

        Raises MissingShardError, or TruncatedError when the shard is shorter than the entry needs.
        """
        shard = self._shard(e.shard_id)
        if e.offset + e.size > shard.size:
            raise TruncatedError(
                f"tensor {name!r} needs bytes {e.offset}..{e.offset + e.size} but the shard has only "
                f"{shard.size} bytes: it is truncated, or the .index and .data files come from different saves",
                shard.path, e.offset)
        return shard

    def _mismatch(self, name: str, e: Entry, shard: ByteSource, actual: int) -> ChecksumError:
        return ChecksumError(
            f"crc32c mismatch in tensor {name!r} (stored {e.crc32c:#010x}, computed {actual:#010x}): "
            "the data file is damaged, or the .index and .data files come from different saves",
            shard.path, e.offset)

    def _read_pod_into(self, name: str, e: Entry, shard: ByteSource, dest: memoryview) -> None:
        """Fill ``dest`` with the bytes of a bounds-checked entry, verifying its checksum."""
        size = e.size
        if size == 0:
            return
        verify = self.verify_checksums
        # Remote sources fetch a large range in parallel pieces themselves: one call, then the checksum.
        if size < _SPLIT_MIN or not verify or not isinstance(shard, LocalFile) or on_worker():
            got = shard.read_into(dest, e.offset)
            crc = checksums.crc32c(dest) if verify else 0
        else:
            # Two halves, one per thread, each read and checksummed in cache-sized chunks; the CRCs combine.
            half = (size // 2) & ~(_PAGE - 1)
            second = worker("checksum").submit(_read_and_crc, shard, dest[half:], e.offset + half)
            got_first, crc_first = _read_and_crc(shard, dest[:half], e.offset)
            got_second, crc_second = second.result()
            got = got_first + got_second
            crc = checksums.crc32c_combine(crc_first, crc_second, size - half)
        if got != size:
            raise TruncatedError(f"short read of tensor {name!r}", shard.path, e.offset)
        if verify and checksums.mask(crc) != e.crc32c:
            raise self._mismatch(name, e, shard, checksums.mask(crc))

    def _read_whole(self, name: str, e: Entry, copy: bool = True) -> np.ndarray:
        """Read a tensor (or one slice) stored in one piece."""
        row = e.dtype
        shard = self.open_entry(name, e)  # before any allocation: sizes come from the file
        if row.is_pod:
            assert row.numpy is not None
            if e.size == 0:
                return np.empty(e.shape, row.numpy)
            view = self._views.get(e.shard_id)
            if not copy and self._little and view is not None:
                stored = view[e.offset:e.offset + e.size]
                if self.verify_checksums:
                    crc = checksums.mask(_split_crc(stored) if e.size >= _SPLIT_MIN else checksums.crc32c(stored))
                    if crc != e.crc32c:
                        raise self._mismatch(name, e, shard, crc)
                return np.frombuffer(stored, dtype=row.numpy).reshape(e.shape)
            out = np.empty(e.shape, row.numpy)
            self._read_pod_into(name, e, shard, out.reshape(-1).view(np.uint8).data)
            if not self._little:
                _swap_bytes(out)
            return out
        buf = bytearray(e.size)
        if shard.read_into(memoryview(buf), e.offset) != e.size:
            raise TruncatedError(f"short read of tensor {name!r}", shard.path, e.offset)
        if row.is_string:
            try:
                values, string_crc = data.decode_strings(bytes(buf), e.nelements, verify=self.verify_checksums,
                                                         name=name)
            except FormatError as exc:
                raise type(exc)(exc.detail, shard.path, e.offset) from None
            if string_crc is not None and string_crc != e.crc32c:
                raise self._mismatch(name, e, shard, string_crc)
            return data.string_array(values, e.shape)
        if row.enum == dtypes.VARIANT:
            try:
                values, crc = data.decode_variants(bytes(buf), e.nelements, name=name)
            except FormatError as exc:
                raise type(exc)(exc.detail, shard.path, e.offset) from None
            if self.verify_checksums and crc != e.crc32c:
                raise self._mismatch(name, e, shard, crc)
            return data.string_array(values, e.shape)
        raise FormatError(f"tensor {name!r} has dtype {row.proto_name}, which cannot be read", shard.path)

    def read_entry(self, name: str, e: Entry) -> np.ndarray:
        """The value of one stored piece of ``name``: the whole tensor, or one slice from :meth:`slices_of`."""
        return self._read_whole(name, e)

    def _planned_slices(self, name: str, e: Entry) -> list[tuple[tuple[int, ...], tuple[int, ...], Entry]]:
        """``(starts, lengths, entry)`` of every slice, checked before anything is allocated.

        Each slice must have the tensor's dtype, its own shape, lie inside the tensor and inside its shard,
        and together the slices must tile the tensor exactly: no element twice, none missing.
        """
        row = e.dtype
        plan = []
        for extents in e.slices:
            try:
                starts, lengths = resolve(extents, e.shape)
            except FormatError as exc:
                raise FormatError(f"tensor {name!r}: {exc.detail}", self.index_path) from None
            part = self.slice_entry(name, extents)
            if part.dtype.enum != row.enum or part.shape != lengths:
                raise FormatError(f"slice of tensor {name!r} is {part.dtype.tf_name}{list(part.shape)}, "
                                  f"expected {row.tf_name}{list(lengths)}", self.index_path)
            self.open_entry(name, part)
            plan.append((starts, lengths, part))
        try:
            check_tiling(e.shape, [(s, n) for s, n, _ in plan])
        except FormatError as exc:
            raise FormatError(f"slices of tensor {name!r}: {exc.detail}", self.index_path) from None
        return plan

    def _read_sliced(self, name: str, e: Entry) -> np.ndarray:
        row = e.dtype
        plan = self._planned_slices(name, e)
        out = np.empty(e.shape, row.numpy if row.numpy is not None else object)
        for starts, lengths, part in plan:
            target = out[region(starts, lengths)]
            if row.is_pod and target.flags.c_contiguous and self._little:
                # Rows of a C-order array: read straight into the output.
                self._read_pod_into(name, part, self._shard(part.shard_id), target.reshape(-1).view(np.uint8).data)
            else:
                target[...] = self._read_whole(name, part)
        return out

    def check_data(self, name: str, e: Entry) -> None:
        """Verify one entry's stored bytes against its checksum without keeping them.

        Raises MissingShardError, TruncatedError (bytes past the end of the shard), FormatError (malformed
        strings) or ChecksumError.
        """
        if e.slices:
            return
        shard = self.open_entry(name, e)
        if e.dtype.itemsize:
            crc = 0
            end = e.offset + e.size
            view = self._views.get(e.shard_id)
            scratch = memoryview(bytearray(min(_CHUNK, e.size))) if view is None else None
            for start in range(e.offset, end, _CHUNK):
                stop = min(start + _CHUNK, end)
                if view is not None:
                    crc = checksums.crc32c(view[start:stop], crc)
                else:
                    assert scratch is not None
                    piece = scratch[:stop - start]
                    if shard.read_into(piece, start) != len(piece):
                        raise TruncatedError(f"short read of tensor {name!r}", shard.path, start)
                    crc = checksums.crc32c(piece, crc)
            masked = checksums.mask(crc)
            if masked != e.crc32c:
                raise self._mismatch(name, e, shard, masked)
            return
        verify = self.verify_checksums
        self.verify_checksums = True
        try:
            self._read_whole(name, e)
        finally:
            self.verify_checksums = verify

    def get_tensor(self, name: str, *, copy: bool = True) -> np.ndarray:
        """The value of tensor ``name``.

        With ``copy=True`` (the default) the array is new, writable and owned by
        the caller. With ``copy=False`` a whole, little-endian, fixed-size tensor
        comes back as a read-only view of the memory-mapped shard (no copy; the
        checksum is still verified unless the reader was opened without it).
        """
        # The common case, kept inline: a small fixed-size tensor stored whole in a local little-endian shard.
        at = self._row_of.get(name)
        if at is None and not self._all_entries and self._listing is not None:
            self._load_entries()  # the index was listed: decode every entry at once, then look again
            at = self._row_of.get(name)
        small = self._small[at] if at is not None else None
        if small is not None:
            view, start, end, numpy_dtype, shape, raw_crc = small
            chunk = view[start:end]
            if self.verify_checksums and crc32c_raw(chunk) != raw_crc:
                e = self.entry(name)
                raise self._mismatch(name, e, self._shards[e.shard_id], checksums.masked_crc32c(chunk))
            if copy:
                return np.ndarray(shape, numpy_dtype, bytearray(chunk))
            return np.ndarray(shape, numpy_dtype, chunk)
        e = self._entries.get(name) or self.entry(name)
        row, shape, shard_id, offset, size, crc, slices = e
        if size <= _SMALL and row.itemsize and self._little and not slices:
            self._shard(shard_id)
            shard_view = self._views.get(shard_id)
            end = offset + size
            if shard_view is not None and end <= len(shard_view) and size:
                chunk = shard_view[offset:end]
                if self.verify_checksums:
                    actual = crc32c_raw(chunk)
                    if ((((actual >> 15) | (actual << 17)) + MASK_DELTA) & 0xFFFFFFFF) != crc:  # checksums.mask
                        raise self._mismatch(name, e, self._shards[shard_id], checksums.mask(actual))
                if copy:
                    return np.ndarray(shape, row.numpy, bytearray(chunk))
                return np.ndarray(shape, row.numpy, chunk)
        if slices:
            return self._read_sliced(name, e)
        return self._read_whole(name, e, copy=copy)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, value)`` for every tensor in name order, each a new array.

        Before a tensor is read, the next large one is announced to its shard (``ByteSource.prefetch``), so a
        remote shard fetches it while this one is checked. Local files get no hint: on warm and cold reads
        alike, ``POSIX_FADV_WILLNEED`` made them slower than the kernel's own readahead.
        """
        self._load_entries()
        names = self.names()
        for i, name in enumerate(names):
            if i + 1 < len(names):
                nxt = self.entry(names[i + 1])
                if nxt.size > _SMALL and not nxt.slices:
                    self.open_entry(names[i + 1], nxt).prefetch([(nxt.offset, nxt.size)])
            yield name, self.get_tensor(name)

    def close(self) -> None:
        self._views.clear()
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
        self._table.close()
