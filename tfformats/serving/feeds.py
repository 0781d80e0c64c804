"""Input values for running a model: read from ``.npy``/``.npz`` files, or random ones of the right shapes."""

from __future__ import annotations

import os
import zipfile
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..errors import ArgumentError, FormatError, ModelNotFoundError


def read_feed_arg(text: str) -> dict[str, np.ndarray]:
    """``KEY=FILE.npy`` -> ``{KEY: array}``; ``FILE.npz`` -> every member under its own name."""
    key, sep, path = text.partition("=")
    if not sep:
        key, path = "", text
    if not path:
        raise ArgumentError(f"expected KEY=FILE.npy or FILE.npz, not {text!r}")
    if not os.path.isfile(path):
        raise ModelNotFoundError("no such input file", path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FormatError(f"not a .npy or .npz file numpy can read without pickle: {exc}", path) from None
    if isinstance(loaded, np.ndarray):
        if not key:
            raise ArgumentError(f"{path}: a .npy file holds one array; name its input with KEY={path}")
        return {key: loaded}
    with loaded:
        arrays = {name: loaded[name] for name in loaded.files}
    if key:
        if len(arrays) != 1:
            raise ArgumentError(f"{path}: KEY=FILE needs a .npz with one array; this one has {len(arrays)} "
                                "(give FILE.npz alone to feed each array by its name)")
        return {key: next(iter(arrays.values()))}
    return arrays


def read_feeds(args: Sequence[str]) -> dict[str, np.ndarray]:
    """Every ``--input`` argument merged; a key given twice is refused."""
    feeds: dict[str, np.ndarray] = {}
    for text in args:
        for key, value in read_feed_arg(text).items():
            if key in feeds:
                raise ArgumentError(f"input {key!r} is given twice")
            feeds[key] = value
    return feeds


def concrete_shape(shape: Optional[Sequence[Any]], unknown: int = 1, *, name: str = "input") -> tuple[int, ...]:
    """A shape to draw values for: unknown dims (None, -1, 0-as-unset, names) become ``unknown``."""
    if shape is None:
        raise ArgumentError(f"{name} has unknown rank; feed it a value instead of a random one")
    return tuple(int(d) if isinstance(d, (int, np.integer)) and d > 0 else unknown for d in shape)


def random_array(dtype: np.dtype, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Values suited to ``dtype``: floats in [-1, 1), small non-negative ints, random bools."""
    dt = np.dtype(dtype)
    if dt.kind == "f" or dt.kind == "V" and dt.itemsize in (1, 2):  # ml_dtypes floats report kind 'V'
        return rng.uniform(-1.0, 1.0, size=shape).astype(dt)
    if dt.kind == "c":
        return (rng.uniform(-1, 1, size=shape) + 1j * rng.uniform(-1, 1, size=shape)).astype(dt)
    if dt.kind in "iu":
        return rng.integers(0, 4, size=shape).astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "OSU":
        return np.array([f"s{i}".encode() for i in range(int(np.prod(shape)))], dtype=object).reshape(shape)
    raise ArgumentError(f"cannot draw random values of dtype {dt}")


def random_feeds(specs: Mapping[str, tuple[np.dtype, Optional[Sequence[Any]]]], *, unknown: int = 1,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """``{name: random array}`` for ``{name: (dtype, shape)}``."""
    rng = np.random.default_rng(seed)
    return {name: random_array(dtype, concrete_shape(shape, unknown, name=f"input {name!r}"), rng)
            for name, (dtype, shape) in specs.items()}


__all__ = ["concrete_shape", "random_array", "random_feeds", "read_feed_arg", "read_feeds"]
