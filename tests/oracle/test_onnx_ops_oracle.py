"""One small TensorFlow graph per op family: the ONNX conversion gives what TensorFlow gives.

Each case builds a graph from placeholders in graph mode, runs it in a TensorFlow session and in
onnxruntime on the same random inputs (float32 rtol=1e-4, atol=1e-5; integers and booleans exact).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.oracle

import tfformats as tff  # noqa: E402

F = tf.float32
I = tf.int32  # noqa: E741

# name -> (input specs [(dtype, shape, low, high)], build(*placeholders) -> output tensor(s))
CASES: dict[str, tuple[list[tuple[Any, tuple[int, ...], int, int]], Callable[..., Any]]] = {
    "unary_math": ([(F, (2, 3, 4), 0, 0)], lambda x: [tf.nn.elu(x), tf.nn.selu(x), tf.nn.softplus(x),
                                                      tf.nn.leaky_relu(x, 0.1), tf.square(x), tf.abs(x),
                                                      tf.math.rsqrt(tf.abs(x) + 1), tf.math.log1p(tf.abs(x)),
                                                      tf.math.expm1(x), tf.math.erfc(x), tf.sign(x), tf.floor(x),
                                                      tf.math.reciprocal(x + 10), tf.nn.relu6(x * 4)]),
    "binary_math": ([(F, (2, 3), 0, 0), (F, (3,), 0, 0)], lambda x, y: [
        x - y, x * y, x / (tf.abs(y) + 1), tf.maximum(x, y), tf.minimum(x, y), tf.math.squared_difference(x, y),
        tf.pow(tf.abs(x) + 1, y), tf.math.floormod(x, tf.abs(y) + 1), tf.math.floordiv(x, tf.abs(y) + 1),
        tf.clip_by_value(x, -0.5, 0.5), tf.add_n([x, x, x])]),
    "integer_floor_div_mod": ([(I, (12,), -9, 9), (I, (12,), 1, 5)], lambda x, y: [
        tf.math.floordiv(x, y), tf.math.floordiv(x, -y), tf.math.floormod(x, y), tf.math.floormod(x, -y)]),
    "compare_select": ([(F, (3, 4), 0, 0), (F, (3, 4), 0, 0)], lambda x, y: [
        tf.where(x > y, x, y), tf.cast(tf.less_equal(x, y), tf.int32), tf.cast(tf.not_equal(x, y), tf.float32),
        tf.compat.v1.where(tf.reduce_sum(x, 1) > 0, x, y),
        tf.cast(tf.logical_and(x > 0, tf.logical_not(y > 0)), tf.int32)]),
    "reductions": ([(F, (2, 3, 4), 0, 0)], lambda x: [
        tf.reduce_mean(x, [1]), tf.reduce_sum(x, [0, 2], keepdims=True), tf.reduce_max(x, -1),
        tf.reduce_min(x, [1, 2]), tf.reduce_prod(x, [2]), tf.argmax(x, 1), tf.argmin(x, -1, output_type=tf.int32),
        tf.cast(tf.reduce_all(x > -1, 1), tf.int32), tf.cast(tf.reduce_any(x > 1, [0, 1]), tf.int32)]),
    "strided_slices": ([(F, (4, 5, 6), 0, 0)], lambda x: [
        x[1:3], x[:, ::2], x[..., 1], x[-1], x[:, tf.newaxis, 2:4], x[::-1, 1:, ::-2], x[1, ..., ::3],
        x[:, -3:-1, tf.newaxis]]),
    "slice_tile_pad": ([(F, (3, 4), 0, 0)], lambda x: [
        tf.slice(x, [1, 0], [2, -1]), tf.tile(x, [2, 1]), tf.pad(x, [[1, 0], [0, 2]]),
        tf.pad(x, [[1, 1], [2, 0]], constant_values=3.0), tf.pad(x, [[1, 1], [2, 2]], mode="REFLECT"),
        tf.reverse(x, [1]), tf.broadcast_to(x[:1], [3, 4])]),
    "shapes": ([(F, (2, 3, 4), 0, 0)], lambda x: [
        tf.reshape(x, [6, -1]), tf.reshape(x, [-1]), tf.squeeze(tf.expand_dims(x, 1), [1]),
        tf.transpose(x, [2, 0, 1]), tf.cast(tf.shape(x), tf.float32), tf.cast(tf.size(x), tf.float32),
        tf.zeros_like(x) + 1, tf.ones_like(x), tf.fill(tf.shape(x)[:2], 2.0)]),
    "concat_stack_split": ([(F, (2, 6), 0, 0), (F, (2, 6), 0, 0)], lambda x, y: [
        tf.concat([x, y], 1), tf.stack([x, y], 1), *tf.unstack(x, axis=1)[:2], *tf.split(y, 3, axis=1),
        *tf.split(x, [1, 2, 3], axis=1), *tf.split(x, [2, -1], axis=1)]),
    "gathers": ([(F, (5, 3), 0, 0), (I, (4,), 0, 5), (I, (2, 2), 0, 3)], lambda p, i, j: [
        tf.gather(p, i), tf.gather(p, j[:, :1] % 3, axis=1), tf.gather_nd(p, tf.stack([i % 5, i % 3], 1)),
        tf.one_hot(i, 5), tf.one_hot(i, 4, on_value=2.0, off_value=-1.0, axis=0)]),
    "constant_indices": ([(F, (5, 3), 0, 0)], lambda p: [
        tf.gather_nd(p, [[0, 1], [4, 2]]), p + tf.one_hot([[1, 2, 0], [0, 3, 1], [2, 2, 2], [4, 0, 1], [1, 1, 1]], 5)[
            :, :, 0], tf.gather(p, [[0, 4], [1, 1]])]),
    "ranges_cumsum_topk": ([(F, (3, 7), 0, 0), (I, (), 3, 9)], lambda x, n: [
        tf.cast(tf.range(n), tf.float32), tf.range(1.0, 5.0, 0.5), tf.math.cumsum(x, 1),
        tf.math.cumsum(x, 1, exclusive=True, reverse=True), *tf.math.top_k(x, 3)]),
    "matmuls": ([(F, (2, 3, 4), 0, 0), (F, (2, 5, 4), 0, 0), (F, (4, 6), 0, 0)], lambda a, b, w: [
        tf.matmul(a, b, transpose_b=True), tf.matmul(tf.reshape(a, [6, 4]), w), tf.linalg.matmul(b, a, adjoint_b=True),
        tf.einsum("bij,jk->bik", a, w), tf.einsum("bij,bkj->bik", a, b), tf.nn.softmax(a), tf.nn.log_softmax(a, 1)]),
    "convolutions_nhwc": ([(F, (2, 9, 9, 4), 0, 0)], lambda x: [
        tf.nn.conv2d(x, np.random.default_rng(1).standard_normal((3, 3, 4, 6)).astype(np.float32), 2, "SAME"),
        tf.nn.conv2d(x, np.random.default_rng(2).standard_normal((2, 2, 4, 3)).astype(np.float32), 1, "VALID",
                     dilations=2),
        tf.nn.depthwise_conv2d(x, np.random.default_rng(3).standard_normal((3, 3, 4, 2)).astype(np.float32),
                               [1, 1, 1, 1], "SAME"),
        tf.nn.max_pool2d(x, 3, 2, "SAME"), tf.nn.avg_pool2d(x, 2, 2, "VALID"), tf.nn.avg_pool2d(x, 3, 2, "SAME")]),
    "batch_norm_and_images": ([(F, (2, 4, 4, 8), 0, 0)], lambda x: [
        tf.compat.v1.nn.fused_batch_norm(x, np.linspace(0.5, 2, 8, dtype=np.float32),
                                         np.linspace(-1, 1, 8, dtype=np.float32),
                                         mean=np.linspace(0, 1, 8, dtype=np.float32),
                                         variance=np.linspace(1, 2, 8, dtype=np.float32), is_training=False)[0],
        tf.nn.depth_to_space(x, 2), tf.nn.space_to_depth(x, 2),
        tf.compat.v1.image.resize_bilinear(x, [7, 6], half_pixel_centers=True),
        tf.compat.v1.image.resize_bilinear(x, [8, 8], align_corners=True),
        tf.compat.v1.image.resize_bilinear(x, [8, 8]),
        tf.compat.v1.image.resize_nearest_neighbor(x, [8, 8]),
        tf.compat.v1.image.resize_nearest_neighbor(x, [8, 8], half_pixel_centers=True)]),
    "volumes_and_lrn": ([(F, (1, 5, 6, 7, 3), 0, 0)], lambda x: [
        tf.nn.conv3d(x, np.random.default_rng(4).standard_normal((2, 3, 3, 3, 4)).astype(np.float32),
                     [1, 1, 2, 1, 1], "SAME"),
        tf.nn.max_pool3d(x, 2, 2, "VALID"), tf.nn.avg_pool3d(x, [1, 2, 2], [1, 1, 2], "SAME"),
        tf.nn.local_response_normalization(x[0], depth_radius=1, bias=1.5, alpha=0.3, beta=0.75)]),
    "layout_mix": ([(F, (2, 6, 6, 3), 0, 0)], lambda x: [
        # channels-first inside, then ops that need TF's layout again
        tf.reduce_mean(tf.nn.relu(tf.nn.conv2d(x, np.ones((1, 1, 3, 4), np.float32), 1, "SAME")), [1, 2]),
        tf.reshape(tf.nn.conv2d(x, np.ones((3, 3, 3, 2), np.float32), 1, "VALID"), [2, -1]),
        tf.concat([tf.nn.conv2d(x, np.ones((1, 1, 3, 2), np.float32), 1, "SAME"), x], -1)[:, 1:, :, ::2],
        tf.transpose(tf.nn.conv2d(x, np.ones((1, 1, 3, 2), np.float32), 1, "SAME"), [0, 3, 1, 2]),
        tf.squeeze(tf.nn.max_pool2d(tf.nn.conv2d(x, np.ones((1, 6, 3, 2), np.float32), 1, "VALID"), [1, 1], 1,
                                    "VALID"), [2])]),
}


def _feeds(specs: list[tuple[Any, tuple[int, ...], int, int]], rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for dtype, shape, low, high in specs:
        if dtype == F:
            out.append(rng.standard_normal(shape).astype(np.float32))
        else:
            out.append(rng.integers(low, high, shape).astype(dtype.as_numpy_dtype))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_family_matches_tensorflow(name: str) -> None:
    specs, build = CASES[name]
    graph = tf.Graph()
    with graph.as_default():
        holders = [tf.compat.v1.placeholder(d, s, name=f"in{i}") for i, (d, s, _, _) in enumerate(specs)]
        outs = build(*holders)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        fetches = [tf.identity(o, name=f"out{i}").name for i, o in enumerate(outs)]
    feeds = dict(zip([h.name for h in holders], _feeds(specs, np.random.default_rng(0))))
    with tf.compat.v1.Session(graph=graph) as sess:
        want = sess.run(fetches, feeds)
    graph_def = tff.proto.GraphDef()
    graph_def.ParseFromString(graph.as_graph_def().SerializeToString())
    model = tff.to_onnx(graph_def, outputs=fetches, inputs=list(feeds))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(fetches, {k: v for k, v in feeds.items() if k in {i.name for i in session.get_inputs()}})
    for fetch, g, w in zip(fetches, got, want):
        w = np.asarray(w)
        assert g.shape == w.shape, fetch
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=f"{name} {fetch}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{name} {fetch}")
