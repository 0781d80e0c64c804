"""The one table mapping TensorFlow ``DataType`` numbers to numpy dtypes.

Everything in tfformats that needs to know how a dtype is stored asks this
module. Numbers follow ``types.proto``; reference types are the base number
plus :data:`REF_OFFSET` and never appear in checkpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional, Union, cast

import ml_dtypes
import numpy as np

from .errors import ArgumentError, FormatError, PathLike

if TYPE_CHECKING:
    import numpy.typing as npt

REF_OFFSET = 100


class DType(NamedTuple):
    """One row of the dtype table."""

    enum: int
    name: str  # TensorFlow's name without the DT_ prefix, lower case ("float", "bfloat16")
    numpy: Optional[np.dtype]  # None for resource/variant
    itemsize: int  # bytes per element in a bundle; 0 when variable-length or not storable

    @property
    def is_string(self) -> bool:
        return self.enum == STRING

    @property
    def is_pod(self) -> bool:
        """Plain old data: fixed-size elements stored as raw little-endian bytes."""
        return self.itemsize > 0

    @property
    def tf_name(self) -> str:
        """The name TensorFlow prints, e.g. ``float32``, ``bfloat16``, ``string``."""
        return _TF_PRINT_NAMES.get(self.enum, self.name)

    @property
    def proto_name(self) -> str:
        """The enum value name in types.proto, e.g. ``DT_FLOAT``."""
        return "DT_" + self.name.upper()


FLOAT, DOUBLE, INT32, UINT8, INT16, INT8, STRING, COMPLEX64, INT64, BOOL = range(1, 11)
QINT8, QUINT8, QINT32, BFLOAT16, QINT16, QUINT16, UINT16, COMPLEX128, HALF = range(11, 20)
RESOURCE, VARIANT, UINT32, UINT64 = range(20, 24)
FLOAT8_E5M2, FLOAT8_E4M3FN, FLOAT8_E4M3FNUZ, FLOAT8_E4M3B11FNUZ, FLOAT8_E5M2FNUZ = range(24, 29)
INT4, UINT4, INT2, UINT2, FLOAT4_E2M1FN = range(29, 34)

_OBJECT = np.dtype(object)


def _row(enum: int, name: str, np_dtype: object) -> DType:
    if np_dtype is None:
        return DType(enum, name, None, 0)
    dt = np.dtype(np_dtype)  # type: ignore[call-overload]
    if dt == _OBJECT:
        return DType(enum, name, dt, 0)
    return DType(enum, name, dt, dt.itemsize)


_ROWS = [
    _row(FLOAT, "float", np.float32),
    _row(DOUBLE, "double", np.float64),
    _row(INT32, "int32", np.int32),
    _row(UINT8, "uint8", np.uint8),
    _row(INT16, "int16", np.int16),
    _row(INT8, "int8", np.int8),
    _row(STRING, "string", _OBJECT),
    _row(COMPLEX64, "complex64", np.complex64),
    _row(INT64, "int64", np.int64),
    _row(BOOL, "bool", np.bool_),
    # Quantized types have no numpy equivalent; TensorFlow's Python API shows
    # them with their storage type, and so do we.
    _row(QINT8, "qint8", np.int8),
    _row(QUINT8, "quint8", np.uint8),
    _row(QINT32, "qint32", np.int32),
    _row(BFLOAT16, "bfloat16", ml_dtypes.bfloat16),
    _row(QINT16, "qint16", np.int16),
    _row(QUINT16, "quint16", np.uint16),
    _row(UINT16, "uint16", np.uint16),
    _row(COMPLEX128, "complex128", np.complex128),
    _row(HALF, "half", np.float16),
    _row(RESOURCE, "resource", None),
    _row(VARIANT, "variant", None),
    _row(UINT32, "uint32", np.uint32),
    _row(UINT64, "uint64", np.uint64),
    _row(FLOAT8_E5M2, "float8_e5m2", ml_dtypes.float8_e5m2),
    _row(FLOAT8_E4M3FN, "float8_e4m3fn", ml_dtypes.float8_e4m3fn),
    _row(FLOAT8_E4M3FNUZ, "float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz),
    _row(FLOAT8_E4M3B11FNUZ, "float8_e4m3b11fnuz", ml_dtypes.float8_e4m3b11fnuz),
    _row(FLOAT8_E5M2FNUZ, "float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz),
    # Sub-byte integers take one byte per element in memory and in bundles.
    _row(INT4, "int4", ml_dtypes.int4),
    _row(UINT4, "uint4", ml_dtypes.uint4),
    _row(INT2, "int2", getattr(ml_dtypes, "int2", None)),
    _row(UINT2, "uint2", getattr(ml_dtypes, "uint2", None)),
    _row(FLOAT4_E2M1FN, "float4_e2m1fn", getattr(ml_dtypes, "float4_e2m1fn", None)),
]

_TF_PRINT_NAMES = {FLOAT: "float32", DOUBLE: "float64", HALF: "float16"}

BY_ENUM: dict[int, DType] = {row.enum: row for row in _ROWS}
BY_NAME: dict[str, DType] = {}
for _r in _ROWS:
    BY_NAME[_r.name] = _r
    BY_NAME[_r.tf_name] = _r
    BY_NAME[_r.proto_name.lower()] = _r

# numpy dtype -> enum, for writing. Quantized rows are left out: a plain int8
# array is DT_INT8, never DT_QINT8.
_FROM_NUMPY: dict[np.dtype, int] = {}
for _r in _ROWS:
    if _r.numpy is not None and _r.enum not in (QINT8, QUINT8, QINT32, QINT16, QUINT16):
        _FROM_NUMPY.setdefault(_r.numpy, _r.enum)


def is_ref(enum: int) -> bool:
    """True for reference dtypes (``DT_FLOAT_REF`` and friends)."""
    return enum > REF_OFFSET


def base_enum(enum: int) -> int:
    """Strip the reference bit: ``DT_FLOAT_REF`` -> ``DT_FLOAT``."""
    return enum - REF_OFFSET if enum > REF_OFFSET else enum


def lookup(enum: int, path: Optional[PathLike] = None, tensor: Optional[str] = None) -> DType:
    """Return the table row for ``enum``, or raise FormatError naming the tensor."""
    row = BY_ENUM.get(enum)
    if row is None or row.numpy is None and enum != VARIANT:
        what = f"tensor {tensor!r} has " if tensor is not None else ""
        if enum > REF_OFFSET and enum - REF_OFFSET in BY_ENUM:
            raise FormatError(f"{what}reference dtype {enum} ({BY_ENUM[enum - REF_OFFSET].proto_name}_REF), "
                              "which cannot be stored", path)
        kind = "unsupported" if row is not None else "unknown"
        raise FormatError(f"{what}{kind} dtype {enum}", path)
    return row


def numpy_dtype(enum: int, path: Optional[PathLike] = None, tensor: Optional[str] = None) -> np.dtype:
    """Return the numpy dtype that holds values of ``enum``."""
    row = lookup(enum, path, tensor)
    if row.numpy is None:
        raise FormatError(f"tensor {tensor!r} has dtype {row.proto_name}, which has no numpy form", path)
    return row.numpy


def from_numpy(dtype: np.dtype | type) -> DType:
    """Return the row for a numpy dtype (``object`` means DT_STRING)."""
    dt = np.dtype(dtype)
    if dt.kind in ("S", "U", "O"):
        return BY_ENUM[STRING]
    enum = _FROM_NUMPY.get(dt)
    if enum is None:
        if dt.byteorder == ">":
            return from_numpy(dt.newbyteorder("<"))
        raise TypeError(f"numpy dtype {dt} has no TensorFlow equivalent")
    return BY_ENUM[enum]


def from_name(name: str) -> DType:
    """Return the row for a name such as ``float32``, ``bfloat16`` or ``DT_HALF``."""
    row = BY_NAME.get(name.lower())
    if row is None:
        raise ArgumentError(f"unknown dtype name {name!r}")
    return row


DTypeLike = Union[DType, int, str, np.dtype, type, None]


def as_dtype(dtype: DTypeLike) -> Optional[DType]:
    """The one way in: a table row from a row, enum number, name (``float32``, ``DT_HALF``) or numpy dtype.

    None stays None (the caller infers the dtype from a value).
    """
    if dtype is None or isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        return lookup(int(dtype))
    if isinstance(dtype, str):
        try:
            return from_name(dtype)
        except ValueError:
            return from_numpy(np.dtype(dtype))
    return from_numpy(np.dtype(cast("npt.DTypeLike", dtype)))
