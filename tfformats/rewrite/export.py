"""Export checkpoint tensors to ``.npz`` (numpy) and ``.safetensors`` files, one tensor at a time.

``.npz`` layout (a plain numpy archive, written uncompressed like ``np.savez``):

* numeric tensors numpy knows natively are stored as they are;
* string tensors are stored as fixed-width bytes arrays (``dtype 'S'``); numpy drops
  trailing NUL bytes from such arrays, so a tensor with an element ending in ``b"\\0"`` is
  stored instead as its concatenated bytes (uint8) with the element lengths and shape
  recorded in ``__tfformats_dtypes__``;
* ``bfloat16``, float8, int4 and the other ``ml_dtypes`` types are stored as their raw bits
  in an unsigned integer array of the same width, and quantized types as their storage
  integer type; the entry ``__tfformats_dtypes__`` (a JSON string) records the TensorFlow
  dtype of every such tensor. :func:`load_npz` puts the types back, so values load back equal.

``.safetensors`` files follow the safetensors format (8-byte header length, JSON header,
raw little-endian data) and load with the ``safetensors`` package; types it has no name
for (strings, complex, the rarer float8 and sub-byte types) are refused before anything
is written. Quantized types are stored as their integer type and listed in the metadata.

Both writers write to a temporary file and rename it, so a failed export leaves no file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional, Sequence

import numpy as np

from .. import dtypes
from .._io.atomic import atomic_output
from .._io.source import StorageOptions
from .._io import transfer
from ..bundle.entries import BIG_ENDIAN
from ..bundle.reader import BundleReader
from ..checkpoint.loading import load_checkpoint
from ..checkpoint.interface import OBJECT_GRAPH_KEY, CheckpointReader, TensorInfo
from ..checksums import mask
from ..errors import ArgumentError, ChecksumError, PathLike, UnsupportedError
from .select import rename_all, select

NPZ_DTYPES_KEY = "__tfformats_dtypes__"
SAFETENSORS_METADATA_KEY = "__metadata__"

SAFETENSORS_DTYPES = {
    dtypes.BOOL: "BOOL", dtypes.UINT8: "U8", dtypes.INT8: "I8", dtypes.INT16: "I16", dtypes.UINT16: "U16",
    dtypes.HALF: "F16", dtypes.BFLOAT16: "BF16", dtypes.INT32: "I32", dtypes.UINT32: "U32",
    dtypes.FLOAT: "F32", dtypes.DOUBLE: "F64", dtypes.INT64: "I64", dtypes.UINT64: "U64",
    dtypes.FLOAT8_E5M2: "F8_E5M2", dtypes.FLOAT8_E4M3FN: "F8_E4M3",
    # Quantized values are plain integers on disk; the metadata says which were quantized.
    dtypes.QINT8: "I8", dtypes.QUINT8: "U8", dtypes.QINT16: "I16", dtypes.QUINT16: "U16", dtypes.QINT32: "I32",
}
_QUANTIZED = {dtypes.QINT8, dtypes.QUINT8, dtypes.QINT16, dtypes.QUINT16, dtypes.QINT32}


@dataclass(frozen=True)
class ExportResult:
    path: str
    tensors: dict[str, str]  # exported name -> checkpoint name
    bytes_written: int


def select_tensors(reader: CheckpointReader, *, only: Sequence[str] = (),
                   rename: Sequence[tuple[str, str] | str] = (),
                   include_object_graph: bool = False) -> dict[str, str]:
    """Exported name -> checkpoint name, after ``only`` (re.search) and ``rename`` (re.sub, in order)."""
    names = [n for n in reader.keys() if n != OBJECT_GRAPH_KEY or include_object_graph]
    chosen = select(names, keep=only, keep_option="only")
    return {new: old for old, new in rename_all(chosen, rename).items()}


@contextlib.contextmanager
def _opened(src: PathLike | CheckpointReader, storage_options: StorageOptions = None
            ) -> Iterator[CheckpointReader]:
    """The reader of ``src``; closed afterwards only when opened here."""
    if isinstance(src, CheckpointReader):
        yield src
        return
    reader = load_checkpoint(src, storage_options=storage_options)
    try:
        yield reader
    finally:
        reader.close()


# -- npz -------------------------------------------------------------------------------------------

def _npz_array(name: str, value: np.ndarray, row: dtypes.DType, kinds: dict[str, object]) -> np.ndarray:
    if row.is_string:
        items = [bytes(x) for x in value.reshape(-1)]
        if any(item.endswith(b"\x00") for item in items):
            # numpy's fixed-width bytes drop trailing NULs: keep the bytes and lengths instead.
            kinds[name] = {"dtype": "string", "shape": list(value.shape), "lengths": [len(x) for x in items]}
            return np.frombuffer(b"".join(items), np.uint8)
        width = max((len(x) for x in items), default=1) or 1
        return np.array(items, dtype=f"S{width}").reshape(value.shape)
    if row.enum in _QUANTIZED:
        kinds[name] = row.tf_name
        return value
    assert row.numpy is not None
    if row.numpy.type.__module__ == "numpy":  # not an ml_dtypes type
        return value
    kinds[name] = row.tf_name
    return value.view(np.dtype(f"u{row.itemsize}"))


def export_npz(src: PathLike | CheckpointReader, out: PathLike, *, only: Sequence[str] = (),
               rename: Sequence[tuple[str, str] | str] = (), include_object_graph: bool = False,
               storage_options: StorageOptions = None) -> ExportResult:
    """Write checkpoint tensors to an ``.npz`` archive (see the module docstring for the layout)."""
    path = os.fspath(out)
    with _opened(src, storage_options) as reader:
        chosen = select_tensors(reader, only=only, rename=rename, include_object_graph=include_object_graph)
        infos = reader.tensor_infos()
        _check_npz_names(chosen)
        for old in chosen.values():
            row = infos[old].dtype
            if not row.is_string and row.numpy is None:
                raise UnsupportedError(f"tensor {old!r} has dtype {row.tf_name}, which .npz exports cannot hold "
                                       "(use --only or edit --drop to leave it out)", reader.prefix)
        kinds: dict[str, object] = {}
        written = 0
        with atomic_output(path, storage_options=storage_options) as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for new, old in chosen.items():
                    row = infos[old].dtype
                    value = reader.get_tensor(old)
                    if old == OBJECT_GRAPH_KEY:
                        arr = np.frombuffer(bytes(value.reshape(-1)[0]), np.uint8)
                        kinds[new] = "serialized TrackableObjectGraph"
                    else:
                        arr = _npz_array(new, value, row, kinds)
                    with archive.open(new + ".npy", "w", force_zip64=True) as f:
                        contiguous = arr if arr.flags.c_contiguous else arr.copy(order="C")
                        np.lib.format.write_array(f, contiguous, allow_pickle=False)
                    written += arr.nbytes
                    del value, arr
                if kinds:
                    with archive.open(NPZ_DTYPES_KEY + ".npy", "w") as f:
                        np.lib.format.write_array(f, np.array(json.dumps(kinds, sort_keys=True)), allow_pickle=False)
    return ExportResult(path, chosen, written)


def _check_npz_names(chosen: dict[str, str]) -> None:
    if NPZ_DTYPES_KEY in chosen:
        raise ArgumentError(f"tensor name {NPZ_DTYPES_KEY!r} is reserved in .npz exports")
    for name in chosen:
        # Names become zip member names: refuse ones an unzip tool would place outside its folder.
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise ArgumentError(f"tensor name {name!r} cannot be an .npz member: it would point outside the archive "
                             "folder when unzipped (rename it with --rename)")


def load_npz(path: PathLike) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`export_npz`, restoring bfloat16 and the other recorded types."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        kinds = json.loads(str(archive[NPZ_DTYPES_KEY])) if NPZ_DTYPES_KEY in archive.files else {}
        out = {}
        for name in archive.files:
            if name == NPZ_DTYPES_KEY:
                continue
            value = archive[name]
            kind = kinds.get(name)
            if isinstance(kind, dict) and kind.get("dtype") == "string":
                raw = value.tobytes()
                items, pos = [], 0
                for n in kind["lengths"]:
                    items.append(raw[pos:pos + n])
                    pos += n
                flat = np.empty(len(items), dtype=object)
                flat[:] = items
                value = flat.reshape(kind["shape"])
            elif isinstance(kind, str) and kind in dtypes.BY_NAME:
                row = dtypes.from_name(kind)
                assert row.numpy is not None
                value = value.view(row.numpy)
            elif value.dtype.kind == "S":
                flat = np.empty(value.size, dtype=object)
                flat[:] = [bytes(x) for x in value.reshape(-1)]
                value = flat.reshape(value.shape)
            out[name] = value
    return out


# -- safetensors ----------------------------------------------------------------------------------

def _safetensors_header(chosen: dict[str, str], infos: dict[str, TensorInfo], metadata: dict[str, str],
                        residue: int = 0, source: Optional[str] = None) -> tuple[bytes, list[tuple[str, str, int]]]:
    """The header bytes and (name, checkpoint name, size) of each tensor in data order.

    The header is padded with spaces (JSON allows them) so the data starts
    8-byte aligned, as the safetensors writer pads it, and, when ``residue`` is
    a multiple of 8, at an offset equal to ``residue`` modulo ``COPY_ALIGN``.
    """
    header: dict[str, object] = {}
    if metadata:
        header[SAFETENSORS_METADATA_KEY] = metadata
    layout = []
    offset = 0
    for new, old in chosen.items():
        if new == SAFETENSORS_METADATA_KEY:
            raise ArgumentError(f"tensor name {new!r} is reserved in .safetensors files")
        info = infos[old]
        code = SAFETENSORS_DTYPES.get(info.dtype.enum)
        if code is None:
            raise UnsupportedError(f"tensor {old!r} has dtype {info.dtype.tf_name}, which safetensors cannot hold "
                                   "(use --only or edit --drop to leave it out)", source)
        size = info.size * info.dtype.itemsize
        header[new] = {"dtype": code, "shape": list(info.shape), "data_offsets": [offset, offset + size]}
        layout.append((new, old, size))
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if residue % 8:
        residue = 0
    align = transfer.COPY_ALIGN if offset >= transfer.KERNEL_COPY_MIN else 8
    raw += b" " * ((residue - len(raw) - 8) % align)
    return raw, layout


def _kernel_copy_residue(reader: CheckpointReader, layout: list[tuple[str, str, int]]) -> int:
    """Where the data section should start, modulo COPY_ALIGN, to match the source's layout.

    The kernel copies fastest when a byte keeps its position within the page
    cache's blocks; this lines up the first tensor that will be copied that way.
    """
    if not isinstance(reader, BundleReader) or reader.header.endianness == BIG_ENDIAN:
        return 0
    position = 0
    for _, old, size in layout:
        if size >= transfer.KERNEL_COPY_MIN:
            entry = reader.entry(old)
            if not entry.slices and entry.dtype.is_pod:
                return (entry.offset - position) % transfer.COPY_ALIGN
        position += size
    return 0


def export_safetensors(src: PathLike | CheckpointReader, out: PathLike, *, only: Sequence[str] = (),
                       rename: Sequence[tuple[str, str] | str] = (), include_object_graph: bool = False,
                       metadata: Optional[dict[str, str]] = None,
                       storage_options: StorageOptions = None) -> ExportResult:
    """Write checkpoint tensors to a ``.safetensors`` file, streaming each tensor's bytes.

    With ``include_object_graph`` the serialized object graph goes into the
    header metadata (base64) under ``_CHECKPOINTABLE_OBJECT_GRAPH``.
    """
    path = os.fspath(out)
    with _opened(src, storage_options) as reader:
        chosen = select_tensors(reader, only=only, rename=rename, include_object_graph=False)
        infos = reader.tensor_infos()
        meta = {"format": "np", "source": "tfformats"}
        quantized = {new: infos[old].dtype.tf_name for new, old in chosen.items() if infos[old].dtype.enum in _QUANTIZED}
        if quantized:
            meta["tf_dtypes"] = json.dumps(quantized, sort_keys=True)
        if include_object_graph and OBJECT_GRAPH_KEY in infos:
            blob = bytes(reader.get_tensor(OBJECT_GRAPH_KEY).reshape(-1)[0])
            meta[OBJECT_GRAPH_KEY] = base64.b64encode(blob).decode("ascii")
        meta.update(metadata or {})
        _, layout = _safetensors_header(chosen, infos, meta, source=reader.prefix)
        header, _ = _safetensors_header(chosen, infos, meta, _kernel_copy_residue(reader, layout), reader.prefix)
        written = 0
        with atomic_output(path, storage_options=storage_options) as tmp:
            with open(tmp, "wb") as f:
                f.write(len(header).to_bytes(8, "little"))
                f.write(header)
                for new, old, size in layout:
                    written += _write_tensor_bytes(reader, old, f)
    return ExportResult(path, chosen, written)


def _write_tensor_bytes(reader: CheckpointReader, name: str, f: BinaryIO) -> int:
    """Write the little-endian C-order bytes of one tensor; copy them as stored when they can be."""
    if isinstance(reader, BundleReader) and reader.header.endianness != BIG_ENDIAN:
        entry = reader.entry(name)
        if not entry.slices and entry.dtype.is_pod:
            shard = reader.open_entry(name, entry)  # bounds checked against the shard's size
            if shard.fileno is not None:
                crc = transfer.append_range(f, shard.fileno, entry.offset, entry.size, path=shard.path,
                                            checksum=reader.verify_checksums)
                if crc is not None and mask(crc) != entry.crc32c:
                    raise ChecksumError(f"crc32c mismatch in tensor {name!r} (stored {entry.crc32c:#010x}, "
                                        f"computed {mask(crc):#010x}): the data file is damaged",
                                        shard.path, entry.offset)
                return entry.size
    value = np.ascontiguousarray(reader.get_tensor(name))
    return transfer.write_all(f, value.reshape(-1).view(np.uint8).data)


def convert(src: PathLike, out: PathLike, *, only: Sequence[str] = (), rename: Sequence[tuple[str, str] | str] = (),
            include_object_graph: bool = False, storage_options: StorageOptions = None) -> ExportResult:
    """Export to ``.npz`` or ``.safetensors``, chosen by ``out``'s extension (``src`` and ``out`` may be URLs)."""
    path = os.fspath(out)
    if path.endswith(".npz"):
        return export_npz(src, path, only=only, rename=rename, include_object_graph=include_object_graph,
                          storage_options=storage_options)
    if path.endswith(".safetensors"):
        return export_safetensors(src, path, only=only, rename=rename, include_object_graph=include_object_graph,
                                  storage_options=storage_options)
    raise ArgumentError(f"{path}: unknown output type; use a name ending in .npz or .safetensors")
