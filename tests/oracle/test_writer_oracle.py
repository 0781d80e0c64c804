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
from tfformats.checkpoint.loading import load_checkpoint  # noqa: E402
from tfformats.checkpoint.save import save_checkpoint  # noqa: E402

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


# -- edited checkpoints --------------------------------------------------------------------------

from tfformats.rewrite.edit import edit_checkpoint  # noqa: E402


def _keras_model(seed: int) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="relu", name="hidden"),
                             keras.layers.Dense(2, name="out")])


def test_keras_model_restores_after_optimizer_strip_and_predicts_the_same(tmp_path: Path) -> None:
    import keras

    x = RNG.standard_normal((16, 3)).astype(np.float32)
    model = _keras_model(1)
    optimizer = keras.optimizers.Adam(0.05)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, RNG.standard_normal((16, 2)).astype(np.float32), epochs=3, verbose=0)
    before = model.predict(x, verbose=0)
    src = tf.train.Checkpoint(model=model, optimizer=optimizer).save(str(tmp_path / "src" / "ckpt"))
    assert any(k.startswith("optimizer/_trainable_variables/") for k, _ in tf.train.list_variables(src))

    result = edit_checkpoint(src, tmp_path / "out" / "ckpt", strip_optimizer=True)
    edited_keys = {k for k, _ in tf.train.list_variables(result.prefix)}
    assert not any(k.startswith("optimizer/") for k in edited_keys)

    fresh = _keras_model(2)
    assert not np.allclose(fresh.predict(x, verbose=0), before)
    status = tf.train.Checkpoint(model=fresh).restore(result.prefix)
    status.assert_consumed()
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), before)

    # The keys are the ones TensorFlow itself gives the model saved without an optimizer.
    own = tf.train.Checkpoint(model=fresh).write(str(tmp_path / "tf_own" / "ckpt"))
    tf_keys = {k for k, _ in tf.train.list_variables(own)}
    assert edited_keys - {"save_counter/.ATTRIBUTES/VARIABLE_VALUE"} == tf_keys


def test_tf1_checkpoint_without_optimizer_restores_into_a_plain_graph(tmp_path: Path) -> None:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(3)
        x = tf.constant(RNG.standard_normal((8, 4)).astype(np.float32))
        w = tf.compat.v1.get_variable("dense/kernel", (4, 2))
        b = tf.compat.v1.get_variable("dense/bias", (2,), initializer=tf.compat.v1.ones_initializer())
        step = tf.compat.v1.train.get_or_create_global_step()
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w) + b))
        train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            want = sess.run({"w": w, "b": b, "step": step})
            src = saver.save(sess, str(tmp_path / "src" / "model.ckpt"), global_step=step)

    result = edit_checkpoint(src, tmp_path / "out" / "model.ckpt", strip_optimizer=True)
    assert sorted(k for k, _ in tf.train.list_variables(result.prefix)) == ["dense/bias", "dense/kernel",
                                                                            "global_step"]
    plain = tf.Graph()
    with plain.as_default():
        w2 = tf.compat.v1.get_variable("dense/kernel", (4, 2))
        b2 = tf.compat.v1.get_variable("dense/bias", (2,))
        step2 = tf.compat.v1.train.get_or_create_global_step()
        with tf.compat.v1.Session(graph=plain) as sess:
            tf.compat.v1.train.Saver().restore(sess, tf.train.latest_checkpoint(str(tmp_path / "out")))
            got = sess.run({"w": w2, "b": b2, "step": step2})
    for key in want:
        assert np.asarray(got[key]).tobytes() == np.asarray(want[key]).tobytes(), key


