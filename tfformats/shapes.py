"""Tensor shapes read from files: the one validator and the one element count."""

from __future__ import annotations

import math
from typing import Optional, Sequence

from .errors import FormatError, PathLike

# TensorFlow's own limit on tensor rank.
MAX_RANK = 254
# No real tensor has more elements; beyond this a product of dims is damage (and would overflow int64 offsets).
MAX_ELEMENTS = 1 << 62


def num_elements(shape: Sequence[int]) -> int:
    """Elements of a tensor of ``shape`` (1 for a scalar)."""
    return math.prod(shape)


def check_shape(dims: Sequence[int], what: str, path: Optional[PathLike]) -> tuple[int, ...]:
    """Validate dimensions read from a file; reject negatives, absurd ranks and overflowing products."""
    if len(dims) > MAX_RANK:
        raise FormatError(f"{what} has rank {len(dims)}", path)
    total = 1
    for d in dims:
        if d < 0:
            raise FormatError(f"{what} has a negative dimension {d}", path)
        total *= d
        if total > MAX_ELEMENTS:
            raise FormatError(f"{what} has an absurd shape {list(dims)}", path)
    return tuple(int(d) for d in dims)
