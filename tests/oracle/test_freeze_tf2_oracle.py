"""TensorFlow runs the GraphDefs tfformats froze from TF2 SavedModels, with the signatures' outputs.

For every fixture in ``tests/fixtures/saved_models`` (made by TensorFlow 2.21
with ``tools/fixtures/saved_models.py``), TensorFlow computes the reference in
this run (``tf.saved_model.load(dir).signatures[...]`` on the stored feeds),
imports our frozen GraphDef, runs its table initializer when it has one, feeds
``<signature input tensor name>`` and fetches ``<output key>:0``. Results must
match the reference to 1e-5 relative (float32 on the same CPU; the frozen graph
runs the same kernels, sometimes fused differently). The outputs stored with
the fixture, which another CPU computed, are only a drift check with a
tolerance scaled to each output's magnitude. The same SavedModel is also frozen
with TensorFlow's ``convert_variables_to_constants_v2`` and node counts, freezing
time and run time are printed side by side (``pytest -s`` shows them).

Runs in the TensorFlow environment; skipped when TensorFlow is missing.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

tf = pytest.importorskip("tensorflow", reason="oracle tests need TensorFlow")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the TF environment may not have tfformats installed
    sys.path.insert(0, str(REPO))

from tfformats.errors import GraphError  # noqa: E402
from tfformats.freezing.freezer import freeze_saved_model_report  # noqa: E402
from tfformats.freezing.saved_model_v2 import load_and_freeze  # noqa: E402

SAVED_MODELS = REPO / "tests" / "fixtures" / "saved_models"
FREEZABLE = ["module", "keras_mlp", "keras_cnn", "embedding", "lstm", "multi_io", "awkward_output_keys",
             "keras_two_inputs", "keras_string_lookup", "keras_top_level_op_list", "module_with_defaults",
             "lookup_table", "vocabulary_assets"]
# Cases TensorFlow converts with its own convert_variables_to_constants_v2 into a graph that runs.
TF_CONVERTS = ["module", "keras_mlp", "keras_cnn", "embedding", "lstm", "multi_io", "awkward_output_keys",
               "keras_two_inputs", "keras_top_level_op_list"]
RTOL = 1e-5  # against TensorFlow in this run
DRIFT_RTOL = 1e-4  # against the stored outputs, relative to each output's largest magnitude
RUNS = 30


def _case(case: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    document = json.loads((SAVED_MODELS / case / "expected.json").read_text())
    with np.load(SAVED_MODELS / case / "expected.npz") as arrays:
        values = {name: arrays[name] for name in arrays.files}
    return document, values


def _feeds(document: dict[str, Any], values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: values[f"feed/{key}"] for key in document["inputs"]}


def _reference(model_dir: Path, feeds: dict[str, np.ndarray], signature: str = "serving_default"
               ) -> dict[str, np.ndarray]:
    """What calling the SavedModel's signature returns, computed now by TensorFlow."""
    loaded = tf.saved_model.load(str(model_dir))
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
    return {key: value.numpy() for key, value in outputs.items()}


def _tf_graph_def(message: Any) -> Any:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(message.SerializeToString())
    return graph_def


def _import(graph_def: Any) -> Any:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return graph


def _run_frozen(result: Any, feeds: dict[str, np.ndarray], initializer: Optional[str] = None
                ) -> tuple[dict[str, np.ndarray], Callable[[], Any]]:
    """Import ``result``'s graph, run its table initializer, then its outputs; returns outputs and a rerun."""
    graph = _import(_tf_graph_def(result.graph_def))
    session = tf.compat.v1.Session(graph=graph)
    if result.initializer:
        session.run(result.initializer)
    tensor_feeds = {result.inputs[key]: value for key, value in feeds.items()}
    outputs = session.run(result.outputs, tensor_feeds)
    return outputs, lambda: session.run(result.outputs, tensor_feeds)


