"""``tff.run`` and ``freeze --check`` against TensorFlow running the same models in the same process.

Random inputs are drawn here; TensorFlow runs the frozen graph (or calls the SavedModel's
signature, or restores the original graph from its checkpoint), tfformats runs the same model
through ONNX with each available backend, and the outputs must agree (float32, rtol 1e-5,
atol 1e-5). Needs TensorFlow, onnx and onnxruntime in the TensorFlow environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("onnx")
pytestmark = pytest.mark.oracle

import tfformats as tff  # noqa: E402
from graph_cases import freeze_case, load_case  # noqa: E402
from tfformats.freezing.freezer import freeze_graph_def  # noqa: E402
from tfformats.freezing.variables import ValueLoader  # noqa: E402
from tfformats.serving.backend import evaluate, has_onnxruntime, model_inputs  # noqa: E402
from tfformats.serving.original import runnable_original  # noqa: E402
from tfformats.serving.feeds import random_array  # noqa: E402

RTOL, ATOL = 1e-5, 1e-5
BACKENDS = ["reference"] + (["onnxruntime"] if has_onnxruntime() else [])
GRAPH_CASES = ["mlp", "cnn_bn", "tf1_saved_model", "resource_embedding", "seed_xyb", "saver_dict"]
SAVED_MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "saved_models"
TF2_CASES = ["keras_mlp", "keras_cnn", "embedding", "multi_io"]


def _tf_graph_def(ours: Any) -> Any:
    theirs = tf.compat.v1.GraphDef()
    theirs.ParseFromString(ours.SerializeToString())
    return theirs


def _random_like(feeds: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Fresh random values with the dtypes and shapes of the fixture's feeds (batch doubled where it can vary)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in feeds.items():
        if value.dtype.kind in "iu":  # ids and indices: keep the fixture's valid range
            out[name] = rng.integers(0, max(int(value.max()) + 1, 1), size=value.shape).astype(value.dtype)
        elif value.dtype.kind == "b":
            out[name] = value.copy()  # a predicate: keep the branch the fixture exercises
        else:
            out[name] = random_array(value.dtype, value.shape, rng)
    return out


@pytest.mark.parametrize("name", GRAPH_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_run_on_a_frozen_graph_matches_tensorflow_on_random_inputs(name: str, backend: str) -> None:
    case = load_case(name)
    frozen = freeze_case(case)
    feeds = _random_like(case.feeds, seed=7)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(_tf_graph_def(frozen), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        want = sess.run(case.fetches, feeds)
    got = tff.run(frozen, feeds, outputs=case.fetches, backend=backend)
    for fetch, value in zip(case.fetches, want):
        np.testing.assert_allclose(got[fetch], value, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {fetch}")


@pytest.mark.parametrize("name", TF2_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_run_on_a_saved_model_matches_its_signature_called_by_tensorflow(name: str, backend: str) -> None:
    model = SAVED_MODELS / name / "model"
    with np.load(SAVED_MODELS / name / "expected.npz") as arrays:
        fixture = {k[len("feed/"):]: arrays[k] for k in arrays.files if k.startswith("feed/")}
    feeds = _random_like(fixture, seed=11)
    signature = tf.saved_model.load(str(model)).signatures["serving_default"]
    want = {k: v.numpy() for k, v in signature(**{k: tf.constant(v) for k, v in feeds.items()}).items()}
    got = tff.run(model, feeds, backend=backend)
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=RTOL, atol=ATOL, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", ["mlp", "cnn_bn", "resource_embedding", "cond_while_v1", "functional_if_v2"])
def test_the_checks_original_graph_computes_what_tensorflow_computes_after_restoring(name: str) -> None:
    case = load_case(name)
    meta = tff.read_meta_graph(case.meta)
    reader = tff.load_checkpoint(case.checkpoint)
    report = freeze_graph_def(case.meta, case.checkpoint, case.outputs, **case.freeze_options())
    loader = ValueLoader(reader)
    values = {v: loader.load(report.sources[v]) for v in report.frozen}
    feeds = _random_like(case.feeds, seed=5)
    runnable, fetch = runnable_original(meta.graph_def, values, case.fetches)
    model = tff.to_onnx(runnable, outputs=fetch, inputs=list(feeds) + [f"{v}:0" for v in values
                                                                     if any(n.name == v for n in runnable.node)])
    onnx_feeds = {**feeds, **{f"{v}:0": values[v] for v in values}}
    onnx_feeds = {i.name: onnx_feeds[i.name] for i in model_inputs(model)}
    ours = evaluate(model, onnx_feeds)
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(_tf_meta(meta))
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, str(case.checkpoint))
        want = sess.run(case.fetches, feeds)
    for name_out, value, tensor in zip(case.fetches, want, [o.name for o in model.graph.output]):
        np.testing.assert_allclose(ours[tensor], value, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {name_out}")


def _tf_meta(ours: Any) -> Any:
    theirs = tf.compat.v1.MetaGraphDef()
    theirs.ParseFromString(ours.SerializeToString())
    return theirs
