"""TensorFlow imports and runs the graphs tfformats freezes from TF1 graphs (runs in the TensorFlow env).

The reference is computed by TensorFlow in the same run: it restores the
original graph from its checkpoint (or loads the SavedModel, running its main
op with the asset files) and runs the fetches on the stored feeds. Our frozen
graph must give the same values (1e-5 relative to each output's magnitude;
lookups and integers exactly). The outputs stored with the fixture, computed on
another CPU, are only a drift check. For the cases freezing refuses, the test
shows the refusal is needed: the graph freezing would write without the check
fails in TensorFlow or computes something else than TensorFlow does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.oracle

import tfformats as tff  # noqa: E402
from graph_cases import GraphCase, case_names, freeze_case, freeze_case_report, load_case  # noqa: E402
from tfformats.errors import GraphError  # noqa: E402
from tfformats.graphs import read_graph_def, write_graph_def  # noqa: E402

# Ops TF 2.21's converter leaves in place although a Const now feeds them (FORMATS.md, freezing facts).
TF_LEAVES_BROKEN = {"Variable": "Const", "RefSwitch": "Switch", "RefEnter": "Enter", "RefMerge": "Merge",
                    "RefIdentity": "Identity", "RefExit": "Exit", "RefNextIteration": "NextIteration",
                    "AssignAdd": "Add", "AssignSub": "Sub", "Assign": "Identity"}
CASES = case_names()
REFUSED = case_names(refused=True)
TF_CONVERTED = [c for c in CASES if "nodes" in load_case(c).tf_frozen
                and not {op for _, op in load_case(c).tf_frozen["nodes"]} & {"HashTableV2", "HashTable"}]
RTOL = 1e-5
DRIFT_RTOL = 1e-4
EMA = "/ExponentialMovingAverage"


def _tf_graph_def(ours: object) -> object:
    from tensorflow.core.framework import graph_pb2

    theirs = graph_pb2.GraphDef()
    theirs.ParseFromString(ours.SerializeToString())  # type: ignore[attr-defined]
    return theirs


def _run(graph_def: object, fetches: list[str], feeds: dict[str, np.ndarray],
         initializer: str | None = None) -> list[np.ndarray]:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(_tf_graph_def(graph_def), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        if initializer:
            sess.run(initializer)
        return sess.run(fetches, feeds)


def _restore(sess: Any, case: GraphCase) -> None:
    """Restore ``case``'s original graph into ``sess`` the way its users did."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(Path(case.meta).read_bytes())  # type: ignore[arg-type]
    if meta.meta_info_def.tensorflow_version.startswith("0."):
        # TF 2.21's import_meta_graph refuses "0.12.head"; a session bundle loader ran the restore op.
        tf.compat.v1.import_graph_def(meta.graph_def, name="")
        saver_def = meta.saver_def
        sess.run(saver_def.restore_op_name, {saver_def.filename_tensor_name: str(case.checkpoint)})
    else:
        saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        if case.doc.get("use_ema"):
            plain = [v for v in tf.compat.v1.global_variables() if not v.op.name.endswith(EMA)]
            saver = tf.compat.v1.train.Saver({v.op.name + EMA: v for v in plain})
        saver.restore(sess, str(case.checkpoint))
    sess.run(tf.compat.v1.tables_initializer())


def _reference(case: GraphCase) -> list[np.ndarray]:
    """What TensorFlow computes now from the original graph and checkpoint (or SavedModel)."""
    graph = tf.Graph()
    # Relative paths the graph names (a vocabulary beside the .meta) mean the case folder.
    with contextlib.chdir(case.dir), graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        if case.saved_model is not None:
            tf.compat.v1.saved_model.loader.load(sess, list(case.tags), str(case.saved_model))
        else:
            _restore(sess, case)
        return sess.run(case.fetches, case.feeds)


def _assert_close(got: np.ndarray, want: np.ndarray, rtol: float, label: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, label
    if want.dtype.kind in "fc":
        scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=label)
    else:
        np.testing.assert_array_equal(got, want, err_msg=label)


@pytest.mark.parametrize("name", CASES)
def test_tensorflow_runs_our_frozen_graph_with_the_original_outputs(name: str) -> None:
    case = load_case(name)
    reference = _reference(case)
    for fetch, want, now in zip(case.fetches, case.expected, reference):
        _assert_close(now, want, DRIFT_RTOL, f"{name}: {fetch} drifted from the stored output")
    result = freeze_case_report(case)
    got = _run(result.graph_def, case.fetches, case.feeds, result.initializer)
    for fetch, want, value in zip(case.fetches, reference, got):
        _assert_close(value, want, RTOL, f"{name}: {fetch}")


