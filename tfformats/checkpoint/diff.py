"""Compare two checkpoints tensor by tensor.

Equal means bit-identical unless a tolerance is given (then ``|a - b| <= atol + rtol * |b|``
element-wise, NaN equal to NaN); a dtype or shape change always counts as a difference.
Tensors are compared in chunks, so memory stays near the size of the largest tensor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .._io.source import StorageOptions
from .loading import load_checkpoint
from .interface import OBJECT_GRAPH_KEY, CheckpointReader
from ..errors import PathLike

_CHUNK_ELEMENTS = 1 << 21

IDENTICAL, CLOSE, DIFFERENT, DTYPE, SHAPE, ONLY_A, ONLY_B = (
    "identical", "close", "different", "dtype changed", "shape changed", "only in A", "only in B")


@dataclass
class TensorDiff:
    name: str
    status: str
    dtype_a: Optional[str] = None
    dtype_b: Optional[str] = None
    shape_a: Optional[list[int]] = None
    shape_b: Optional[list[int]] = None
    max_abs: Optional[float] = None
    max_rel: Optional[float] = None
    mismatched: Optional[int] = None  # elements outside the tolerance (or not bit-identical)

    @property
    def equal(self) -> bool:
        return self.status in (IDENTICAL, CLOSE)


@dataclass
class DiffResult:
    a: str
    b: str
    tensors: list[TensorDiff] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tensors)

    def to_dict(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "equal": self.equal,
                "tensors": [asdict(t) for t in self.tensors]}


def _as_numeric(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "fc":
        return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    return x.astype(np.float64)  # ml_dtypes types (bfloat16, float8, int4) convert to float


def compare_arrays(a: np.ndarray, b: np.ndarray, *, atol: float = 0.0, rtol: float = 0.0
                   ) -> tuple[str, Optional[float], Optional[float], int]:
    """Return ``(status, max_abs, max_rel, mismatched)`` for two arrays of equal dtype and shape."""
    if a.dtype == object or b.dtype == object:
        fa, fb = a.reshape(-1), b.reshape(-1)
        bad = sum(1 for x, y in zip(fa, fb) if bytes(x) != bytes(y))
        return (IDENTICAL if not bad else DIFFERENT), None, None, bad
    fa, fb = a.reshape(-1), b.reshape(-1)
    tolerant = atol > 0 or rtol > 0
    max_abs = 0.0
    max_rel = 0.0
    mismatched = 0
    bit_identical = True
    for start in range(0, fa.size, _CHUNK_ELEMENTS):
        ca, cb = fa[start:start + _CHUNK_ELEMENTS], fb[start:start + _CHUNK_ELEMENTS]
        same_bits = ca.view(np.uint8) == cb.view(np.uint8)
        if same_bits.all():
            continue
        bit_identical = False
        na, nb = _as_numeric(ca), _as_numeric(cb)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(na - nb)
            both_nan = np.isnan(na) & np.isnan(nb) if na.dtype.kind in "fc" else np.zeros(na.shape, bool)
            diff = np.where(both_nan, 0.0, diff)
            diff = np.where(np.isnan(diff), np.inf, diff)
            denom = np.abs(nb)
            rel = np.where(diff == 0, 0.0, np.where(denom > 0, diff / np.where(denom > 0, denom, 1), np.inf))
        if diff.size:
            max_abs = max(max_abs, float(diff.max()))
            max_rel = max(max_rel, float(rel.max()))
        if tolerant:
            mismatched += int(np.count_nonzero(diff > atol + rtol * np.abs(nb)))
        else:
            per_element = same_bits.reshape(ca.size, -1).all(axis=1) if ca.size else same_bits
            mismatched += int(np.count_nonzero(~per_element))
    if bit_identical:
        return IDENTICAL, 0.0, 0.0, 0
    return (CLOSE if tolerant and mismatched == 0 else DIFFERENT), max_abs, max_rel, mismatched


def _view(reader: CheckpointReader, name: str) -> np.ndarray:
    try:
        return reader.get_tensor(name, copy=False)
    except TypeError:
        return reader.get_tensor(name)


def diff_checkpoints(a: PathLike, b: PathLike, *, atol: float = 0.0, rtol: float = 0.0,
                     include_object_graph: bool = False, storage_options: StorageOptions = None) -> DiffResult:
    """Compare every tensor of checkpoints ``a`` and ``b`` (either may be a URL; ``storage_options`` go to fsspec).

    The object graph of TF2 checkpoints is metadata and is skipped unless asked.
    """
    opts = storage_options
    with load_checkpoint(a, storage_options=opts) as ra, load_checkpoint(b, storage_options=opts) as rb:
        result = DiffResult(ra.prefix, rb.prefix)
        ia, ib = ra.tensor_infos(), rb.tensor_infos()
        for name in sorted(set(ia) | set(ib)):
            if name == OBJECT_GRAPH_KEY and not include_object_graph:
                continue
            if name not in ib:
                x = ia[name]
                result.tensors.append(TensorDiff(name, ONLY_A, x.dtype.tf_name, None, list(x.shape)))
                continue
            if name not in ia:
                y = ib[name]
                result.tensors.append(TensorDiff(name, ONLY_B, None, y.dtype.tf_name, None, list(y.shape)))
                continue
            x, y = ia[name], ib[name]
            entry = TensorDiff(name, IDENTICAL, x.dtype.tf_name, y.dtype.tf_name, list(x.shape), list(y.shape))
            if x.dtype.enum != y.dtype.enum:
                entry.status = DTYPE
                if x.shape == y.shape and x.dtype.is_pod and y.dtype.is_pod:
                    # Still say how far the values moved (e.g. after a cast to bfloat16).
                    va = _as_numeric(np.asarray(_view(ra, name)))
                    vb = _as_numeric(np.asarray(_view(rb, name)))
                    _, entry.max_abs, entry.max_rel, entry.mismatched = compare_arrays(va, vb, atol=atol, rtol=rtol)
                    del va, vb
            elif x.shape != y.shape:
                entry.status = SHAPE
            else:
                va, vb = _view(ra, name), _view(rb, name)
                entry.status, entry.max_abs, entry.max_rel, entry.mismatched = compare_arrays(
                    va, vb, atol=atol, rtol=rtol)
                del va, vb
            result.tensors.append(entry)
    return result
