"""What tfformats' JSON documents hold beyond plain Python values: numpy scalars and arrays, bytes."""

from __future__ import annotations

from typing import Any


def json_default(value: Any) -> Any:
    """The ``default`` hook for ``json.dump``: numpy values become numbers and lists, bytes text (escaped)."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
