"""Read TensorBundle (V2) checkpoints: ``<prefix>.index`` plus ``.data`` shards."""

from __future__ import annotations

import mmap
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator, Optional

import numpy as np

from .. import checksums, dtypes
from ..checkpoint.interface import CheckpointReader, TensorInfo
from ..errors import ChecksumError, FormatError, MissingShardError, PathLike
from ..table import TableReader
from . import data, naming
from .entries import BIG_ENDIAN, HEADER_KEY, Entry, Header, decode_dtype_and_shape, decode_entry, decode_header
from .slices import encode_slice_key, region, resolve

# Tensors larger than this are read in chunks, with the checksum of one chunk
# computed on a second thread while the next chunk is read.
_PIPELINE_MIN = 8 << 20
# Tensors up to this size are copied straight out of the memory map.
_SMALL = 1 << 20
_CHUNK = 2 << 20
_executor: Optional[ThreadPoolExecutor] = None
_executor_lock = threading.Lock()


def _crc_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfformats-crc")
        return _executor


_prefetcher: Optional[ThreadPoolExecutor] = None


def _prefetch_executor() -> ThreadPoolExecutor:
    global _prefetcher
    with _executor_lock:
        if _prefetcher is None:
            _prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfformats-read")
        return _prefetcher


def _chained_crc(chunk: memoryview, prev: Optional[Future[int]]) -> int:
    """CRC-32C of ``chunk``, continuing from the CRC ``prev`` computes (0 when None)."""
    return checksums.crc32c(chunk, prev.result() if prev is not None else 0)


def _pread_into(fd: int, dest: memoryview, offset: int) -> int:
    """Fill ``dest`` from ``fd`` at ``offset``; return the number of bytes read."""
    done = 0
    total = len(dest)
    while done < total:
        n = os.preadv(fd, [dest[done:]], offset + done)
        if n <= 0:
            break
        done += n
    return done