@pytest.mark.parametrize("make_optimizer", [
    lambda: tf.compat.v1.train.AdamOptimizer(0.1, name="MyAdam"),
    lambda: tf.compat.v1.train.MomentumOptimizer(0.1, 0.9, name="Mom"),
    lambda: tf.compat.v1.train.FtrlOptimizer(0.1, name="MyFtrl"),
], ids=["adam", "momentum", "ftrl"])
def test_tf1_strip_finds_slots_of_optimizers_with_custom_names_from_the_meta_graph(
        tmp_path: Path, make_optimizer: Any) -> None:
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.get_variable("dense/kernel", (3, 4), partitioner=tf.compat.v1.fixed_size_partitioner(2))
        b = tf.compat.v1.get_variable("dense/bias", (4,))
        step = tf.compat.v1.train.get_or_create_global_step()
        x = tf.constant(RNG.standard_normal((5, 3)).astype(np.float32))
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w) + b))
        train = make_optimizer().minimize(loss, global_step=step)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(train)
            src = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "src" / "model.ckpt"), global_step=step)
    original = {k for k, _ in tf.train.list_variables(src)}
    assert len(original) > 3  # the optimizer saved slots

    result = edit_checkpoint(src, tmp_path / "out" / "model.ckpt", strip_optimizer=True)
    kept = sorted(k for k, _ in tf.train.list_variables(result.prefix))
    assert kept == ["dense/bias", "dense/kernel", "global_step"]
    plain = tf.Graph()
    with plain.as_default():
        tf.compat.v1.get_variable("dense/kernel", (3, 4), partitioner=tf.compat.v1.fixed_size_partitioner(2))
        tf.compat.v1.get_variable("dense/bias", (4,))
        tf.compat.v1.train.get_or_create_global_step()
        with tf.compat.v1.Session(graph=plain) as sess:
            tf.compat.v1.train.Saver().restore(sess, result.prefix)


def test_strip_finds_a_keras_optimizer_not_called_optimizer(tmp_path: Path) -> None:
    import keras

    class Trainer(tf.Module):  # type: ignore[misc]
        def __init__(self, net: Any, opt: Any) -> None:
            super().__init__()
            self.net = net
            self.opt = opt

    x = RNG.standard_normal((6, 3)).astype(np.float32)
    model = _keras_model(3)
    opt = keras.optimizers.Adam(0.1)
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x)))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    before = model(x).numpy()
    src = tf.train.Checkpoint(trainer=Trainer(model, opt)).save(str(tmp_path / "src" / "ckpt"))

    result = edit_checkpoint(src, tmp_path / "out" / "ckpt", strip_optimizer=True)
    keys = {k for k, _ in tf.train.list_variables(result.prefix)}
    assert not any(k.startswith("trainer/opt/") for k in keys)
    fresh = _keras_model(4)
    status = tf.train.Checkpoint(trainer=Trainer(fresh, None)).restore(result.prefix)
    status.assert_consumed()
    np.testing.assert_array_equal(fresh(x).numpy(), before)


def test_keras_strip_reports_weights_only_the_optimizer_tracks(tmp_path: Path) -> None:
    import keras

    class Blocks(keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.first = keras.layers.Dense(3)
            self.blocks = [keras.layers.Dense(2)]  # a plain list: not tracked for tf.train.Checkpoint

        def call(self, x: Any) -> Any:
            return self.blocks[0](self.first(x))

    x = RNG.standard_normal((4, 3)).astype(np.float32)
    model = Blocks()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, np.ones((4, 2), np.float32), epochs=1, verbose=0)
    src = tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(str(tmp_path / "src" / "ckpt"))

    result = edit_checkpoint(src, tmp_path / "out" / "ckpt", strip_optimizer=True)
    notes = " ".join(result.plan.notes)
    assert "reachable only through" in notes
    assert "optimizer/_trainable_variables/2/.ATTRIBUTES/VARIABLE_VALUE" in notes


