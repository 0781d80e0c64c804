"""Read the expectations stored beside the TensorFlow-written fixtures.

Pure Python (numpy, ml_dtypes, json, base64): usable without TensorFlow and
without importing tfformats, so tests compare tfformats against what
TensorFlow itself read back when the fixtures were generated
(``tools/make_fixtures.py``).

Example::

    from fixture_data import all_prefixes, load_expected

    for prefix in all_prefixes():
        expected = load_expected(prefix)
        for key, value in expected.values.items():
            ...
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
CKPT_DIR = FIXTURES / "ckpt"
EXPECTED_SUFFIX = ".expected.json"


@dataclass(frozen=True)
class Expected:
    """What TensorFlow reported for one checkpoint prefix."""

    prefix: Path
    format: str  # "v2" (TensorBundle) or "v1" (legacy single-table checkpoint)
    shapes: dict[str, list[int]]
    dtypes: dict[str, str]  # TF names: "float32", "bfloat16", "string", "qint8", ...
    values: dict[str, np.ndarray]  # strings: object arrays of bytes
    sources: dict[str, str]  # "tf_reader", or "written" when TF could not read the tensor
    errors: dict[str, str]  # TF's error for every key whose source is "written"
    list_variables: list[tuple[str, list[int]]]
    latest_checkpoint: str | None  # as tf.train.latest_checkpoint(case dir), relative to the case dir
    tf_version: str
    object_graph_text: str | None  # TrackableObjectGraph in text format, if the bundle has one
    notes: dict[str, Any]  # case-specific remarks, e.g. dtypes TF refused to save


def case_dir(name: str) -> Path:
    """Return the directory of one checkpoint case, e.g. ``case_dir("tf1_saver")``."""
    path = CKPT_DIR / name
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint fixture case {name!r} in {CKPT_DIR}")
    return path


def _expected_files() -> list[Path]:
    return sorted(CKPT_DIR.glob(f"*/*{EXPECTED_SUFFIX}"))


def _prefix_of(expected_file: Path) -> Path:
    document = json.loads(expected_file.read_text(encoding="utf-8"))
    return expected_file.parent / document["prefix"]


def all_prefixes() -> list[Path]:
    """Every checkpoint prefix with expectations: V2 prefixes, V1 files or V1 shard globs."""
    return [_prefix_of(path) for path in _expected_files()]


def _find_expected_file(prefix: Path) -> Path:
    wanted = Path(prefix).absolute()
    for path in _expected_files():
        if _prefix_of(path).absolute() == wanted:
            return path
    raise FileNotFoundError(f"no {EXPECTED_SUFFIX} file records checkpoint prefix {prefix}")


def _numpy_dtype(name: str) -> np.dtype[Any]:
    """Resolve a stored numpy dtype name, including ml_dtypes names such as "bfloat16"."""
    if hasattr(ml_dtypes, name):
        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


def _decode_tensor(entry: dict[str, Any], arrays: Any) -> np.ndarray:
    shape = tuple(entry["shape"])
    if "base64" in entry:
        items = [base64.b64decode(text) for text in entry["base64"]]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)
    raw = np.asarray(arrays[entry["npz_key"]], dtype=np.uint8)
    return np.frombuffer(raw.tobytes(), dtype=_numpy_dtype(entry["numpy_dtype"])).reshape(shape).copy()


def load_expected(prefix_path: str | Path) -> Expected:
    """Load the expectations recorded for ``prefix_path`` (a path from ``all_prefixes()``)."""
    expected_file = _find_expected_file(Path(prefix_path))
    document = json.loads(expected_file.read_text(encoding="utf-8"))
    npz_file = expected_file.with_name(expected_file.name[: -len(".json")] + ".npz")
    tensors: dict[str, dict[str, Any]] = document["tensors"]
    with np.load(npz_file, allow_pickle=False) as arrays:
        values = {key: _decode_tensor(entry, arrays) for key, entry in tensors.items()}
    object_graph_text = None
    if "object_graph" in document:
        object_graph_text = (expected_file.parent / document["object_graph"]).read_text(encoding="utf-8")
    return Expected(
        prefix=expected_file.parent / document["prefix"],
        format=document["format"],
        shapes={key: list(entry["shape"]) for key, entry in tensors.items()},
        dtypes={key: entry["dtype"] for key, entry in tensors.items()},
        values=values,
        sources={key: entry["source"] for key, entry in tensors.items()},
        errors={key: entry["tf_error"] for key, entry in tensors.items() if "tf_error" in entry},
        list_variables=[(name, list(shape)) for name, shape in document["list_variables"]],
        latest_checkpoint=document["latest_checkpoint"],
        tf_version=document["tf_version"],
        object_graph_text=object_graph_text,
        notes=document.get("notes", {}),
    )


def assert_bit_equal(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """Tensors read from files compare bit for bit: same shape, dtype and bytes (strings: same bytes objects)."""
    assert actual.shape == expected.shape, name
    assert actual.dtype == expected.dtype, (name, actual.dtype, expected.dtype)
    if expected.dtype == object:
        items = actual.reshape(-1).tolist()
        assert all(type(v) is bytes for v in items), name
        assert items == expected.reshape(-1).tolist(), name
    else:
        assert actual.tobytes() == expected.tobytes(), name
