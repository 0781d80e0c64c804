"""Write TensorBundle (V2) checkpoints one tensor at a time.

The layout matches TensorFlow's own bundle writer: tensor bytes are packed into
``.data`` shards in the order they are added, the ``.index`` table lists every
entry sorted by key behind the header, and both are written under temporary
names and renamed into place only when the whole checkpoint is complete (data
shards first, the index last, since the index is what makes a prefix exist).

A URL prefix (``s3://bucket/run/model.ckpt``) is written the same way into a
local staging folder; when complete, an index already at the URL is deleted,
the data shards are uploaded, and the index is uploaded last. Object stores
have no rename, so this order is what keeps a failed upload from leaving an
index that names missing or mixed data.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from typing import BinaryIO, Iterable, NamedTuple, Optional, Sequence, Union

import numpy as np

from .. import checksums, dtypes
from ..dtypes import DType, DTypeLike, as_dtype
from ..errors import ArgumentError, ChecksumError, PathLike
from ..table.writer import TableWriter
from . import data, naming
from .._io import transfer
from .._io.source import StorageOptions, is_url, local_path
from .entries import HEADER_KEY, Entry, encode_entry, encode_header
from .slices import FULL, Extent, encode_slice_key, is_full, resolve


Buffer = Union[bytes, bytearray, memoryview]

_TEMP_MARK = ".tempstate"


def _key(name: str) -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"tensor names are str, got {type(name).__name__}")
    if not name:
        raise ArgumentError("the empty name is reserved for the bundle header")
    return name.encode("utf-8", "surrogateescape")


def _to_bytes(item: object) -> bytes:
    while isinstance(item, np.ndarray) and item.shape == ():
        item = item[()]  # a scalar wrapped in a 0-d array
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode("utf-8")
    raise TypeError(f"string tensors hold bytes or str, got {type(item).__name__}")


class Prepared(NamedTuple):
    """A value laid out for a data file: its dtype row, shape and bytes (plus crc when known)."""

    dtype: DType
    shape: tuple[int, ...]
    payload: Buffer
    crc32c: Optional[int]  # masked; None means "compute from payload"


def prepare(value: object, dtype: DTypeLike = None) -> Prepared:
    """Lay out one tensor value the way a bundle stores it."""
    row = as_dtype(dtype)
    if row is None:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        row = dtypes.from_numpy(arr.dtype)
    if row.enum == dtypes.RESOURCE:
        raise ArgumentError("DT_RESOURCE tensors cannot be stored in a checkpoint")
    if row.is_string or row.enum == dtypes.VARIANT:
        arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
        items = [_to_bytes(x) for x in arr.reshape(-1).tolist()]
        encode = data.encode_strings if row.is_string else data.encode_variants
        payload, crc = encode(items)
        return Prepared(row, tuple(int(d) for d in arr.shape), payload, crc)
    assert row.numpy is not None
    arr = np.asarray(value)
    if arr.dtype != row.numpy:
        if arr.dtype.kind in "SUO":
            raise TypeError(f"cannot store a {arr.dtype} array as {row.tf_name}")
        arr = arr.astype(row.numpy)  # also turns big-endian input little-endian
    shape = tuple(int(d) for d in arr.shape)
    flat = np.ascontiguousarray(arr).reshape(-1)  # (ascontiguousarray turns a scalar into 1-d)
    raw = flat.view(np.uint8).data if flat.size else memoryview(b"")
    return Prepared(row, shape, raw, None)


class _Sliced(NamedTuple):
    dtype: DType
    shape: tuple[int, ...]
    slices: list[tuple[Extent, ...]]


class BundleWriter:
    """Stream tensors into a new V2 checkpoint at ``prefix``.

    Use as a context manager: the checkpoint appears only when the block
    exits without an exception; otherwise the temporary files are removed.

    Example:
        >>> with BundleWriter("out/model.ckpt") as w:
        ...     w.add("dense/kernel", np.ones((3, 4), np.float32))
        ...     w.add("names", np.array([b"a", b"bc"], dtype=object))
    """

    def __init__(self, prefix: PathLike, *, num_shards: int = 1, storage_options: StorageOptions = None) -> None:
        if num_shards < 1:
            raise ArgumentError(f"num_shards must be at least 1, got {num_shards}")
        self.prefix = os.fspath(prefix)
        self.num_shards = num_shards
        self.storage_options = storage_options
        # A URL checkpoint is staged in a private local folder and uploaded by finish().
        self._stage: Optional[str] = None
        token = _TEMP_MARK + str(secrets.randbits(63))
        if is_url(self.prefix):
            self._stage = tempfile.mkdtemp(prefix="tfformats-upload-")
            staged = os.path.join(self._stage, "bundle")
            self._temp_data = [naming.data_path(staged, i, num_shards) for i in range(num_shards)]
            self._temp_index = naming.index_path(staged)
        else:
            self.prefix = local_path(self.prefix)
            folder = os.path.dirname(self.prefix)
            if folder:
                os.makedirs(folder, exist_ok=True)
            self._temp_data = [p + token for p in
                               [naming.data_path(self.prefix, i, num_shards) for i in range(num_shards)]]
            self._temp_index = naming.index_path(self.prefix) + token
        self._final_data = [naming.data_path(self.prefix, i, num_shards) for i in range(num_shards)]
        self._files: list[Optional[BinaryIO]] = []
        try:
            for path in self._temp_data:
                self._files.append(open(path, "wb"))
        except BaseException:
            self.abort()
            raise
        self._sizes = [0] * num_shards
        self._entries: dict[bytes, Entry] = {}
        self._sliced: dict[bytes, _Sliced] = {}
        self._done = False

    # -- adding tensors ---------------------------------------------------------------------

    def add(self, name: str, value: object, *, dtype: DTypeLike = None, shard: Optional[int] = None) -> Entry:
        """Store a whole tensor under ``name``; returns its index entry.

        ``dtype`` picks the stored type when the numpy dtype is ambiguous
        (``qint8`` for an int8 array) or the value should be converted.
        """
        key = _key(name)
        self._check_new(key, name)
        prepared = prepare(value, dtype)
        return self._store(key, prepared.dtype, prepared.shape, [prepared.payload], prepared.crc32c, shard)

    def add_slice(self, name: str, full_shape: Sequence[int], extents: Sequence[Extent | tuple[int, int]],
                  value: object, *, dtype: DTypeLike = None, shard: Optional[int] = None) -> Entry:
        """Store one slice of a partitioned tensor (like a saver given a ``shape_and_slice``).

        An extent is ``(start, length)``; a length of -1 means the whole dimension.
        A slice that covers the whole tensor is stored as a plain entry, as TensorFlow does.
        """
        prepared = prepare(value, dtype)
        return self._add_slice_prepared(name, full_shape, extents, prepared, shard)

    def add_raw(self, name: str, dtype: DTypeLike, shape: Sequence[int], chunks: Iterable[Buffer], *,
                slice_of: Optional[tuple[Sequence[int], Sequence[Extent | tuple[int, int]]]] = None,
                shard: Optional[int] = None) -> Entry:
        """Store bytes already in bundle layout (for copying entries between checkpoints).

        ``chunks`` are written as they come, so a tensor larger than memory can
        be copied; the entry's crc32c is computed over them. With
        ``slice_of=(full_shape, extents)`` the bytes are one slice of ``name``.
        """
        row, shape_t, key = self._prepare_key("add_raw", name, dtype, shape, slice_of)
        return self._store(key, row, shape_t, chunks, None, shard)

    def _prepare_key(self, what: str, name: str, dtype: DTypeLike, shape: Sequence[int],
                     slice_of: Optional[tuple[Sequence[int], Sequence[Extent | tuple[int, int]]]]
                     ) -> tuple[DType, tuple[int, ...], bytes]:
        """Dtype row, shape and index key of a tensor (or slice) about to be stored."""
        row = as_dtype(dtype)
        if row is None:
            raise ArgumentError(f"{what} needs a dtype")
        shape_t = tuple(int(d) for d in shape)
        if slice_of is not None:
            return row, shape_t, self._slice_key(name, slice_of[0], slice_of[1], row)
        key = _key(name)
        self._check_new(key, name)
        return row, shape_t, key

    def add_file_range(self, name: str, dtype: DTypeLike, shape: Sequence[int], src_fd: int, offset: int,
                       size: int, crc32c: int, *, src_path: str = "", verify: bool = True,
                       slice_of: Optional[tuple[Sequence[int], Sequence[Extent | tuple[int, int]]]] = None,
                       shard: Optional[int] = None) -> Entry:
        """Store ``size`` bytes of an open file at ``offset``, already in bundle layout, whose crc is known.

        This is how an unchanged tensor moves from one checkpoint to another:
        large ranges are copied inside the kernel (no pass through Python) while
        their crc32c is checked against ``crc32c`` (masked, as stored in an
        index) on a second thread; ``verify=False`` skips the check. A mismatch
        raises ChecksumError naming ``src_path`` and ``name``. A large range may
        be preceded by a gap of up to ``transfer.COPY_ALIGN`` zero bytes that no
        entry points at (readers, TensorFlow's included, only follow offsets).
        """
        row, shape_t, key = self._prepare_key("add_file_range", name, dtype, shape, slice_of)
        if self._done:
            raise ArgumentError(f"the writer of {self.prefix} is closed")
        shard_id = self._pick_shard(shard)
        f = self._files[shard_id]
        assert f is not None
        self._check_size(key, row, shape_t, size)
        if size >= transfer.KERNEL_COPY_MIN:
            # A gap (zeros, never read) lines the copy up with its source; see transfer.COPY_ALIGN.
            gap = (offset - self._sizes[shard_id]) % transfer.COPY_ALIGN
            if gap:
                f.write(bytes(gap))
                self._sizes[shard_id] += gap
        start = self._sizes[shard_id]
        actual = transfer.append_range(f, src_fd, offset, size, path=src_path, checksum=verify)
        self._sizes[shard_id] += size
        if actual is not None and checksums.mask(actual) != crc32c:
            raise ChecksumError(f"crc32c mismatch in tensor {name!r} (stored {crc32c:#010x}, computed "
                                f"{checksums.mask(actual):#010x}): the source data file is damaged",
                                src_path, offset)
        entry = Entry(row, shape_t, shard_id, start, size, crc32c, ())
        self._entries[key] = entry
        return entry

    # -- internals --------------------------------------------------------------------------

    def _check_new(self, key: bytes, name: str) -> None:
        if self._done:
            raise ArgumentError(f"cannot add {name!r}: the writer of {self.prefix} is closed")
        if key in self._entries or key in self._sliced:
            raise ArgumentError(f"tensor {name!r} was already added to {self.prefix}")

    def _add_slice_prepared(self, name: str, full_shape: Sequence[int],
                            extents: Sequence[Extent | tuple[int, int]], prepared: Prepared,
                            shard: Optional[int]) -> Entry:
        key = self._slice_key(name, full_shape, extents, prepared.dtype)
        return self._store(key, prepared.dtype, prepared.shape, [prepared.payload], prepared.crc32c, shard)

    def _slice_key(self, name: str, full_shape: Sequence[int], extents: Sequence[Extent | tuple[int, int]],
                   row: DType) -> bytes:
        """Register a slice of ``name`` and return the key its bytes go under."""
        key = _key(name)
        full = tuple(int(d) for d in full_shape)
        exts = tuple(Extent(int(s), int(n)) for s, n in extents)
        resolve(exts, full)  # validates rank and bounds
        if is_full(exts, full):
            self._check_new(key, name)
            return key
        if self._done:
            raise ArgumentError(f"cannot add {name!r}: the writer of {self.prefix} is closed")
        if key in self._entries:
            raise ArgumentError(f"tensor {name!r} was already added whole to {self.prefix}")
        sliced = self._sliced.get(key)
        if sliced is None:
            sliced = self._sliced[key] = _Sliced(row, full, [])
        elif sliced.dtype.enum != row.enum or sliced.shape != full:
            raise ArgumentError(f"slice of {name!r} is {row.tf_name} of full shape {list(full)}, earlier slices said "
                             f"{sliced.dtype.tf_name} {list(sliced.shape)}")
        slice_key = encode_slice_key(key, exts)
        if slice_key in self._entries:
            raise ArgumentError(f"slice {[tuple(e) for e in exts]} of {name!r} was already added")
        sliced.slices.append(exts)
        return slice_key

    def _pick_shard(self, shard: Optional[int]) -> int:
        if shard is None:
            return min(range(self.num_shards), key=lambda i: self._sizes[i])
        if not 0 <= shard < self.num_shards:
            raise ArgumentError(f"shard {shard} out of range for {self.num_shards} shards")
        return shard

    def _store(self, key: bytes, row: DType, shape: tuple[int, ...], chunks: Iterable[Buffer],
               crc: Optional[int], shard: Optional[int]) -> Entry:
        if self._done:
            raise ArgumentError(f"the writer of {self.prefix} is closed")
        shard_id = self._pick_shard(shard)
        f = self._files[shard_id]
        assert f is not None
        offset = self._sizes[shard_id]
        size = 0
        running = 0
        for chunk in chunks:
            n = len(chunk) if not isinstance(chunk, memoryview) else chunk.nbytes
            if not n:
                continue
            if crc is None and n >= transfer.KERNEL_COPY_MIN:
                # The checksum of a large buffer runs on the second thread while it is written.
                pending = transfer.crc32c_in_background(chunk, running)
                try:
                    transfer.write_all(f, chunk)
                finally:
                    running = pending.result()
            else:
                transfer.write_all(f, chunk)
                if crc is None:
                    running = checksums.crc32c(chunk, running)
            size += n
        self._sizes[shard_id] += size
        self._check_size(key, row, shape, size)
        entry = Entry(row, shape, shard_id, offset, size, checksums.mask(running) if crc is None else crc, ())
        self._entries[key] = entry
        return entry

    @staticmethod
    def _check_size(key: bytes, row: DType, shape: tuple[int, ...], size: int) -> None:
        if row.is_pod:
            count = 1
            for d in shape:
                count *= d
            if size != count * row.itemsize:
                raise ArgumentError(f"{key!r}: {size} bytes given for {row.tf_name}{list(shape)}")

    # -- finishing --------------------------------------------------------------------------

    @property
    def bytes_written(self) -> int:
        return sum(self._sizes)

    def finish(self) -> str:
        """Close the data shards, write the index, move everything into place; return the prefix."""
        if self._done:
            return self.prefix
        try:
            for f in self._files:
                if f is not None:
                    f.close()
            entries = dict(self._entries)
            for key, sliced in self._sliced.items():
                entries[key] = Entry(sliced.dtype, sliced.shape, 0, 0, 0, 0, tuple(sliced.slices))
            with open(self._temp_index, "wb") as f:
                table = TableWriter(f, path=self._temp_index)
                table.add(HEADER_KEY, encode_header(self.num_shards))
                for key in sorted(entries):
                    table.add(key, encode_entry(entries[key]))
                table.finish()
            if self._stage is not None:
                self._upload()
            else:
                for temp, final in zip(self._temp_data, self._final_data):
                    os.replace(temp, final)
                os.replace(self._temp_index, naming.index_path(self.prefix))
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._remove_stage()
        return self.prefix

    def _upload(self) -> None:
        """Publish a staged URL checkpoint: old index deleted, data shards uploaded, the index last."""
        from .._io import fs
        from .._io.atomic import upload

        final_index = naming.index_path(self.prefix)
        fs.remove(final_index, storage_options=self.storage_options)
        for temp, final in zip(self._temp_data, self._final_data):
            upload(temp, final, storage_options=self.storage_options)
        upload(self._temp_index, final_index, storage_options=self.storage_options)

    def _remove_stage(self) -> None:
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None

    def abort(self) -> None:
        """Discard everything written so far; the target prefix is left as it was."""
        self._done = True
        for f in self._files:
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        for path in [*self._temp_data, self._temp_index]:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        self._remove_stage()

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


__all__ = ["BundleWriter", "Prepared", "prepare", "as_dtype", "FULL"]
