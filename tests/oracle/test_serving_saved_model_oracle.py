"""TensorFlow loads, runs and converts the SavedModels tfformats writes from frozen graphs.

Every graph fixture (``tests/fixtures/graphs``, TF1 graphs) and the freezable
TF2 SavedModel fixtures are frozen by tfformats and written with
``write_saved_model``; TensorFlow then loads each result with
``tf.saved_model.load`` and ``tf.compat.v1.saved_model.loader.load`` and runs
the signature; the outputs must equal those of TensorFlow running the frozen
GraphDef itself in the same process. ``tf.lite.TFLiteConverter.from_saved_model``
converts it and the TFLite interpreter's outputs are compared too (float32,
rtol 1e-5, atol 1e-6). What TensorFlow's own ``Builder`` writes for the same
graph is compared field by field with ours.

The TF-TRT converter needs a TensorRT-enabled TensorFlow build and a GPU; the
CPU build used here has neither, so it is not exercised.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.oracle

import tfformats as tff  # noqa: E402
from graph_cases import case_names, freeze_case_report, load_case  # noqa: E402
from tfformats.serving.saved_model import write_saved_model  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
GRAPH_CASES = case_names()
# Models using ops TFLite has no builtin for (partitioned embedding lookup, tf.Example parsing): TensorFlow's
# converter refuses them unless TF Select ops are enabled, whatever wrote the SavedModel.
NOT_TFLITE = {"partitioned": "DynamicPartition has no TFLite builtin",
              "estimator_vocab": "ParseExampleV2 and string hash tables need TF Select ops"}
SAVED_MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "saved_models"
TF2_CASES = ["module", "keras_mlp", "keras_cnn", "multi_io"]


def _tf_graph_def(ours: Any) -> Any:
    theirs = tf.compat.v1.GraphDef()
    theirs.ParseFromString(ours.SerializeToString())
    return theirs


def _run_graph(graph_def: Any, fetches: list[str], feeds: dict[str, np.ndarray],
               init_op: Optional[str] = None) -> list[np.ndarray]:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(_tf_graph_def(graph_def), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        if init_op is not None:
            sess.run(init_op)  # the frozen graph's lookup tables are filled first
        return list(sess.run(fetches, feeds))


def _close(got: Any, want: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL, err_msg=what)


def _graph_model(name: str, tmp_path: Path) -> tuple[Any, Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Frozen graph, SavedModelInfo, feeds by signature key, TF's outputs of the frozen graph by key."""
    case = load_case(name)
    result = freeze_case_report(case)
    frozen = result.graph_def
    info = write_saved_model(frozen, tmp_path / "export", inputs=list(case.feeds), outputs=case.fetches)
    assert info.init_op == result.initializer  # found without being told
    feeds = {key: case.feeds[spec.name] for key, spec in info.inputs.items()}
    reference = _run_graph(frozen, [s.name for s in info.outputs.values()], case.feeds, result.initializer)
    return frozen, info, feeds, dict(zip(info.outputs, reference))


def _tflite_outputs(model_dir: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(str(model_dir)).convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner("serving_default")
    return dict(runner(**feeds))


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_tf_saved_model_load_runs_the_signature_like_the_frozen_graph(name: str, tmp_path: Path) -> None:
    _, info, feeds, want = _graph_model(name, tmp_path)
    signature = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    got = signature(**{k: tf.constant(v) for k, v in feeds.items()})
    assert set(got) == set(want)
    for key in want:
        _close(got[key].numpy(), want[key], f"{name}: {key}")


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_tf1_loader_restores_the_graph_and_runs_the_signature_tensors(name: str, tmp_path: Path) -> None:
    _, info, feeds, want = _graph_model(name, tmp_path)
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(tmp_path / "export"))
        sig = meta.signature_def["serving_default"]
        fetches = {k: sig.outputs[k].name for k in sig.outputs}
        got = sess.run(fetches, {sig.inputs[k].name: v for k, v in feeds.items()})
    for key in want:
        _close(got[key], want[key], f"{name}: {key}")


@pytest.mark.parametrize("name", [n for n in GRAPH_CASES if n not in NOT_TFLITE])
def test_tflite_converts_the_saved_model_and_its_interpreter_agrees(name: str, tmp_path: Path) -> None:
    _, _, feeds, want = _graph_model(name, tmp_path)
    got = _tflite_outputs(tmp_path / "export", feeds)
    for key in want:
        _close(got[key], want[key], f"{name}: {key}")


def test_same_signature_op_list_and_files_as_tensorflows_builder(tmp_path: Path) -> None:
    frozen, info, _, _ = _graph_model("cnn_bn", tmp_path)
    theirs_dir = tmp_path / "theirs"
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(_tf_graph_def(frozen), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        tensors = {k: graph.get_tensor_by_name(s.name) for k, s in info.inputs.items()}
        results = {k: graph.get_tensor_by_name(s.name) for k, s in info.outputs.items()}
        builder = tf.compat.v1.saved_model.Builder(str(theirs_dir))
        signature = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(tensors, results)
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": signature})
        builder.save()

    def listing(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*"))

    assert listing(tmp_path / "export") == listing(theirs_dir)
    ours_meta = tff.read_saved_model(tmp_path / "export").meta_graphs[0]
    theirs_saved = tff.read_saved_model(theirs_dir)
    assert theirs_saved.saved_model_schema_version == 1
    theirs_meta = theirs_saved.meta_graphs[0]
    assert ours_meta.signature_def == theirs_meta.signature_def
    assert ours_meta.meta_info_def.stripped_op_list == theirs_meta.meta_info_def.stripped_op_list
    assert list(ours_meta.meta_info_def.tags) == list(theirs_meta.meta_info_def.tags)
    assert ours_meta.meta_info_def.tensorflow_version == theirs_meta.meta_info_def.tensorflow_version
    assert ours_meta.HasField("saver_def") == theirs_meta.HasField("saver_def")


@pytest.mark.parametrize("case", TF2_CASES)
def test_frozen_tf2_saved_model_round_trips_through_tensorflow_and_tflite(case: str, tmp_path: Path) -> None:
    source = SAVED_MODELS / case / "model"
    doc = json.loads((SAVED_MODELS / case / "expected.json").read_text())
    with np.load(SAVED_MODELS / case / "expected.npz") as arrays:
        feeds = {k[len("feed/"):]: arrays[k] for k in arrays.files if k.startswith("feed/")}
    frozen = tff.freeze_saved_model(source)
    # Default input keys drop the serving_default_ prefix of the frozen placeholders: the original keys.
    write_saved_model(frozen, tmp_path / "export", outputs=sorted(doc["outputs"]))
    original = tf.saved_model.load(str(source)).signatures["serving_default"]
    want = {k: v.numpy() for k, v in original(**{k: tf.constant(v) for k, v in feeds.items()}).items()}
    ours = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    got = ours(**{k: tf.constant(v) for k, v in feeds.items()})
    assert set(got) == set(want)
    for key in want:
        _close(got[key].numpy(), want[key], f"{case}: {key}")
    lite = _tflite_outputs(tmp_path / "export", feeds)
    for key in want:
        _close(lite[key], want[key], f"{case} (TFLite): {key}")
    assert os.listdir(tmp_path / "export" / "variables") == []
