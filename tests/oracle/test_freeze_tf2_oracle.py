"""TensorFlow runs the GraphDefs tfformats froze from TF2 SavedModels, with the signatures' outputs.

For every fixture in ``tests/fixtures/saved_models`` (made by TensorFlow 2.21
with ``tools/fixtures/saved_models.py``), TensorFlow imports our frozen
GraphDef, feeds ``<signature input tensor name>`` and fetches
``<output key>:0``; the results must equal what calling the SavedModel's
signature returned (1e-6 relative). The same SavedModel is also frozen with
TensorFlow's ``convert_variables_to_constants_v2`` and node counts, freezing
time and run time are printed side by side (``pytest -s`` shows them).

Runs in the TensorFlow environment; skipped when TensorFlow is missing.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

tf = pytest.importorskip("tensorflow", reason="oracle tests need TensorFlow")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the TF environment may not have tfformats installed
    sys.path.insert(0, str(REPO))

from tfformats.freezing.saved_model_v2 import load_and_freeze  # noqa: E402

SAVED_MODELS = REPO / "tests" / "fixtures" / "saved_models"
FREEZABLE = ["module", "keras_mlp", "keras_cnn", "embedding", "lstm", "multi_io", "awkward_output_keys"]
RTOL = 1e-6
RUNS = 30


def _expected(case: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    document = json.loads((SAVED_MODELS / case / "expected.json").read_text())
    with np.load(SAVED_MODELS / case / "expected.npz") as arrays:
        values = {name: arrays[name] for name in arrays.files}
    return document, values


def _tf_graph_def(message: Any) -> Any:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(message.SerializeToString())
    return graph_def


def _import(graph_def: Any) -> Any:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return graph


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


def _tf_freeze(model_dir: Path) -> tuple[Any, Any]:
    """TensorFlow's own path: load the SavedModel, convert_variables_to_constants_v2 on the signature."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    loaded = tf.saved_model.load(str(model_dir))
    frozen_fn = convert_variables_to_constants_v2(loaded.signatures["serving_default"])
    return frozen_fn, frozen_fn.graph.as_graph_def()


@pytest.mark.parametrize("case", FREEZABLE)
def test_tensorflow_runs_our_frozen_graph_with_the_signature_outputs(case: str) -> None:
    document, values = _expected(case)
    model_dir = SAVED_MODELS / case / "model"
    started = time.perf_counter()
    result = load_and_freeze(str(model_dir))
    ours_seconds = time.perf_counter() - started

    graph_def = _tf_graph_def(result.graph_def)
    ops = {n.op for n in graph_def.node}
    assert not ops & {"VarHandleOp", "ReadVariableOp", "ResourceGather", "PartitionedCall",
                      "StatefulPartitionedCall"}
    graph = _import(graph_def)
    feeds = {result.inputs[key]: values[f"feed/{key}"] for key in document["inputs"]}
    fetches = {key: result.outputs[key] for key in document["outputs"]}
    with tf.compat.v1.Session(graph=graph) as session:
        outputs = session.run(fetches, feeds)
        ours_run = _median_seconds(lambda: session.run(fetches, feeds), RUNS)
    for key in document["outputs"]:
        expected = values[f"output/{key}"]
        assert outputs[key].dtype == expected.dtype, key
        np.testing.assert_allclose(outputs[key], expected, rtol=RTOL, atol=0, err_msg=f"{case}: {key}")

    started = time.perf_counter()
    _, tf_graph_def = _tf_freeze(model_dir)
    tf_seconds = time.perf_counter() - started
    tf_graph = _import(tf_graph_def)
    # TensorFlow's frozen function names its placeholders after the input keys and its
    # outputs "Identity", "Identity_1", ... in sorted key order.
    keys = sorted(document["outputs"])
    tf_fetches = {key: "Identity:0" if i == 0 else f"Identity_{i}:0" for i, key in enumerate(keys)}
    tf_feeds = {f"{key}:0": values[f"feed/{key}"] for key in document["inputs"]}
    with tf.compat.v1.Session(graph=tf_graph) as session:
        tf_outputs = session.run(tf_fetches, tf_feeds)
        tf_run = _median_seconds(lambda: session.run(tf_fetches, tf_feeds), RUNS)
    for key in keys:
        np.testing.assert_allclose(tf_outputs[key], values[f"output/{key}"], rtol=RTOL, atol=0,
                                   err_msg=f"{case}: TensorFlow's own frozen graph, {key}")
    print(f"\n[{case}] nodes graph+functions: ours {_node_counts(graph_def)} vs TF {_node_counts(tf_graph_def)}; "
          f"freeze: ours {ours_seconds * 1e3:.1f} ms vs TF load+convert {tf_seconds * 1e3:.0f} ms; "
          f"session.run median: ours {ours_run * 1e6:.0f} us vs TF {tf_run * 1e6:.0f} us")


def test_tensorflow_agrees_the_assigning_signature_changes_its_variable() -> None:
    """The fixture we refuse to freeze really does update state in TensorFlow."""
    model_dir = SAVED_MODELS / "assigns_variable" / "model"
    loaded = tf.saved_model.load(str(model_dir))
    fn = loaded.signatures["serving_default"]
    x = tf.constant([1.0, 2.0])
    first = fn(x=x)["output_0"].numpy()
    second = fn(x=x)["output_0"].numpy()
    assert not np.array_equal(first, second)


def test_other_signature_of_a_keras_export_freezes_to_the_same_outputs() -> None:
    """Keras ``model.export`` writes ``serve`` beside ``serving_default``; both compute the model."""
    document, values = _expected("keras_mlp")
    result = load_and_freeze(str(SAVED_MODELS / "keras_mlp" / "model"), signature="serve")
    (key,) = document["inputs"]
    assert result.inputs[key].startswith("serve_")
    graph = _import(_tf_graph_def(result.graph_def))
    with tf.compat.v1.Session(graph=graph) as session:
        outputs = session.run(result.outputs, {result.inputs[key]: values[f"feed/{key}"]})
    for name, value in outputs.items():
        np.testing.assert_allclose(value, values[f"output/{name}"], rtol=RTOL, atol=0)


def test_tensorflow_needs_the_table_initializer_that_a_frozen_graph_would_lose() -> None:
    """The graph we refuse to freeze really depends on the init function: without it the lookup fails."""
    from tfformats.graphs.inline import inline_calls
    from tfformats.graphs.opdefs import op_defs_by_name
    from tfformats.proto import SavedModel

    document, values = _expected("lookup_table")
    saved = SavedModel()
    saved.ParseFromString((SAVED_MODELS / "lookup_table" / "model" / "saved_model.pb").read_bytes())
    meta = saved.meta_graphs[0]
    fetch = meta.graph_def.node.add()
    fetch.name, fetch.op = "looked_up", "Identity"
    fetch.input.append(document["outputs"]["output_0"]["tensor_name"])
    fetch.attr["T"].type = tf.int64.as_datatype_enum
    graph_def = inline_calls(meta.graph_def, op_defs_by_name(meta.meta_info_def.stripped_op_list))
    graph = _import(_tf_graph_def(graph_def))
    feed = {document["inputs"]["words"]["tensor_name"]: values["feed/words"]}
    with tf.compat.v1.Session(graph=graph) as session:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not initialized"):
            session.run("looked_up:0", feed)
        # Running the SavedModel's init op first makes the same graph work.
        session.run(meta.signature_def["__saved_model_init_op"].outputs["__saved_model_init_op"].name)
        np.testing.assert_array_equal(session.run("looked_up:0", feed), values["output/output_0"])