def _unchecked_freeze(case: GraphCase) -> Any:
    """The graph freezing would write if it did not check writes and tables (pruned, variables as Const)."""
    from tfformats.freezing import freezer
    from tfformats.freezing.variables import find_variables
    from tfformats.graphs.prune import extract_sub_graph

    graph_def, meta = freezer._as_graph(str(case.meta))
    out = extract_sub_graph(graph_def, case.outputs)
    wanted = [n.name for n in find_variables(out)]
    freezer._freeze_values(graph_def, meta, out, str(case.checkpoint), wanted, {n.name: n for n in graph_def.node},
                           None, False)
    return out


@pytest.mark.parametrize("name", REFUSED)
def test_what_we_refuse_would_be_wrong_or_broken_in_tensorflow(name: str) -> None:
    case = load_case(name)
    with pytest.raises(GraphError, match=case.refuse):
        freeze_case_report(case)
    reference = _reference(case)
    try:
        unchecked = _run(_unchecked_freeze(case), case.fetches, case.feeds)
    except (ValueError, tf.errors.OpError):
        return  # TensorFlow cannot even run it
    assert any(not np.array_equal(a, b) for a, b in zip(unchecked, reference)), \
        f"{name}: the unchecked frozen graph happens to match TensorFlow"


def test_assign_before_read_gives_the_new_value_in_tensorflow() -> None:
    """The issue's example: TensorFlow computes (v + 1) + x, not what a constant v gives."""
    case = load_case("assign_on_output")
    (out,) = _reference(case)
    reader = tff.load_checkpoint(case.checkpoint)
    assert out == reader.get_tensor("v") + 1 + case.feeds["x:0"]


@pytest.mark.parametrize("name", TF_CONVERTED)
def test_node_set_matches_tensorflow_converter_except_its_known_misses(name: str) -> None:
    case = load_case(name)
    theirs = case.tf_frozen
    ours = {n.name: n.op for n in freeze_case(case).node}
    tf_nodes = dict((n, op) for n, op in theirs["nodes"])
    assert set(ours) == set(tf_nodes)
    for node, op in tf_nodes.items():
        if ours[node] != op:
            assert TF_LEAVES_BROKEN.get(op) == ours[node], f"{node}: TF {op}, ours {ours[node]}"


def test_tensorflow_cannot_run_its_own_freeze_of_ref_variables_read_in_cond() -> None:
    # Documents why the node sets differ for control flow v1: TF's result does not import; ours runs.
    case = load_case("cond_while_v1")
    assert case.tf_frozen.get("runs") is False
    assert _run(freeze_case(case), case.fetches, case.feeds)


@pytest.mark.parametrize("name", CASES)
def test_frozen_graph_reads_no_variable_anywhere(name: str) -> None:
    frozen = freeze_case(load_case(name))
    ops = [n.op for n in frozen.node] + [n.op for f in frozen.library.function for n in f.node_def]
    forbidden = {"VariableV2", "Variable", "VarHandleOp", "ReadVariableOp", "ResourceGather", "Assign",
                 "AssignVariableOp", "SaveV2", "RestoreV2"}
    assert not forbidden & set(ops)


def test_tensorflow_parses_text_graph_we_write(tmp_path) -> None:
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2

    frozen = freeze_case(load_case("mlp"))
    path = tmp_path / "frozen.pbtxt"
    write_graph_def(frozen, path, as_text=True)
    theirs = text_format.Parse(path.read_text(), graph_pb2.GraphDef())
    assert theirs.SerializeToString(deterministic=True) == frozen.SerializeToString(deterministic=True)
    assert read_graph_def(path) == frozen


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.float32).reshape(2, 3), np.array(3.5),
                                   np.array([1, -2], np.int64), np.array([True, False]),
                                   np.array([1 + 2j], np.complex64), np.array([b"a", b"bc"], dtype=object),
                                   np.array([1.5, -2], np.float16)], ids=str)
def test_tensorflow_make_ndarray_reads_our_from_numpy(value: np.ndarray) -> None:
    from tensorflow.core.framework import tensor_pb2

    proto = tensor_pb2.TensorProto()
    proto.ParseFromString(tff.from_numpy(value).SerializeToString())
    got = tf.make_ndarray(proto)
    assert got.shape == value.shape
    assert got.tolist() == value.tolist()
