"""Summary statistics of tensor values, computed in bounded memory."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

# Elements per chunk when computing statistics: bounds the temporary memory.
_STATS_CHUNK = 1 << 20


def tensor_stats(value: np.ndarray) -> dict[str, Any]:
    """Summary statistics of one tensor, computed chunk by chunk.

    Numbers: min, max, mean and population std over the finite values (complex:
    over magnitudes), and NaN / Inf counts. Strings: count and lengths.
    """
    flat = value.reshape(-1)
    if flat.dtype == object:
        lengths = np.fromiter((len(v) for v in flat), dtype=np.int64, count=flat.size)
        return {"count": int(flat.size),
                "min_length": int(lengths.min()) if lengths.size else None,
                "max_length": int(lengths.max()) if lengths.size else None,
                "mean_length": float(lengths.mean()) if lengths.size else None}
    if flat.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None, "nan": 0, "inf": 0}
    with np.errstate(invalid="ignore", over="ignore"):
        return _numeric_stats(flat)


def _numeric_stats(flat: np.ndarray) -> dict[str, Any]:
    count = 0
    mean = 0.0
    m2 = 0.0
    low: Optional[float] = None
    high: Optional[float] = None
    nans = infs = 0
    for start in range(0, flat.size, _STATS_CHUNK):
        chunk = flat[start:start + _STATS_CHUNK]
        if chunk.dtype.kind == "c":
            nan_mask = np.isnan(chunk)
            inf_mask = np.isinf(chunk)
            nans += int(nan_mask.sum())
            infs += int(inf_mask.sum())
            data = np.abs(chunk[~(nan_mask | inf_mask)].astype(np.complex128))
        elif chunk.dtype.kind in "iub":
            data = chunk.astype(np.float64)
        else:
            data = chunk.astype(np.float64)  # float16, bfloat16, float8 ... widen first
            nan_mask = np.isnan(data)
            inf_mask = np.isinf(data)
            nans += int(nan_mask.sum())
            infs += int(inf_mask.sum())
            if nans or infs:
                data = data[~(nan_mask | inf_mask)]
        n = data.size
        if not n:
            continue
        chunk_mean = float(data.mean())
        chunk_m2 = float(((data - chunk_mean) ** 2).sum())
        # Chan et al.'s pairwise update: merge the chunk's mean and M2 into the running ones.
        delta = chunk_mean - mean
        total = count + n
        mean += delta * n / total
        m2 += chunk_m2 + delta * delta * count * n / total
        count = total
        cmin, cmax = float(data.min()), float(data.max())
        low = cmin if low is None else min(low, cmin)
        high = cmax if high is None else max(high, cmax)
    return {"min": low, "max": high, "mean": mean if count else None,
            "std": math.sqrt(m2 / count) if count else None, "nan": nans, "inf": infs}


