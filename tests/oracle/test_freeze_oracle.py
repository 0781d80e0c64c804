"""TensorFlow imports and runs the graphs tfformats freezes (runs in the TensorFlow env)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.oracle

import tfformats as tff  # noqa: E402
from graph_cases import case_names, freeze_case, load_case  # noqa: E402
from tfformats.graphs import read_graph_def, write_graph_def  # noqa: E402

# Ops TF 2.21's converter leaves in place although a Const now feeds them (FORMATS.md, freezing facts).
TF_LEAVES_BROKEN = {"Variable": "Const", "RefSwitch": "Switch", "RefEnter": "Enter", "RefMerge": "Merge",
                    "RefIdentity": "Identity", "RefExit": "Exit", "RefNextIteration": "NextIteration",
                    "AssignAdd": "Add", "AssignSub": "Sub", "Assign": "Identity"}
CASES = case_names()
REFUSED = case_names(refused=True)
TF_CONVERTED = [c for c in CASES if "nodes" in load_case(c).tf_frozen
                and not {op for _, op in load_case(c).tf_frozen["nodes"]} & {"HashTableV2", "HashTable"}]


def _tf_graph_def(ours: object) -> object:
    from tensorflow.core.framework import graph_pb2

    theirs = graph_pb2.GraphDef()
    theirs.ParseFromString(ours.SerializeToString())  # type: ignore[attr-defined]
    return theirs


def _run(graph_def: object, fetches: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(_tf_graph_def(graph_def), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(fetches, feeds)


@pytest.mark.parametrize("name", CASES)
def test_tensorflow_runs_our_frozen_graph_with_the_original_outputs(name: str) -> None:
    case = load_case(name)
    frozen = freeze_case(case)
    got = _run(frozen, case.fetches, case.feeds)
    for fetch, want, value in zip(case.fetches, case.expected, got):
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6, err_msg=f"{name}: {fetch}")


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