class _Shard:
    def __init__(self, path: str) -> None:
        self.path = path
        self.file = open(path, "rb")
        self.fd = self.file.fileno()
        self.size = os.fstat(self.fd).st_size
        self._map: Optional[mmap.mmap] = None
        self._view: Optional[memoryview] = None

    @property
    def map(self) -> mmap.mmap:
        if self._map is None:
            self._map = mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ) if self.size else mmap.mmap(-1, 1)
        return self._map

    @property
    def view(self) -> memoryview:
        """A memoryview of the whole mapped shard."""
        if self._view is None:
            self._view = memoryview(self.map)
        return self._view

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass  # arrays still view the map; it is released with them
        self.file.close()


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

    def __init__(self, prefix: PathLike, *, verify_checksums: bool = True) -> None:
        self.prefix = os.fspath(prefix)
        self.verify_checksums = verify_checksums
        self.index_path = naming.index_path(self.prefix)
        self._table = TableReader(self.index_path, verify_checksums=verify_checksums)
        first = self._table.first()
        if first is None or first[0] != HEADER_KEY:
            raise FormatError("bundle index has no header entry (the empty key must come first)", self.index_path)
        if first[1][:1] == b"\x0a":
            raise FormatError("this table holds a V1 checkpoint, not a V2 bundle index", self.index_path)
        self.header: Header = decode_header(first[1], self.index_path)
        self._raw: Optional[dict[str, bytes]] = None
        self._slice_raw: dict[bytes, bytes] = {}
        self._entries: dict[str, Entry] = {}
        self._shape_cache: dict[bytes, tuple[dtypes.DType, tuple[int, ...]]] = {}
        self._entry_cache: dict[bytes, tuple[dtypes.DType, tuple[int, ...], int]] = {}
        self._infos: Optional[dict[str, TensorInfo]] = None
        self._shards: dict[int, _Shard] = {}

    # -- entries ------------------------------------------------------------------------

    def _load_raw(self) -> dict[str, bytes]:
        if self._raw is None:
            raw: dict[str, bytes] = {}
            for keys, values in self._table.iter_blocks():
                start = 0
                # The header and slice keys (0x00 first) sort before every tensor name.
                while start < len(keys) and (not keys[start] or keys[start][0] == 0):
                    if keys[start]:
                        self._slice_raw[keys[start]] = values[start]
                    start += 1
                if start:
                    keys, values = keys[start:], values[start:]
                try:
                    raw.update(zip([k.decode() for k in keys], values))
                except UnicodeDecodeError:
                    raw.update(zip([k.decode("utf-8", "surrogateescape") for k in keys], values))
            self._raw = raw
        return self._raw

    def _raw_value(self, name: str) -> Optional[bytes]:
        if self._raw is not None:
            return self._raw.get(name)
        return self._table.get(name.encode("utf-8", "surrogateescape"))

    def entry(self, name: str) -> Entry:
        """The decoded index entry of ``name`` (KeyError if absent)."""
        entry = self._entries.get(name)
        if entry is None:
            value = self._raw_value(name)
            if value is None or not name:
                raise KeyError(f"{name!r} is not in checkpoint {self.prefix}")
            entry = decode_entry(name, value, self.header, self.index_path, self._entry_cache)
            self._entries[name] = entry
        return entry

    def _slice_entry(self, name: str, key: bytes) -> Entry:
        value = self._slice_raw.get(key) if self._raw is not None else self._table.get(key)
        if value is None:
            raise FormatError(f"partitioned tensor {name!r} lists a slice that has no entry", self.index_path)
        return decode_entry(name, value, self.header, self.index_path, self._entry_cache)

    def names(self) -> list[str]:
        """Every tensor name in the index, unsorted work avoided (keys are stored sorted)."""
        return list(self._load_raw())

    def tensor_infos(self) -> dict[str, TensorInfo]:
        if self._infos is None:
            infos = {}
            for name in self._load_raw():
                e = self.entry(name)
                if e.slices:
                    nbytes = sum(self._slice_entry(name, encode_slice_key(name, s)).size for s in e.slices)
                else:
                    nbytes = e.size
                infos[name] = TensorInfo(name, e.dtype, e.shape, nbytes, len(e.slices))
            self._infos = infos
        return self._infos

    def keys(self) -> list[str]:
        return self.names()  # the index is sorted already

    def _dtypes_and_shapes(self) -> dict[str, tuple[dtypes.DType, tuple[int, ...]]]:
        """Dtype and shape of every tensor, decoding only what listing needs."""
        if self._infos is not None:
            return {name: (info.dtype, info.shape) for name, info in self._infos.items()}
        cache = self._shape_cache
        path = self.index_path
        return {name: decode_dtype_and_shape(name, value, path, cache) for name, value in self._load_raw().items()}

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {name: list(shape) for name, (_, shape) in self._dtypes_and_shapes().items()}

    def get_variable_to_dtype_map(self) -> dict[str, np.dtype]:
        obj = np.dtype(object)
        return {name: row.numpy if row.numpy is not None else obj
                for name, (row, _) in self._dtypes_and_shapes().items()}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._load_raw()

    def has_tensor(self, name: str) -> bool:
        return name in self._load_raw()

    def __len__(self) -> int:
        return len(self._load_raw())

    # -- data ----------------------------------------------------------------------------

    def _shard(self, shard_id: int) -> _Shard:
        shard = self._shards.get(shard_id)
        if shard is None:
            path = naming.data_path(self.prefix, shard_id, self.header.num_shards)
            try:
                shard = _Shard(path)
            except FileNotFoundError:
                present = naming.data_shards(self.prefix)
                hint = f"; present: {', '.join(os.path.basename(p) for p in present)}" if present else ""
                raise MissingShardError(
                    f"data shard {shard_id} of {self.header.num_shards} is missing{hint}", path) from None
            self._shards[shard_id] = shard
        return shard

    def _checked_shard(self, name: str, e: Entry) -> _Shard:
        shard = self._shard(e.shard_id)
        if e.offset + e.size > shard.size:
            raise FormatError(
                f"tensor {name!r} needs bytes {e.offset}..{e.offset + e.size} but the shard has only "
                f"{shard.size} bytes: it is truncated, or the .index and .data files come from different saves",
                shard.path, e.offset)
        return shard

    def _mismatch(self, name: str, e: Entry, shard: _Shard, actual: int) -> ChecksumError:
        return ChecksumError(
            f"crc32c mismatch in tensor {name!r} (stored {e.crc32c:#010x}, computed {actual:#010x}): "
            "the data file is damaged, or the .index and .data files come from different saves",
            shard.path, e.offset)

    def _read_pod_into(self, name: str, e: Entry, dest: memoryview) -> None:
        shard = self._checked_shard(name, e)
        size = e.size
        if size == 0:
            return
        verify = self.verify_checksums
        if size < _PIPELINE_MIN or not verify:
            got = _pread_into(shard.fd, dest, e.offset)
            crc = checksums.crc32c(dest) if verify else 0
        else:
            executor = _crc_executor()
            future: Optional[Future[int]] = None
            got = 0
            for start in range(0, size, _CHUNK):
                chunk = dest[start:start + _CHUNK]
                got += _pread_into(shard.fd, chunk, e.offset + start)
                prev = future
                future = executor.submit(_chained_crc, chunk, prev)
            crc = future.result() if future is not None else 0
        if got != size:
            raise FormatError(f"short read of tensor {name!r}", shard.path, e.offset)
        if verify and checksums.mask(crc) != e.crc32c:
            raise self._mismatch(name, e, shard, checksums.mask(crc))

    def _read_whole(self, name: str, e: Entry, copy: bool = True) -> np.ndarray:
        """Read a tensor (or one slice) stored in one piece."""
        row = e.dtype
        if row.is_pod:
            assert row.numpy is not None
            if not copy and self.header.endianness != BIG_ENDIAN:
                shard = self._checked_shard(name, e)
                if e.size == 0:
                    return np.empty(e.shape, row.numpy)
                view = memoryview(shard.map)[e.offset:e.offset + e.size]
                if self.verify_checksums:
                    crc = checksums.mask(checksums.crc32c(view))
                    if crc != e.crc32c:
                        raise self._mismatch(name, e, shard, crc)
                return np.frombuffer(view, dtype=row.numpy).reshape(e.shape)
            out = np.empty(e.shape, row.numpy)
            self._read_pod_into(name, e, out.reshape(-1).view(np.uint8).data)
            if self.header.endianness == BIG_ENDIAN:
                _swap_bytes(out)
            return out
        shard = self._checked_shard(name, e)
        buf = bytearray(e.size)
        if _pread_into(shard.fd, memoryview(buf), e.offset) != e.size:
            raise FormatError(f"short read of tensor {name!r}", shard.path, e.offset)
        if row.is_string:
            try:
                values, string_crc = data.decode_strings(bytes(buf), e.nelements, verify=self.verify_checksums,
                                                         name=name)
            except FormatError as exc:
                raise FormatError(exc.detail, shard.path, e.offset) from None
            if string_crc is not None and string_crc != e.crc32c:
                raise self._mismatch(name, e, shard, string_crc)
            return data.string_array(values, e.shape)
        if row.enum == dtypes.VARIANT:
            try:
                values, crc = data.decode_variants(bytes(buf), e.nelements, name=name)
            except FormatError as exc:
                raise FormatError(exc.detail, shard.path, e.offset) from None
            if self.verify_checksums and crc != e.crc32c:
                raise self._mismatch(name, e, shard, crc)
            return data.string_array(values, e.shape)
        raise FormatError(f"tensor {name!r} has dtype {row.proto_name}, which cannot be read", shard.path)

    def _read_sliced(self, name: str, e: Entry) -> np.ndarray:
        row = e.dtype
        out = np.empty(e.shape, row.numpy if row.numpy is not None else object)
        covered = 0
        for extents in e.slices:
            try:
                starts, lengths = resolve(extents, e.shape)
            except FormatError as exc:
                raise FormatError(f"tensor {name!r}: {exc.detail}", self.index_path) from None
            part = self._slice_entry(name, encode_slice_key(name, extents))
            if part.dtype.enum != row.enum or part.shape != lengths:
                raise FormatError(f"slice of tensor {name!r} is {part.dtype.tf_name}{list(part.shape)}, "
                                  f"expected {row.tf_name}{list(lengths)}", self.index_path)
            target = out[region(starts, lengths)]
            if row.is_pod and target.flags.c_contiguous and self.header.endianness != BIG_ENDIAN:
                # Rows of a C-order array: read straight into the output.
                self._read_pod_into(name, part, target.reshape(-1).view(np.uint8).data)
            else:
                target[...] = self._read_whole(name, part)
            covered += part.nelements
        if covered != e.nelements:
            raise FormatError(f"slices of tensor {name!r} cover {covered} of its {e.nelements} elements",
                              self.index_path)
        return out

    def _read_small(self, name: str, e: Entry, copy: bool) -> np.ndarray:
        """A little-endian POD tensor small enough to copy out of the map in one go."""
        shard = self._shards.get(e.shard_id) or self._shard(e.shard_id)
        end = e.offset + e.size
        if end > shard.size:
            self._checked_shard(name, e)  # raises, explaining the truncation
        data = shard.view[e.offset:end]
        if self.verify_checksums:
            crc = checksums.mask(checksums.crc32c(data))
            if crc != e.crc32c:
                raise self._mismatch(name, e, shard, crc)
        arr = np.frombuffer(data, e.dtype.numpy).reshape(e.shape)
        # The copy is made after the check; the shard is read-only, so the bytes cannot change in between.
        return arr.copy() if copy else arr

    def check_data(self, name: str, e: Entry) -> None:
        """Verify one entry's stored bytes against its checksum without keeping them.

        Raises MissingShardError, FormatError (bytes past the end of the shard,
        malformed strings) or ChecksumError.
        """
        if e.slices:
            return
        if e.dtype.itemsize:
            shard = self._checked_shard(name, e)
            view = shard.view
            crc = 0
            end = e.offset + e.size
            for start in range(e.offset, end, _CHUNK):
                crc = checksums.crc32c(view[start:min(start + _CHUNK, end)], crc)
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
        e = self._entries.get(name)
        if e is None:
            e = self.entry(name)
        if e.slices:
            return self._read_sliced(name, e)
        if e.size <= _SMALL and e.dtype.itemsize and self.header.endianness != BIG_ENDIAN:
            return self._read_small(name, e, copy)
        return self._read_whole(name, e, copy=copy)

    def _prefetchable(self, e: Entry) -> bool:
        return (not e.slices and e.dtype.is_pod and e.size > _SMALL and self.verify_checksums
                and self.header.endianness != BIG_ENDIAN)

    def _fetch(self, name: str, e: Entry) -> tuple[np.ndarray, int]:
        """Read the bytes of a whole POD tensor without checking them (runs on the read thread)."""
        shard = self._checked_shard(name, e)
        assert e.dtype.numpy is not None
        out = np.empty(e.shape, e.dtype.numpy)
        return out, _pread_into(shard.fd, out.reshape(-1).view(np.uint8).data, e.offset)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, value)`` for every tensor in name order, each a new array.

        Large tensors are read ahead on a second thread: while one tensor's
        checksum is verified here, the next one is already being read.
        """
        names = self.keys()
        for shard_id in range(self.header.num_shards):
            self._shard(shard_id)  # open every shard here, not on the read thread
        executor = _prefetch_executor()
        pending: Optional[Future[tuple[np.ndarray, int]]] = None
        pending_name = ""
        for i, name in enumerate(names):
            e = self.entry(name)
            if pending is not None and pending_name == name:
                future, pending = pending, None
            else:
                future = None
            # Start reading the next large tensor before working on this one.
            if i + 1 < len(names):
                nxt = self.entry(names[i + 1])
                if self._prefetchable(nxt):
                    pending, pending_name = executor.submit(self._fetch, names[i + 1], nxt), names[i + 1]
            if future is None:
                yield name, self.get_tensor(name)
                continue
            out, got = future.result()
            shard = self._shards[e.shard_id]
            if got != e.size:
                raise FormatError(f"short read of tensor {name!r}", shard.path, e.offset)
            crc = checksums.mask(checksums.crc32c(out.reshape(-1).view(np.uint8).data))
            if crc != e.crc32c:
                raise self._mismatch(name, e, shard, crc)
            yield name, out
        if pending is not None:
            pending.result()

    def close(self) -> None:
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
        self._table.close()
