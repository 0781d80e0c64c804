"""to_onnx on the committed fixtures, without TensorFlow: valid models, names, shapes, and onnxruntime
agreeing with onnx's own reference evaluator (TensorFlow comparisons live in tests/oracle)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402

import tfformats as tff  # noqa: E402
from graph_cases import freeze_case, load_case  # noqa: E402
from tfformats.errors import UnsupportedError  # noqa: E402
from onnx_graph_builders import cnn, unconvertible  # noqa: E402

SAVED_MODELS = Path(__file__).parent.parent / "fixtures" / "saved_models"
GRAPH_CASES = ["cnn_bn", "cond_while_v1", "functional_if_v2", "mlp", "resource_embedding", "saver_dict",
               "seed_xyb", "tf1_saved_model"]
SAVED_MODEL_CASES = ["embedding", "keras_cnn", "keras_mlp", "lstm", "module", "multi_io"]


def _run_both(model: Any, feeds: dict[str, np.ndarray]) -> None:
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    ref = ReferenceEvaluator(model).run(None, feeds)
    for out, a, b in zip(model.graph.output, got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=out.name)


def _feeds(model: Any, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in model.graph.input:
        t = info.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 3 for d in t.shape.dim]
        np_dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        if np.issubdtype(np_dtype, np.floating):
            feeds[info.name] = rng.standard_normal(dims).astype(np_dtype)
        elif np_dtype == np.bool_:
            feeds[info.name] = rng.integers(0, 2, dims).astype(np.bool_)
        else:
            feeds[info.name] = rng.integers(0, 3, dims).astype(np_dtype)
    return feeds


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_frozen_graph_converts_to_valid_model_named_after_tensors(name: str) -> None:
    case = load_case(name)
    model = tff.to_onnx(freeze_case(case), outputs=case.fetches, inputs=list(case.feeds))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == list(case.feeds)
    assert [o.name for o in model.graph.output] == case.fetches
    for info in model.graph.input:
        dims = info.type.tensor_type.shape.dim
        assert len(dims) == case.feeds[info.name].ndim
        for d, size in zip(dims, case.feeds[info.name].shape):
            assert d.dim_value == size if d.HasField("dim_value") else d.dim_param
    _run_both(model, {k: v for k, v in case.feeds.items()})


@pytest.mark.parametrize("name", SAVED_MODEL_CASES)
def test_saved_model_inputs_and_outputs_are_named_after_signature_keys(name: str) -> None:
    import json

    expected = json.loads((SAVED_MODELS / name / "expected.json").read_text())
    model = tff.to_onnx(SAVED_MODELS / name / "model")
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == sorted(expected["inputs"])
    assert [o.name for o in model.graph.output] == sorted(expected["outputs"])
    for out in model.graph.output:
        assert out.type.tensor_type.elem_type == onnx.helper.np_dtype_to_tensor_dtype(
            np.dtype(expected["outputs"][out.name]["dtype"]))
    if any(n.op_type == "Loop" for n in model.graph.node):
        # onnx's reference SequenceInsert cannot insert at the end of a sequence; the oracle test
        # compares these loops with TensorFlow instead
        got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, _feeds(model))
        assert [g.ndim for g in got] == [len(o.type.tensor_type.shape.dim) for o in model.graph.output]
        return
    _run_both(model, _feeds(model))


def test_unknown_dims_become_named_symbolic_dims_and_input_shapes_fix_them() -> None:
    path = SAVED_MODELS / "keras_mlp" / "model"
    model = tff.to_onnx(path)
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.HasField("dim_value")
    name = model.graph.input[0].name
    fixed = tff.to_onnx(path, input_shapes={name: [4, 6]})
    assert [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim] == [4, 6]


def test_nhwc_cnn_keeps_channels_first_between_layers() -> None:
    model = tff.to_onnx(cnn(3), outputs=["relu2:0"])
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["Conv"] == 3
    assert ops["Transpose"] == 2  # into channels-first at the input, back to NHWC at the output
    onnx.checker.check_model(model, full_check=True)
    _run_both(model, _feeds(model))


def test_unconvertible_ops_are_all_listed_with_counts_and_a_node_each() -> None:
    with pytest.raises(UnsupportedError) as err:
        tff.to_onnx(unconvertible(), outputs=["y:0"])
    text = str(err.value)
    assert "2 op types" in text
    assert "FancyOp (2x, e.g. node 'a')" in text
    assert "OtherOp (1x, e.g. node 'c')" in text


@pytest.mark.parametrize("opset", [13, 17])
def test_older_opsets_convert_to_models_onnxruntime_runs(opset: int) -> None:
    model = tff.to_onnx(SAVED_MODELS / "keras_cnn" / "model", opset=opset)
    assert model.opset_import[0].version == opset
    onnx.checker.check_model(model, full_check=True)
    _run_both(model, _feeds(model))


def test_opset_outside_the_supported_range_is_refused() -> None:
    from tfformats.errors import ArgumentError

    with pytest.raises(ArgumentError, match="opset 12"):
        tff.to_onnx(SAVED_MODELS / "keras_cnn" / "model", opset=12)


def test_graph_can_be_cut_at_an_inner_tensor_fed_as_input() -> None:
    case = load_case("mlp")
    frozen = freeze_case(case)
    by_name = {n.name: n for n in frozen.node}
    relus = [n.name for n in frozen.node if n.op == "Relu"]
    matmul = next(n for n in frozen.node if n.op == "MatMul" and n.input[0] == relus[0])
    kernel = by_name[matmul.input[1]]
    while kernel.op == "Identity":
        kernel = by_name[kernel.input[0]]
    width = tff.to_numpy(kernel.attr["value"].tensor).shape[0]
    cut = f"{relus[0]}:0"
    model = tff.to_onnx(frozen, inputs=[cut], outputs=case.fetches, input_shapes={cut: [-1, width]})
    assert [i.name for i in model.graph.input] == [cut]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert sum(n.op_type == "Relu" for n in model.graph.node) == len(relus) - 1
    onnx.checker.check_model(model, full_check=True)
    _run_both(model, {cut: np.random.default_rng(1).standard_normal((2, width)).astype(np.float32)})


def test_input_of_unknown_rank_asks_for_input_shapes_and_outputs_get_inferred_shapes() -> None:
    from onnx_graph_builders import FLOAT, graph, node
    from tfformats.errors import ArgumentError

    m = node("m", "Placeholder", dtype=(3,))
    m.attr["shape"].shape.dim.add().size = 3
    g = graph([node("x", "Placeholder", dtype=FLOAT), m, node("y", "Relu", ["x"], T=FLOAT),
               node("z", "Tile", ["y", "m"], T=FLOAT, Tmultiples=(3,))])
    with pytest.raises(ArgumentError, match="input_shapes"):
        tff.to_onnx(g, outputs=["z:0"])
    model = tff.to_onnx(g, outputs=["z:0"], input_shapes={"x:0": [2, 1, -1]})
    # the converter does not know the rank of a Tile by run-time multiples; onnx's shape inference does
    assert len(model.graph.output[0].type.tensor_type.shape.dim) == 3
    onnx.checker.check_model(model, full_check=True)
    _run_both(model, {"x:0": np.random.default_rng(0).standard_normal((2, 1, 5)).astype(np.float32),
                      "m:0": np.array([1, 2, 1], np.int32)})


def test_tf1_cond_whose_branches_differ_in_shape_is_refused() -> None:
    from onnx_graph_builders import FLOAT, graph, node

    x = node("x", "Placeholder", dtype=FLOAT)
    x.attr["shape"].shape.dim.add().size = 3
    p = node("p", "Placeholder", dtype=(10,))
    p.attr["shape"].shape.SetInParent()
    axis = node("axis", "Const", value=np.array([0], np.int32), dtype=(3,))
    g = graph([x, p, axis, node("s", "Switch", ["x", "p"], T=FLOAT),
               node("sum", "Sum", ["s:1", "axis"], T=FLOAT, Tidx=(3,), keep_dims=True),
               node("m", "Merge", ["s", "sum"], T=FLOAT), node("y", "Identity", ["m"], T=FLOAT)])
    with pytest.raises(UnsupportedError, match="different shapes"):
        tff.to_onnx(g, outputs=["y:0"])
