"""TensorFlow reads and restores what tfformats writes and edits.

Runs in the TensorFlow environment; skipped when TensorFlow is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

tf = pytest.importorskip("tensorflow", reason="oracle tests need TensorFlow")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tfformats import dtypes  # noqa: E402
from tfformats.bundle.writer import BundleWriter  # noqa: E402
from tfformats.checkpoint import load_checkpoint  # noqa: E402
from tfformats.save import save_checkpoint  # noqa: E402

RNG = np.random.default_rng(4)


def _tf_can_hold(row: dtypes.DType) -> bool:
    try:
        tf.as_dtype(row.enum)
        return True
    except Exception:
        return False


def _random(row: dtypes.DType, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    if row.is_string:
        arr = np.empty(n, dtype=object)
        arr[:] = [bytes(RNG.integers(0, 256, size=int(RNG.integers(0, 300)), dtype=np.uint8)) for _ in range(n)]
        return arr.reshape(shape)
    assert row.numpy is not None
    if row.numpy == np.bool_:
        return RNG.integers(0, 2, size=shape).astype(np.bool_)
    if row.numpy.kind == "f" or row.numpy.kind == "c" or row.numpy.kind == "V" or row.itemsize == 1 and \
            row.numpy.kind not in "iu":
        return (RNG.standard_normal(shape) * 3).astype(row.numpy)
    if row.numpy.kind in "iu" and row.numpy.itemsize >= 1 and row.name not in ("int4", "uint4", "int2", "uint2"):
        info = np.iinfo(row.numpy)
        return RNG.integers(int(info.min), int(info.max), size=shape, endpoint=True, dtype=row.numpy)
    return RNG.integers(0, 2, size=shape).astype(row.numpy)


STORABLE = [row for row in dtypes.BY_ENUM.values() if row.numpy is not None and _tf_can_hold(row)]


def _same(a: Any, b: np.ndarray) -> bool:
    a = np.asarray(a)
    if b.dtype == object:
        return a.shape == b.shape and [bytes(x) for x in a.ravel()] == [bytes(x) for x in b.ravel()]
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def test_tf_reads_every_dtype_we_write_across_shards(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray] = {}
    stored: dict[str, dtypes.DType] = {}
    for row in STORABLE:
        for shape in [(), (0,), (3, 2)]:
            name = f"{row.name}/{len(shape)}_{int(np.prod(shape))}"
            tensors[name] = _random(row, shape)
            stored[name] = row
    prefix = save_checkpoint(tmp_path / "ck", tensors, num_shards=3, dtypes=stored)
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    tf_dtypes = reader.get_variable_to_dtype_map()
    assert sorted(shapes) == sorted(tensors)
    for name, value in tensors.items():
        assert tf_dtypes[name].as_datatype_enum == stored[name].enum, name
        assert list(shapes[name]) == list(value.shape), name
        got = reader.get_tensor(name)
        if stored[name].name.startswith("q"):
            got = np.asarray(got).view(stored[name].numpy)
        assert _same(got, value), name


def test_tf_reads_large_strings_and_sliced_tensors(tmp_path: Path) -> None:
    strings = np.array([b"", b"x" * 70000, "ünïcode".encode(), b"\x00\xff"], dtype=object).reshape(2, 2)
    full = RNG.standard_normal((10, 3)).astype(np.float32)
    with BundleWriter(tmp_path / "ck", num_shards=2) as writer:
        writer.add("strings", strings)
        writer.add_slice("part", (10, 3), [(0, 4), (0, -1)], full[:4], shard=1)
        writer.add_slice("part", (10, 3), [(4, 6), (0, -1)], full[4:], shard=0)
    reader = tf.train.load_checkpoint(str(tmp_path / "ck"))
    assert _same(reader.get_tensor("strings"), strings)
    np.testing.assert_array_equal(reader.get_tensor("part"), full)


def test_tf1_saver_restores_a_checkpoint_we_wrote_into_its_graph(tmp_path: Path) -> None:
    values = {"dense/kernel": RNG.standard_normal((4, 3)).astype(np.float32),
              "dense/bias": RNG.standard_normal(3).astype(np.float64),
              "step": np.int64(17),
              "vocab": np.array([b"a", b"bb", b""], dtype=object)}
    prefix = save_checkpoint(tmp_path / "model.ckpt", values, update_state=True)
    graph = tf.Graph()
    with graph.as_default():
        variables = {
            "dense/kernel": tf.compat.v1.get_variable("dense/kernel", (4, 3), tf.float32),
            "dense/bias": tf.compat.v1.get_variable("dense/bias", (3,), tf.float64),
            "step": tf.compat.v1.get_variable("step", (), tf.int64),
            "vocab": tf.compat.v1.get_variable("vocab", (3,), tf.string, initializer=tf.compat.v1.zeros_initializer()),
        }
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
            for name, var in variables.items():
                assert _same(sess.run(var), np.asarray(values[name], dtype=values[name].dtype)), name
    assert prefix == str(tmp_path / "model.ckpt")
