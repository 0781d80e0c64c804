"""Convert between ``TensorProto`` messages and numpy arrays.

:func:`to_numpy` behaves like ``tf.make_ndarray`` and :func:`from_numpy` like
``tf.make_tensor_proto``: raw ``tensor_content`` when TensorFlow would use it,
typed repeated fields otherwise, and short typed fields padded with their last
value (a Const ``7.0`` of shape [2, 3] stores a single value).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import dtypes
from .dtypes import DType
from .errors import FormatError, PathLike
from .shapes import check_shape

# A typed field shorter than the shape is broadcast (one stored value can fill any shape). The size of such an
# expansion comes from the shape alone, not from bytes in the file, so it is capped; callers that trust a file
# pass a larger ``max_broadcast_bytes``.
MAX_BROADCAST_BYTES = 256 << 20

# Dtypes for which make_tensor_proto writes tensor_content (when size > 1).
_CONTENT_DTYPES = {
    dtypes.HALF, dtypes.FLOAT, dtypes.DOUBLE, dtypes.BFLOAT16, dtypes.INT8, dtypes.INT16, dtypes.INT32,
    dtypes.INT64, dtypes.UINT8, dtypes.UINT32, dtypes.UINT64, dtypes.QINT8, dtypes.QINT16, dtypes.QINT32,
    dtypes.QUINT8, dtypes.QUINT16, dtypes.FLOAT8_E5M2, dtypes.FLOAT8_E4M3FN, dtypes.FLOAT8_E4M3FNUZ,
    dtypes.FLOAT8_E4M3B11FNUZ, dtypes.FLOAT8_E5M2FNUZ, dtypes.FLOAT4_E2M1FN,
}

_INT_VAL = {dtypes.INT32, dtypes.INT16, dtypes.INT8, dtypes.UINT8, dtypes.UINT16, dtypes.QINT8, dtypes.QUINT8,
            dtypes.QINT16, dtypes.QUINT16, dtypes.QINT32, dtypes.INT4, dtypes.UINT4, dtypes.INT2, dtypes.UINT2}
_FLOAT8 = {dtypes.FLOAT8_E5M2, dtypes.FLOAT8_E4M3FN, dtypes.FLOAT8_E4M3FNUZ, dtypes.FLOAT8_E4M3B11FNUZ,
           dtypes.FLOAT8_E5M2FNUZ, dtypes.FLOAT4_E2M1FN}


def typed_field(enum: int) -> str:
    """Name of the repeated field that holds values of ``enum``."""
    if enum in _INT_VAL:
        return "int_val"
    if enum in _FLOAT8:
        return "float8_val"
    return {
        dtypes.FLOAT: "float_val", dtypes.DOUBLE: "double_val", dtypes.INT64: "int64_val",
        dtypes.BOOL: "bool_val", dtypes.STRING: "string_val", dtypes.COMPLEX64: "scomplex_val",
        dtypes.COMPLEX128: "dcomplex_val", dtypes.HALF: "half_val", dtypes.BFLOAT16: "half_val",
        dtypes.UINT32: "uint32_val", dtypes.UINT64: "uint64_val", dtypes.RESOURCE: "resource_handle_val",
        dtypes.VARIANT: "variant_val",
    }[enum]


def shape_of(proto: Any, path: Optional[PathLike] = None) -> tuple[int, ...]:
    """Dimensions of a TensorShapeProto that must be fully known."""
    if proto.unknown_rank:
        raise FormatError("tensor has a shape of unknown rank", path)
    return check_shape([d.size for d in proto.dim], "tensor", path)


def values_from_fields(proto: Any, row: DType, shape: Sequence[int], *, path: Optional[PathLike] = None,
                       what: str = "tensor", max_broadcast_bytes: int = MAX_BROADCAST_BYTES) -> np.ndarray:
    """Decode the typed repeated field of ``proto`` into an array of ``shape``.

    Used for Const values and for legacy V1 checkpoint slices, whose
    TensorProtos carry only the typed field.
    """
    count = 1
    for d in shape:
        count *= d
    field_name = typed_field(row.enum)
    values = getattr(proto, field_name)
    n = len(values)
    per_element = 2 if row.enum in (dtypes.COMPLEX64, dtypes.COMPLEX128) else 1
    if n > count * per_element:
        raise FormatError(f"{what} holds {n // per_element} values but its shape {list(shape)} "
                          f"has {count} elements", path)
    itemsize = row.itemsize or 8
    if n < count * per_element and count * itemsize > max_broadcast_bytes:
        raise FormatError(f"{what} of shape {list(shape)} would expand {n} stored values to "
                          f"{count * itemsize} bytes (more than {max_broadcast_bytes}; pass a larger "
                          "max_broadcast_bytes to allow it)", path)
    if row.enum == dtypes.STRING:
        out = np.empty(count, dtype=object)
        items = list(values)
        out[:n] = items
        out[n:] = items[-1] if items else b""
        return out.reshape(shape)
    if row.enum in (dtypes.RESOURCE, dtypes.VARIANT):
        out = np.empty(count, dtype=object)
        items = [v.SerializeToString() for v in values]
        out[:n] = items
        if n < count:
            out[n:] = items[-1] if items else b""
        return out.reshape(shape)
    assert row.numpy is not None
    if row.enum in _FLOAT8:
        flat = np.frombuffer(bytes(values), dtype=np.uint8).view(row.numpy) if n else np.zeros(0, row.numpy)
        n = flat.size
        if n > count:
            raise FormatError(f"{what} holds {n} values but its shape has {count} elements", path)
    elif row.enum in (dtypes.HALF, dtypes.BFLOAT16):
        flat = np.array(values, dtype=np.int64).astype(np.uint16).view(row.numpy)
    elif per_element == 2:
        part = np.float32 if row.enum == dtypes.COMPLEX64 else np.float64
        raw = np.array(values, dtype=part)
        if raw.size % 2:
            raise FormatError(f"{what} has an odd number of complex parts", path)
        flat = raw.view(row.numpy)
        n = flat.size
    elif row.enum in _INT_VAL:
        flat = np.array(values, dtype=np.int64).astype(row.numpy)
    else:
        flat = np.array(values, dtype=row.numpy)
    if n == count:
        return flat.reshape(shape)
    out = np.zeros(count, dtype=row.numpy)
    if n:
        out[:n] = flat
        out[n:] = flat[-1]
    return out.reshape(shape)


def to_numpy(proto: Any, *, path: Optional[PathLike] = None, max_broadcast_bytes: int = MAX_BROADCAST_BYTES
             ) -> np.ndarray:
    """Return the value of a TensorProto as a numpy array (like ``tf.make_ndarray``).

    A tensor whose few stored values are broadcast to a shape larger than ``max_broadcast_bytes`` is refused
    with a FormatError: that memory would come from the shape alone, not from the file.
    """
    row = dtypes.lookup(proto.dtype, path)
    shape = shape_of(proto.tensor_shape, path)
    content = proto.tensor_content
    if content and row.is_pod:
        count = 1
        for d in shape:
            count *= d
        if len(content) != count * row.itemsize:
            raise FormatError(f"tensor_content has {len(content)} bytes but {row.tf_name}{list(shape)} "
                              f"needs {count * row.itemsize}", path)
        assert row.numpy is not None
        return np.frombuffer(content, dtype=row.numpy).reshape(shape).copy()
    if content:
        raise FormatError(f"tensor_content is not used for {row.proto_name} tensors", path)
    return values_from_fields(proto, row, shape, path=path, max_broadcast_bytes=max_broadcast_bytes)


def from_numpy(value: Any, dtype: Optional[DType | str | int] = None, shape: Optional[Sequence[int]] = None, *,
               out: Any = None) -> Any:
    """Build a TensorProto from an array or scalar (like ``tf.make_tensor_proto``).

    With ``out``, fill that (cleared) TensorProto in place instead of a new one,
    which saves copying large values once more.
    """
    from .proto import TensorProto

    dtype = dtypes.as_dtype(dtype)
    if isinstance(value, (bytes, str)) or (isinstance(value, np.ndarray) and value.dtype.kind in "OSU"):
        arr = np.asarray(value, dtype=object)
        row = dtype or dtypes.BY_ENUM[dtypes.STRING]
    else:
        arr = np.asarray(value)
        row = dtype or dtypes.from_numpy(arr.dtype)
        if row.numpy is not None and arr.dtype != row.numpy:
            arr = arr.astype(row.numpy)
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape)) if arr.size == 1 else arr.reshape(tuple(shape))
    if out is None:
        proto = TensorProto()
    else:
        proto = out
        proto.Clear()
    proto.dtype = row.enum
    for d in arr.shape:
        proto.tensor_shape.dim.add().size = d
    if row.enum == dtypes.STRING:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in arr.reshape(-1))
        return proto
    if row.enum in _CONTENT_DTYPES and arr.size > 1:
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        proto.tensor_content = np.ascontiguousarray(arr).tobytes()
        return proto
    flat = arr.reshape(-1)
    field = getattr(proto, typed_field(row.enum))
    if row.enum in (dtypes.HALF, dtypes.BFLOAT16):
        field.extend(int(v) for v in flat.view(np.uint16))
    elif row.enum in _FLOAT8:
        proto.float8_val = flat.view(np.uint8).tobytes()
    elif row.enum in (dtypes.COMPLEX64, dtypes.COMPLEX128):
        for v in flat:
            field.extend((float(v.real), float(v.imag)))
    elif row.enum == dtypes.BOOL:
        field.extend(bool(v) for v in flat)
    elif row.enum in (dtypes.FLOAT, dtypes.DOUBLE):
        field.extend(float(v) for v in flat)
    else:
        field.extend(int(v) for v in flat)
    return proto
