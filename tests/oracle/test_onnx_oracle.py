"""ONNX models from ``to_onnx`` give what TensorFlow gives on the original (runs in the TensorFlow env).

Keras models are built with random weights and exported in this run; TensorFlow's outputs are the
reference, computed here on the same inputs. float32 within rtol=1e-4, atol=1e-5; integers exact.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.oracle

import tfformats as tff  # noqa: E402
from graph_cases import load_case  # noqa: E402

keras = tf.keras
RTOL, ATOL = 1e-4, 1e-5


def _apps() -> dict[str, Callable[[], Any]]:
    a = keras.applications
    return {
        "mobilenet_v2": lambda: a.MobileNetV2(weights=None, input_shape=(96, 96, 3)),
        "resnet50": lambda: a.ResNet50(weights=None, input_shape=(96, 96, 3)),
        "efficientnet_b0": lambda: a.EfficientNetB0(weights=None, input_shape=(96, 96, 3)),
        "densenet121": lambda: a.DenseNet121(weights=None, input_shape=(96, 96, 3)),
        "inception_v3": lambda: a.InceptionV3(weights=None, input_shape=(75, 75, 3)),
    }


def _transformer() -> Any:
    inp = keras.Input((None, 16))
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp)
    x = keras.layers.LayerNormalization()(x + inp)
    f = keras.layers.Dense(32, activation="gelu")(x)
    x = keras.layers.LayerNormalization()(x + keras.layers.Dense(16)(f))
    return keras.Model(inp, keras.layers.Softmax()(x))


def _rnn(layer: Any) -> Callable[[], Any]:
    def build() -> Any:
        inp = keras.Input((None, 8))
        return keras.Model(inp, layer()(inp))
    return build


def _embedding() -> Any:
    inp = keras.Input((None,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(50, 8)(inp))
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))


def _conv1d() -> Any:
    inp = keras.Input((20, 4))
    x = keras.layers.MaxPooling1D()(keras.layers.Conv1D(6, 3, activation="relu")(inp))
    return keras.Model(inp, keras.layers.Flatten()(x))


MODELS: dict[str, Callable[[], Any]] = {
    **_apps(), "transformer": _transformer, "lstm": _rnn(lambda: keras.layers.LSTM(12)),
    "lstm_sequences": _rnn(lambda: keras.layers.LSTM(12, return_sequences=True)),
    "gru": _rnn(lambda: keras.layers.GRU(12, return_sequences=True)), "embedding": _embedding, "conv1d": _conv1d,
}
CNNS = set(_apps())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            keras.utils.set_random_seed(1)
            path = tmp_path_factory.mktemp("keras") / name
            MODELS[name]().export(str(path), verbose=False)
            cache[name] = path
        return cache[name]
    return get


def _feeds(model: Any, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in model.graph.input:
        t = info.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (2 if i == 0 else steps) for i, d in enumerate(t.shape.dim)]
        if t.elem_type == onnx.TensorProto.FLOAT:
            feeds[info.name] = rng.standard_normal(dims).astype(np.float32)
        else:
            feeds[info.name] = rng.integers(0, 50, dims).astype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type))
    return feeds


def _session(model: Any) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _compare(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, what
    if np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_model_converts_and_matches_tensorflow(name: str, exported: Callable[[str], Path]) -> None:
    path = exported(name)
    model = tff.to_onnx(path)
    onnx.checker.check_model(model, full_check=True)
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert [i.name for i in model.graph.input] == sorted(signature.structured_input_signature[1])
    assert [o.name for o in model.graph.output] == sorted(signature.structured_outputs)
    session = _session(model)
    for steps in (5, 9):  # two sequence lengths: While loops run a number of steps known only at run time
        feeds = _feeds(model, steps)
        want = signature(**{k: tf.constant(v) for k, v in feeds.items()})
        for out, got in zip(model.graph.output, session.run(None, feeds)):
            _compare(got, want[out.name].numpy(), f"{name} {out.name} steps={steps}")


@pytest.mark.parametrize("name", sorted(CNNS))
def test_converted_cnn_has_one_transpose_for_its_one_layout_change(name: str, exported: Callable[[str], Path]) -> None:
    model = tff.to_onnx(exported(name))
    ops = Counter(n.op_type for n in model.graph.node)
    # NHWC image in, class scores out: the only layout change is the image entering channels-first
    assert ops["Transpose"] == 1


@pytest.mark.parametrize("name", ["lstm", "lstm_sequences"])
def test_keras_lstm_loop_becomes_one_onnx_lstm_node(name: str, exported: Callable[[str], Path]) -> None:
    ops = Counter(n.op_type for n in tff.to_onnx(exported(name)).graph.node)
    assert ops["LSTM"] == 1 and ops["Loop"] == 0


def _tf_run(graph_def: Any, fetches: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    from tensorflow.core.framework import graph_pb2

    theirs = graph_pb2.GraphDef()
    theirs.ParseFromString(graph_def.SerializeToString())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(theirs, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return list(sess.run(fetches, feeds))


TF1_CASES = ["cnn_bn", "cond_while_v1", "functional_if_v2", "mlp", "resource_embedding", "saver_dict", "seed_ema",
             "seed_xyb", "tf1_saved_model"]


@pytest.mark.parametrize("name", TF1_CASES)
def test_tf1_fixture_matches_tensorflow_running_the_frozen_graph(name: str) -> None:
    from graph_cases import freeze_case

    case = load_case(name)
    frozen = freeze_case(case)
    model = tff.to_onnx(frozen, outputs=case.fetches, inputs=list(case.feeds))
    onnx.checker.check_model(model, full_check=True)
    want = _tf_run(frozen, case.fetches, case.feeds)
    got = _session(model).run(case.fetches, case.feeds)
    for fetch, g, w in zip(case.fetches, got, want):
        _compare(g, np.asarray(w), f"{name} {fetch}")


def _tf1_rnn_graph(cell: str) -> tuple[Any, list[str], dict[str, np.ndarray]]:
    """A frozen graph as TF 1.x wrote them: a statically unrolled LSTM or GRU over 4 steps."""
    rng = np.random.default_rng(3)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4, 5], name="x")
        steps = tf.unstack(x, axis=1)
        units = 6
        h = tf.zeros([tf.shape(x)[0], units])
        c = tf.zeros([tf.shape(x)[0], units])
        gates = 4 if cell == "lstm" else 3
        w = tf.constant(rng.standard_normal((5 + units, gates * units)).astype(np.float32) * 0.3)
        b = tf.constant(rng.standard_normal(gates * units).astype(np.float32) * 0.1)
        for t, xt in enumerate(steps):
            z = tf.nn.bias_add(tf.matmul(tf.concat([xt, h], 1), w), b)
            if cell == "lstm":
                i, f, g, o = tf.split(z, 4, axis=1)
                c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
                h = tf.sigmoid(o) * tf.tanh(c)
            else:
                r, u, n = tf.split(z, 3, axis=1)
                h = tf.sigmoid(u) * h + (1 - tf.sigmoid(u)) * tf.tanh(n * tf.sigmoid(r))
        tf.identity(h, name="out")
    graph_def = tff.proto.GraphDef()
    graph_def.ParseFromString(graph.as_graph_def().SerializeToString())
    return graph_def, ["out:0"], {"x:0": rng.standard_normal((3, 4, 5)).astype(np.float32)}


def _tf1_autoencoder() -> tuple[Any, list[str], dict[str, np.ndarray]]:
    rng = np.random.default_rng(4)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 1], name="x")
        k1 = tf.constant(rng.standard_normal((3, 3, 1, 4)).astype(np.float32) * 0.3)
        h = tf.nn.relu(tf.nn.conv2d(x, k1, strides=2, padding="SAME"))
        k2 = tf.constant(rng.standard_normal((3, 3, 4, 8)).astype(np.float32) * 0.3)
        h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(h, k2, strides=1, padding="SAME")), 2, 2, "VALID")
        h = tf.compat.v1.image.resize_nearest_neighbor(h, [4, 4])
        # conv2d_transpose filters are [h, w, out, in]
        k3 = tf.constant(rng.standard_normal((3, 3, 4, 8)).astype(np.float32) * 0.3)
        h = tf.nn.relu(tf.nn.conv2d_transpose(h, k3, [tf.shape(x)[0], 8, 8, 4], strides=2, padding="SAME"))
        k4 = tf.constant(rng.standard_normal((3, 3, 1, 4)).astype(np.float32) * 0.3)
        h = tf.nn.conv2d_transpose(h, k4, [2, 10, 10, 1], strides=1, padding="VALID")
        tf.sigmoid(h[:, :8, :8, :], name="out")
    graph_def = tff.proto.GraphDef()
    graph_def.ParseFromString(graph.as_graph_def().SerializeToString())
    return graph_def, ["out:0"], {"x:0": rng.standard_normal((2, 8, 8, 1)).astype(np.float32)}


def _tf1_while_with_cond() -> tuple[Any, list[str], dict[str, np.ndarray]]:
    """A TF1 while_loop (Enter/Merge/Switch/Exit) running n steps, n fed at run time, with a tf.cond inside."""
    rng = np.random.default_rng(5)
    tf.compat.v1.disable_control_flow_v2()
    try:
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
            n = tf.compat.v1.placeholder(tf.int32, [], name="n")
            w = tf.constant(rng.standard_normal((3, 3)).astype(np.float32) * 0.5)

            def body(i: Any, acc: Any, total: Any) -> Any:
                acc = tf.cond(tf.equal(i % 2, 0), lambda: tf.tanh(acc @ w), lambda: acc * 0.5 + 1.0)
                return i + 1, acc, total + tf.reduce_sum(acc)

            _, acc, total = tf.compat.v1.while_loop(lambda i, a, t: i < n, body, [tf.constant(0), x, tf.constant(0.0)])
            tf.identity(acc, name="acc")
            tf.identity(total, name="total")
    finally:
        tf.compat.v1.enable_control_flow_v2()
    graph_def = tff.proto.GraphDef()
    graph_def.ParseFromString(graph.as_graph_def().SerializeToString())
    assert any(node.op == "Enter" for node in graph_def.node)
    feeds = {"x:0": rng.standard_normal((2, 3)).astype(np.float32), "n:0": np.array(5, np.int32)}
    return graph_def, ["acc:0", "total:0"], feeds


@pytest.mark.parametrize("build", [lambda: _tf1_rnn_graph("lstm"), lambda: _tf1_rnn_graph("gru"), _tf1_autoencoder,
                                   _tf1_while_with_cond],
                         ids=["unrolled_lstm", "unrolled_gru", "autoencoder", "while_loop_v1_with_cond"])
def test_tf1_style_frozen_graph_matches_tensorflow(build: Callable[[], Any]) -> None:
    graph_def, fetches, feeds = build()
    model = tff.to_onnx(graph_def, outputs=fetches)
    onnx.checker.check_model(model, full_check=True)
    want = _tf_run(graph_def, fetches, feeds)
    got = _session(model).run(fetches, feeds)
    for fetch, g, w in zip(fetches, got, want):
        _compare(g, np.asarray(w), fetch)


_ = os


def test_tensor_array_filled_in_fewer_rounds_than_reserved_stacks_unset_rows_as_zeros() -> None:
    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([], tf.int32)])
    def fill(x: Any, n: Any) -> Any:
        ta = tf.TensorArray(tf.float32, size=6, element_shape=[2, 3])
        i = tf.constant(0)
        while i < n:
            ta = ta.write(i, x * tf.cast(i + 1, tf.float32))
            i += 1
        return ta.stack()

    graph = fill.get_concrete_function().graph
    graph_def = tff.proto.GraphDef()
    graph_def.ParseFromString(graph.as_graph_def().SerializeToString())
    fetch = graph.outputs[0].name
    inputs = [t.name for t in graph.inputs]
    model = tff.to_onnx(graph_def, inputs=inputs, outputs=[fetch])
    onnx.checker.check_model(model, full_check=True)
    session = _session(model)
    x = np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)
    for n in (6, 4, 0):
        want = fill(tf.constant(x), tf.constant(n)).numpy()
        got = session.run(None, {inputs[0]: x, inputs[1]: np.array(n, np.int32)})[0]
        _compare(got, want, f"n={n}")