def test_use_ema_gives_the_values_of_ema_variables_to_restore(tmp_path: Path) -> None:
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.get_variable("w", initializer=tf.constant([1.0, 2.0, 3.0]))
        v = tf.compat.v1.get_variable("scope/v", initializer=tf.constant([[4.0, 5.0]]))
        counter = tf.compat.v1.get_variable("counter", initializer=tf.constant(0, tf.int64), trainable=False)
        ema = tf.compat.v1.train.ExponentialMovingAverage(0.7)
        update = ema.apply([w, v])
        bump = [w.assign_add([0.5, -1.0, 2.0]), v.assign_add([[3.0, -3.0]]), counter.assign_add(1)]
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for _ in range(4):
                sess.run(bump)
                sess.run(update)
            src = saver.save(sess, str(tmp_path / "src" / "model.ckpt"))

    def fresh_graph() -> tuple[Any, dict[str, Any]]:
        g = tf.Graph()
        with g.as_default():
            vars_ = {"w": tf.compat.v1.get_variable("w", (3,)), "scope/v": tf.compat.v1.get_variable("scope/v", (1, 2)),
                     "counter": tf.compat.v1.get_variable("counter", (), tf.int64, trainable=False)}
        return g, vars_

    g1, vars1 = fresh_graph()
    with g1.as_default():
        restore_map = tf.compat.v1.train.ExponentialMovingAverage(0.7).variables_to_restore()
        with tf.compat.v1.Session(graph=g1) as sess:
            tf.compat.v1.train.Saver(restore_map).restore(sess, src)
            want = sess.run(vars1)

    result = edit_checkpoint(src, tmp_path / "out" / "model.ckpt", use_ema=True)
    assert not any("ExponentialMovingAverage" in k for k, _ in tf.train.list_variables(result.prefix))
    g2, vars2 = fresh_graph()
    with g2.as_default():
        with tf.compat.v1.Session(graph=g2) as sess:
            tf.compat.v1.train.Saver().restore(sess, result.prefix)
            got = sess.run(vars2)
    for key in want:
        assert np.asarray(got[key]).tobytes() == np.asarray(want[key]).tobytes(), key
    assert not np.array_equal(want["w"], [1.0, 2.0, 3.0])


def test_tf2_checkpoint_with_a_dropped_variable_and_its_slots_still_restores(tmp_path: Path) -> None:
    class Model(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(RNG.standard_normal((4, 3)).astype(np.float32))
            self.b = tf.Variable(np.zeros(3, np.float32))

    model = Model()
    optimizer = tf.compat.v1.train.AdamOptimizer(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.matmul(tf.ones((2, 4)), model.w) + model.b)
    optimizer.apply_gradients(zip(tape.gradient(loss, [model.w, model.b]), [model.w, model.b]))
    src = tf.train.Checkpoint(model=model, optimizer=optimizer).save(str(tmp_path / "src" / "ckpt"))

    result = edit_checkpoint(src, tmp_path / "out" / "ckpt", drop=[r"^model/w/\.ATTRIBUTES/"],
                             rename=["^model/b/=model/b/"])
    keys = {k for k, _ in tf.train.list_variables(result.prefix)}
    assert not any(k.startswith("model/w/") for k in keys)

    fresh = Model()
    fresh_opt = tf.compat.v1.train.AdamOptimizer(0.1)
    w_before = fresh.w.numpy().copy()
    tf.train.Checkpoint(model=fresh, optimizer=fresh_opt).restore(result.prefix).expect_partial()
    np.testing.assert_array_equal(fresh.b.numpy(), model.b.numpy())
    np.testing.assert_array_equal(fresh.w.numpy(), w_before)


def test_round_trip_tf_edit_tf_is_bit_exact_for_untouched_tensors(tmp_path: Path) -> None:
    values = {"a": RNG.standard_normal((50, 7)).astype(np.float32),
              "b": np.array([np.nan, -0.0, np.inf], np.float64),
              "c": np.array([b"x", b"\x00y"], dtype=object),
              "drop_me": np.ones(3, np.int8)}
    ckpt = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()})
    src = ckpt.write(str(tmp_path / "src" / "ckpt"))
    result = edit_checkpoint(src, tmp_path / "out" / "ckpt", drop=["drop_me"], num_shards=2)
    theirs, ours = tf.train.load_checkpoint(src), tf.train.load_checkpoint(result.prefix)
    for key in theirs.get_variable_to_shape_map():
        if key.startswith("drop_me"):
            assert not ours.has_tensor(key)
            continue
        if key == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue  # rewritten on purpose: it no longer lists drop_me
        assert _same(ours.get_tensor(key), np.asarray(theirs.get_tensor(key))), key


