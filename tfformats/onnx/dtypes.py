"""TensorFlow ``DataType`` numbers to ONNX ``TensorProto.DataType`` numbers (both fixed by their .proto files)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import dtypes as tfd
from ..errors import UnsupportedError

# ONNX element types, numbered as in onnx.proto's TensorProto.DataType.
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16 = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
DOUBLE, UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16 = 11, 12, 13, 14, 15, 16

_FROM_TF = {
    tfd.FLOAT: FLOAT, tfd.DOUBLE: DOUBLE, tfd.INT32: INT32, tfd.UINT8: UINT8, tfd.INT16: INT16, tfd.INT8: INT8,
    tfd.STRING: STRING, tfd.COMPLEX64: COMPLEX64, tfd.INT64: INT64, tfd.BOOL: BOOL, tfd.BFLOAT16: BFLOAT16,
    tfd.UINT16: UINT16, tfd.COMPLEX128: COMPLEX128, tfd.HALF: FLOAT16, tfd.UINT32: UINT32, tfd.UINT64: UINT64,
}

_NUMPY: dict[int, np.dtype] = {
    FLOAT: np.dtype(np.float32), DOUBLE: np.dtype(np.float64), INT32: np.dtype(np.int32),
    UINT8: np.dtype(np.uint8), INT16: np.dtype(np.int16), INT8: np.dtype(np.int8), INT64: np.dtype(np.int64),
    BOOL: np.dtype(np.bool_), UINT16: np.dtype(np.uint16), FLOAT16: np.dtype(np.float16),
    UINT32: np.dtype(np.uint32), UINT64: np.dtype(np.uint64), COMPLEX64: np.dtype(np.complex64),
    COMPLEX128: np.dtype(np.complex128), STRING: np.dtype(object),
}

FLOATS = frozenset({FLOAT, DOUBLE, FLOAT16, BFLOAT16})
INTEGERS = frozenset({UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64})


def onnx_type(tf_enum: int, what: str = "tensor") -> int:
    """The ONNX element type of a TensorFlow dtype; UnsupportedError for types ONNX has no form of."""
    onnx = _FROM_TF.get(tfd.base_enum(tf_enum))
    if onnx is None:
        name = tfd.BY_ENUM[tf_enum].proto_name if tf_enum in tfd.BY_ENUM else str(tf_enum)
        raise UnsupportedError(f"{what} has dtype {name}, which ONNX cannot hold")
    return onnx


def numpy_of(onnx_enum: int) -> Optional[np.dtype]:
    """The numpy dtype holding an ONNX element type, or None (bfloat16 needs ml_dtypes)."""
    if onnx_enum == BFLOAT16:
        import ml_dtypes

        bf16: np.dtype = np.dtype(ml_dtypes.bfloat16)
        return bf16
    return _NUMPY.get(onnx_enum)


def from_numpy(dtype: np.dtype) -> int:
    """The ONNX element type of a numpy dtype."""
    if dtype.kind in ("O", "S", "U"):
        return STRING
    for onnx, np_dtype in _NUMPY.items():
        if np_dtype == dtype:
            return onnx
    if dtype.name == "bfloat16":
        return BFLOAT16
    raise UnsupportedError(f"numpy dtype {dtype} has no ONNX form")