def _assert_matches(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray], label: str) -> None:
    assert set(ours) == set(reference), label
    for key, expected in reference.items():
        assert ours[key].dtype == expected.dtype, f"{label}: {key}"
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(ours[key], expected, rtol=RTOL, atol=RTOL * float(np.max(np.abs(expected),
                                                                                           initial=0.0)),
                                       err_msg=f"{label}: {key}")
        else:
            np.testing.assert_array_equal(ours[key], expected, err_msg=f"{label}: {key}")


def _assert_no_drift(reference: dict[str, np.ndarray], values: dict[str, np.ndarray], label: str) -> None:
    """The fixture's stored outputs (another CPU) agree with this run's TensorFlow, within a scaled tolerance."""
    for key, now in reference.items():
        stored = values[f"output/{key}"]
        if now.dtype.kind in "fc":
            scale = float(np.max(np.abs(stored), initial=0.0)) or 1.0
            np.testing.assert_allclose(now, stored, rtol=0, atol=DRIFT_RTOL * scale, err_msg=f"{label}: {key}")
        else:
            np.testing.assert_array_equal(now, stored, err_msg=f"{label}: {key}")


def _median_seconds(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _node_counts(graph_def: Any) -> tuple[int, int]:
    return len(graph_def.node), sum(len(f.node_def) for f in graph_def.library.function)


def _tf_freeze(model_dir: Path) -> Any:
    """TensorFlow's own path: load the SavedModel, convert_variables_to_constants_v2 on the signature."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    loaded = tf.saved_model.load(str(model_dir))
    return convert_variables_to_constants_v2(loaded.signatures["serving_default"]).graph.as_graph_def()


@pytest.mark.parametrize("case", FREEZABLE)
def test_tensorflow_runs_our_frozen_graph_with_the_signature_outputs(case: str) -> None:
    document, values = _case(case)
    model_dir = SAVED_MODELS / case / "model"
    feeds = _feeds(document, values)
    reference = _reference(model_dir, feeds)
    _assert_no_drift(reference, values, case)
    result = load_and_freeze(str(model_dir))
    ops = {n.op for n in result.graph_def.node}
    assert not ops & {"VarHandleOp", "ReadVariableOp", "ResourceGather", "PartitionedCall",
                      "StatefulPartitionedCall", "InitializeTableFromTextFileV2"}
    outputs, _ = _run_frozen(result, feeds)
    _assert_matches(outputs, reference, case)


@pytest.mark.parametrize("case", TF_CONVERTS)
def test_ours_and_tensorflows_converter_agree_and_compare_speed(case: str) -> None:
    document, values = _case(case)
    model_dir = SAVED_MODELS / case / "model"
    feeds = _feeds(document, values)
    reference = _reference(model_dir, feeds)
    started = time.perf_counter()
    result = load_and_freeze(str(model_dir))
    ours_seconds = time.perf_counter() - started
    _, rerun = _run_frozen(result, feeds)
    ours_run = _median_seconds(rerun, RUNS)

    started = time.perf_counter()
    tf_graph_def = _tf_freeze(model_dir)
    tf_seconds = time.perf_counter() - started
    # TensorFlow's frozen function names its placeholders after the input keys and its
    # outputs "Identity", "Identity_1", ... in sorted key order.
    keys = sorted(document["outputs"])
    tf_fetches = {key: "Identity:0" if i == 0 else f"Identity_{i}:0" for i, key in enumerate(keys)}
    tf_feeds = {f"{key}:0": value for key, value in feeds.items()}
    with tf.compat.v1.Session(graph=_import(tf_graph_def)) as session:
        tf_outputs = session.run(tf_fetches, tf_feeds)
        tf_run = _median_seconds(lambda: session.run(tf_fetches, tf_feeds), RUNS)
    _assert_matches(tf_outputs, reference, f"{case}: TensorFlow's own frozen graph")
    print(f"\n[{case}] nodes graph+functions: ours {_node_counts(result.graph_def)} vs TF "
          f"{_node_counts(tf_graph_def)}; freeze: ours {ours_seconds * 1e3:.1f} ms vs TF load+convert "
          f"{tf_seconds * 1e3:.0f} ms (x{tf_seconds / ours_seconds:.0f}); session.run median: ours "
          f"{ours_run * 1e6:.0f} us vs TF {tf_run * 1e6:.0f} us")


def test_defaulted_input_stays_feedable_and_keeps_its_default() -> None:
    """Without feeding ``scale`` the frozen graph uses the default TensorFlow's own loader uses."""
    document, values = _case("module_with_defaults")
    model_dir = SAVED_MODELS / "module_with_defaults" / "model"
    result = load_and_freeze(str(model_dir))
    by_name = {n.name: n for n in result.graph_def.node}
    assert by_name["serving_default_scale"].op == "PlaceholderWithDefault"
    x = values["feed/x"]
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(model_dir))
        signature = meta.signature_def["serving_default"]
        reference = session.run(signature.outputs["y"].name, {signature.inputs["x"].name: x})
    outputs, _ = _run_frozen(result, {"x": x})
    _assert_matches({"y": outputs["y"]}, {"y": reference}, "default scale")
    np.testing.assert_allclose(reference, _reference(model_dir, {"x": x, "scale": np.float32(
        document["notes"]["defaults"]["scale"])})["y"], rtol=RTOL)


