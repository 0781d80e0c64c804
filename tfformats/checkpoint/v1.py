"""Read legacy V1 checkpoints: one table file of ``SavedTensorSlices`` records.

The empty key holds the metadata (every tensor's name, dtype, full shape and
the slices saved of it); each slice is stored under its slice key, as a
TensorProto with only the typed value field filled in.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from .. import dtypes
from .._io import fs
from .._io.source import StorageOptions
from ..shapes import check_shape
from ..bundle.slices import Extent, check_tiling, encode_slice_key, extents_from_proto, region, resolve
from .interface import CheckpointReader, TensorInfo
from ..errors import CheckpointNotFoundError, FormatError, PathLike, WrongFormatError
from ..table import TableReader
from ..tensor_proto import values_from_fields


class _V1Tensor:
    __slots__ = ("name", "dtype", "shape", "slices", "table")

    def __init__(self, name: str, dtype: dtypes.DType, shape: tuple[int, ...],
                 slices: list[list[Extent]], table: TableReader) -> None:
        self.name, self.dtype, self.shape, self.slices, self.table = name, dtype, shape, slices, table


def v1_files(path: PathLike, *, storage_options: StorageOptions = None) -> list[str]:
    """The table files of a V1 checkpoint: the path itself, or the files a sharded glob names."""
    text = os.fspath(path)
    if fs.isfile(text, storage_options=storage_options):
        return [text]
    return fs.glob(text, storage_options=storage_options)


def _parse_slices(value: bytes, path: str) -> Any:
    from ..proto import SavedTensorSlices

    msg = SavedTensorSlices()
    try:
        msg.ParseFromString(value)
    except Exception:
        raise FormatError("V1 record is not a valid SavedTensorSlices message", path) from None
    return msg


class V1Reader(CheckpointReader):
    """Reader of a legacy V1 checkpoint (one table, or several for a sharded save)."""

    format = "V1"

    def __init__(self, path: PathLike, *, verify_checksums: bool = True,
                 storage_options: StorageOptions = None) -> None:
        self.prefix = os.fspath(path)
        files = v1_files(path, storage_options=storage_options)
        if not files:
            raise CheckpointNotFoundError("no V1 checkpoint file matches this path", self.prefix)
        self._tables: list[TableReader] = []
        self._tensors: dict[str, _V1Tensor] = {}
        try:
            for file in files:
                table = TableReader(file, verify_checksums=verify_checksums, storage_options=storage_options)
                self._tables.append(table)
                self._read_meta(table)
        except BaseException:
            self.close()
            raise
        self._infos: Optional[dict[str, TensorInfo]] = None

    def _read_meta(self, table: TableReader) -> None:
        first = table.first()
        if first is None or first[0] != b"":
            raise FormatError("V1 checkpoint has no metadata entry (the empty key must come first)", table.path)
        msg = _parse_slices(first[1], table.path)
        if not msg.HasField("meta"):
            raise WrongFormatError("this table is not a V1 checkpoint (its first entry holds no metadata; "
                                   "a V2 .index file?)", table.path, actual="V2-index")
        for item in msg.meta.tensor:
            row = dtypes.lookup(item.type, table.path, item.name)
            shape = check_shape([d.size for d in item.shape.dim], f"tensor {item.name!r}", table.path)
            slices = [extents_from_proto(s) for s in item.slice]
            known = self._tensors.get(item.name)
            if known is not None:  # the same tensor, more slices in another shard
                known.slices.extend(slices)
                continue
            self._tensors[item.name] = _V1Tensor(item.name, row, shape, slices, table)

    def tensor_infos(self) -> dict[str, TensorInfo]:
        if self._infos is None:
            self._infos = {}
            for name, t in self._tensors.items():
                count = 1
                for d in t.shape:
                    count *= d
                nbytes = count * t.dtype.itemsize
                self._infos[name] = TensorInfo(name, t.dtype, t.shape, nbytes,
                                               len(t.slices) if len(t.slices) > 1 else 0)
        return self._infos

    def _read_slice(self, t: _V1Tensor, extents: list[Extent], lengths: tuple[int, ...]) -> np.ndarray:
        key = encode_slice_key(t.name, extents)
        for table in [t.table] + [tb for tb in self._tables if tb is not t.table]:
            value = table.get(key)
            if value is not None:
                break
        else:
            raise FormatError(f"V1 checkpoint lists a slice of {t.name!r} that has no record", t.table.path)
        msg = _parse_slices(value, table.path)
        if msg.data.name != t.name:
            raise FormatError(f"record under the key of {t.name!r} names {msg.data.name!r}", table.path)
        return values_from_fields(msg.data.data, t.dtype, lengths, path=table.path, what=f"slice of {t.name!r}")

    def get_tensor(self, name: str, *, copy: bool = True) -> np.ndarray:
        t = self._tensors.get(name)
        if t is None:
            raise KeyError(f"{name!r} is not in checkpoint {self.prefix}")
        # Every slice is read (its size checked against its record) and the slices are checked to tile the
        # tensor exactly before the output is allocated: its size must follow from data the file holds.
        parts = []
        for extents in t.slices:
            try:
                starts, lengths = resolve(extents, t.shape)
            except FormatError as exc:
                raise FormatError(f"tensor {name!r}: {exc.detail}", t.table.path) from None
            parts.append((starts, lengths, self._read_slice(t, extents, lengths)))
        try:
            check_tiling(t.shape, [(s, n) for s, n, _ in parts])
        except FormatError as exc:
            raise FormatError(f"slices of tensor {name!r}: {exc.detail}", t.table.path) from None
        if len(parts) == 1 and parts[0][2].shape == t.shape:
            return parts[0][2]
        out = np.empty(t.shape, t.dtype.numpy if t.dtype.numpy is not None else object)
        for starts, lengths, part in parts:
            out[region(starts, lengths)] = part
        return out

    @property
    def num_shards(self) -> int:
        return max(len(self._tables), 1)

    def close(self) -> None:
        for table in self._tables:
            table.close()
        self._tables = []