def test_safetensors_export_of_a_tf_checkpoint_loads_equal(tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from tfformats.rewrite.export import export_safetensors

    values = {"w": RNG.standard_normal((6, 5)).astype(np.float32), "i": np.arange(4, dtype=np.int32),
              "h": RNG.standard_normal(3).astype(np.float16)}
    src = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()}).write(str(tmp_path / "ck"))
    export_safetensors(src, tmp_path / "o.safetensors", rename=["/.ATTRIBUTES/VARIABLE_VALUE$="])
    loaded = safetensors_numpy.load_file(str(tmp_path / "o.safetensors"))
    reader = tf.train.load_checkpoint(src)
    assert sorted(loaded) == sorted(values)
    for name in values:
        want = reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")
        assert loaded[name].dtype == want.dtype and loaded[name].tobytes() == want.tobytes(), name


def test_tf_reads_large_tensors_copied_by_the_kernel_after_an_edit(tmp_path: Path) -> None:
    from tfformats._io.transfer import KERNEL_COPY_MIN

    n = KERNEL_COPY_MIN // 4 + 77  # past the kernel-copy size, and not a multiple of the copy alignment
    values = {"first": np.arange(3, dtype=np.int64), "x": RNG.standard_normal(n).astype(np.float32),
              "y": RNG.standard_normal((n // 3, 3)).astype(np.float32)}
    src = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()}).write(str(tmp_path / "src" / "ck"))
    result = edit_checkpoint(src, tmp_path / "out" / "ck", drop=["^first/"], update_state=False)
    theirs, ours = tf.train.load_checkpoint(src), tf.train.load_checkpoint(result.prefix)
    for name in ("x", "y"):
        key = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
        assert ours.get_tensor(key).tobytes() == theirs.get_tensor(key).tobytes(), name
    restored = tf.train.Checkpoint(**{k: tf.Variable(tf.zeros_like(v)) for k, v in values.items() if k != "first"})
    restored.read(result.prefix).expect_partial()
    assert restored.x.numpy().tobytes() == values["x"].tobytes()


def test_use_ema_on_a_keras_optimizer_with_moving_averages(tmp_path: Path) -> None:
    """--use-ema with a Keras optimizer built with use_ema=True: the model gets the averages."""
    import keras

    x = RNG.standard_normal((16, 3)).astype(np.float32)
    model = _keras_model(3)
    optimizer = keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=None)
    y = RNG.standard_normal((16, 2)).astype(np.float32)
    for _ in range(3):  # manual steps: fit() would copy the averages into the weights at the end
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    averages = [v.numpy() for v in optimizer._model_variables_moving_average]
    weights = [v.numpy() for v in model.trainable_variables]
    assert not all(np.array_equal(a, w) for a, w in zip(averages, weights))
    src = tf.train.Checkpoint(model=model, optimizer=optimizer).save(str(tmp_path / "src" / "ckpt"))

    result = edit_checkpoint(src, tmp_path / "out" / "ckpt", strip_optimizer=True, use_ema=True)
    fresh = _keras_model(4)
    tf.train.Checkpoint(model=fresh).restore(result.prefix).assert_consumed()
    for got, want in zip(fresh.trainable_variables, averages):
        np.testing.assert_array_equal(got.numpy(), want)
