"""to_numpy / from_numpy: round trips for every dtype, and agreement with tf.make_ndarray."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest

import tfformats as tff
from graph_cases import GRAPHS_DIR
from tfformats import dtypes
from tfformats.graphs import read_graph_def

CASE = GRAPHS_DIR / "tensor_protos"
DOC = json.loads((CASE / "case.json").read_text())["tensors"]


def _tf_expected(name: str, arrays) -> np.ndarray:
    entry = DOC[name]
    if "strings" in entry:
        out = np.empty(len(entry["strings"]), dtype=object)
        out[:] = [bytes.fromhex(h) for h in entry["strings"]]
        return out.reshape(entry["shape"])
    if entry["numpy_dtype"].startswith("void"):
        # TF returns quantized types as one-field structured arrays; compare their bytes as plain ints.
        return np.frombuffer(arrays[name].tobytes(), dtype=f"i{int(entry['numpy_dtype'][4:]) // 8}").reshape(
            entry["shape"])
    dt = getattr(ml_dtypes, entry["numpy_dtype"], None) or np.dtype(entry["numpy_dtype"])
    return np.frombuffer(arrays[name].tobytes(), dtype=dt).reshape(entry["shape"])


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == object:
        return a.tolist() == b.tolist()
    return a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", sorted(k for k, v in DOC.items() if "tf_error" not in v))
def test_to_numpy_equals_tf_make_ndarray_on_tensorflow_written_protos(name: str) -> None:
    graph = read_graph_def(CASE / "tensor_protos.pb")
    node = next(n for n in graph.node if n.name == name)
    with np.load(CASE / "case.npz") as arrays:
        want = _tf_expected(name, arrays)
    assert _same(tff.to_numpy(node.attr["value"].tensor), want)


def _sample(row: dtypes.DType) -> np.ndarray:
    if row.is_string:
        return np.array([[b"a", b""], [b"\x00\xff", b"xyz"]], dtype=object)
    if row.enum == dtypes.BOOL:
        return np.array([[True, False], [False, True]])
    raw = np.arange(-2, 2).reshape(2, 2)
    if row.numpy.kind == "u":
        raw = raw + 2
    if row.numpy.kind == "c":
        return (raw + 1j * raw[::-1]).astype(row.numpy)
    return raw.astype(row.numpy)


ROUND_TRIP = [r for r in dtypes.BY_ENUM.values() if r.numpy is not None and r.enum not in (dtypes.VARIANT,)]


@pytest.mark.parametrize("row", ROUND_TRIP, ids=lambda r: r.name)
@pytest.mark.parametrize("shape", [(2, 2), (), (0, 3)], ids=str)
def test_from_numpy_round_trips_every_dtype(row: dtypes.DType, shape: tuple) -> None:
    full = _sample(row)
    value = full.reshape(-1)[:1].reshape(()) if shape == () else (full if shape == (2, 2) else
                                                                   np.zeros(shape, full.dtype))
    proto = tff.from_numpy(value, row)
    assert proto.dtype == row.enum
    assert _same(tff.to_numpy(proto), value)