def test_other_signature_of_a_keras_export_freezes_to_the_same_outputs() -> None:
    """Keras ``model.export`` writes ``serve`` beside ``serving_default``; both compute the model."""
    document, values = _case("keras_mlp")
    model_dir = SAVED_MODELS / "keras_mlp" / "model"
    feeds = _feeds(document, values)
    reference = _reference(model_dir, feeds, signature="serve")
    result = load_and_freeze(str(model_dir), signature="serve")
    (key,) = document["inputs"]
    assert result.inputs[key].startswith("serve_")
    outputs, _ = _run_frozen(result, feeds)
    _assert_matches(outputs, reference, "serve signature")


def test_front_door_output_selection_keeps_only_the_chosen_output() -> None:
    document, values = _case("vocabulary_assets")
    model_dir = SAVED_MODELS / "vocabulary_assets" / "model"
    feeds = _feeds(document, values)
    reference = _reference(model_dir, feeds)
    result = freeze_saved_model_report(model_dir, output_nodes="scores")
    assert set(result.outputs) == {"scores"} and result.initializer
    outputs, _ = _run_frozen(result, feeds)
    _assert_matches(outputs, {"scores": reference["scores"]}, "scores only")


def test_tensorflow_agrees_the_assigning_signature_changes_its_variable() -> None:
    """The fixture we refuse to freeze really does update state in TensorFlow."""
    model_dir = SAVED_MODELS / "assigns_variable" / "model"
    fn = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    x = tf.constant([1.0, 2.0])
    assert not np.array_equal(fn(x=x)["output_0"].numpy(), fn(x=x)["output_0"].numpy())
    with pytest.raises(GraphError, match="assigned by node"):
        load_and_freeze(str(model_dir))


def test_tensorflow_fills_the_mutable_table_we_refuse_from_its_checkpoint() -> None:
    """The refused MutableHashTable really holds trained contents: TensorFlow finds the inserted keys."""
    document, values = _case("mutable_table")
    model_dir = SAVED_MODELS / "mutable_table" / "model"
    reference = _reference(model_dir, _feeds(document, values))
    assert (reference["output_0"] != -1).any()
    with pytest.raises(GraphError, match=r"table 'MutableHashTable' is a MutableHashTableV2"):
        load_and_freeze(str(model_dir))


def test_table_graphs_need_the_initializer_we_report() -> None:
    """Without running the reported init node TensorFlow fails, as TensorFlow's own converter's graph does."""
    document, values = _case("vocabulary_assets")
    result = load_and_freeze(str(SAVED_MODELS / "vocabulary_assets" / "model"))
    graph = _import(_tf_graph_def(result.graph_def))
    feeds = {result.inputs[k]: v for k, v in _feeds(document, values).items()}
    with tf.compat.v1.Session(graph=graph) as session:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not initialized"):
            session.run(result.outputs["ids"], feeds)
        session.run(result.initializer)
        session.run(result.outputs["ids"], feeds)
