"""``to_onnx``: a frozen GraphDef, SavedModel or .meta + checkpoint to an ONNX ModelProto.

Example:
    >>> import tfformats as tff
    >>> model = tff.to_onnx("export/1")                       # a SavedModel folder
    >>> model = tff.to_onnx("frozen.pb", input_shapes={"x:0": [1, 224, 224, 3]})
    >>> import onnx; onnx.save(model, "model.onnx")
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence, Union

from ..errors import ArgumentError, PathLike, UnsupportedError
from ..graphs.names import parse_input
from ._deps import require_onnx
from .context import Context, Model
from .dtypes import onnx_type
from .graph import format_unsupported, needed_nodes, unsupported_ops, convert_nodes
from .fuse import affine_to_batch_norm, fold_conv_affine, fold_pad_into_conv
from .rnn import fuse_lstm_loops
from .layout import cancel_transposes, drop_unused
from .source import Frozen, Source, resolve
from .values import Shape, Value

DEFAULT_OPSET = 18
MIN_OPSET = 13


def _shape_dims(shape: Shape, name: str) -> Optional[list[Any]]:
    if shape is None:
        return None
    return [d if isinstance(d, (int, str)) else f"{_sym(name)}_dim{i}" for i, d in enumerate(shape)]


def _sym(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _output_dtype(node: Any, index: int) -> int:
    """TF dtype of output ``index`` of a node: its ``dtype`` attr for placeholders, else its OpDef."""
    from ..graphs.registry import op_def
    from .attrs import get_type

    if node.op in ("Placeholder", "PlaceholderWithDefault"):
        return get_type(node, "dtype")
    od = op_def(node.op)
    if od is not None and index < len(od.output_arg):
        arg = od.output_arg[index]
        return int(arg.type) if arg.type else get_type(node, arg.type_attr)
    return get_type(node, "T") or get_type(node, "dtype")


def _input_value(model: Model, node: Any, index: int, onnx_name: str,
                 override: Optional[Sequence[int]]) -> tuple[Value, Any]:
    """The graph input fed in place of output ``index`` of ``node`` (a Placeholder or any other node)."""
    from .attrs import get_shape

    dtype = onnx_type(_output_dtype(node, index), f"input {onnx_name!r}")
    dims = [int(d) for d in override] if override is not None else get_shape(node, "shape")
    if override is None and node.op not in ("Placeholder", "PlaceholderWithDefault"):
        listed = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
        dims = None if index >= len(listed) or listed[index].unknown_rank else [int(d.size) for d in listed[index].dim]
    if dims is None:  # ONNX model inputs need a rank
        raise ArgumentError(f"input {onnx_name!r} has no known rank: give its shape with input_shapes "
                            f"(--input-shape {onnx_name}=D1,D2,..., -1 for unknown dims)")
    shape = tuple(d if d >= 0 else f"{_sym(onnx_name)}_dim{i}" for i, d in enumerate(dims))
    info = model.helper.make_tensor_value_info(onnx_name, dtype, list(shape))
    return Value(onnx_name, dtype, shape), info


def _rename(nodes: Sequence[Any], old: str, new: str) -> None:
    """Rename value ``old`` to ``new`` in the inputs and outputs of ``nodes`` and of their subgraphs."""
    for node in nodes:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        for attr in node.attribute:
            if attr.HasField("g"):
                _rename(attr.g.node, old, new)
            for g in attr.graphs:
                _rename(g.node, old, new)


def _check_opset(opset: Optional[int], onnx: Any) -> int:
    if opset is None:
        return DEFAULT_OPSET
    newest = int(onnx.defs.onnx_opset_version())
    if not MIN_OPSET <= opset <= newest:
        raise ArgumentError(f"opset {opset} is not supported: choose {MIN_OPSET} to {newest}")
    return int(opset)


def convert_frozen(frozen: Frozen, *, input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                   opset: Optional[int] = None) -> Any:
    """Convert an already frozen graph; ``frozen`` names the model's inputs and outputs."""
    onnx = require_onnx()
    opset_n = _check_opset(opset, onnx)
    graph_def = frozen.graph_def
    from .v1_loops import collapse

    nodes, frames = collapse(graph_def)
    by_name = {n.name: n for n in nodes}
    functions = {f.signature.name: f for f in graph_def.library.function}
    shapes = dict(input_shapes or {})
    for key in shapes:
        if key not in frozen.inputs and f"{key}:0" not in frozen.inputs:
            raise ArgumentError(f"input_shapes names {key!r}, which is not an input; inputs are "
                                f"{', '.join(frozen.inputs)}")
    out_nodes = [parse_input(t).node for t in frozen.outputs.values()]
    for name in out_nodes + [parse_input(t).node for t in frozen.inputs.values()]:
        if name not in by_name:
            raise ArgumentError(f"the graph has no node {name!r}")
    input_nodes = {parse_input(t).node for t in frozen.inputs.values()}
    order = needed_nodes(by_name, out_nodes, stop=input_nodes)
    inner = [m for f in frames.values() for m in f.nodes.values()
             if m.op not in ("Enter", "RefEnter", "Exit", "RefExit", "NextIteration", "RefNextIteration", "LoopCond")]
    missing = unsupported_ops([n for n in order if n.name not in input_nodes] + inner, functions)
    if missing:
        raise UnsupportedError(format_unsupported(missing), frozen.path)

    model = Model(onnx, opset_n, functions)
    model.frames = dict(frames)
    cx = Context(model)
    graph_inputs = []
    for onnx_name, tensor in frozen.inputs.items():
        node = by_name[parse_input(tensor).node]
        if node.name not in {n.name for n in order}:
            continue  # an input the outputs do not need is left out, as TensorFlow would ignore its feed
        override = shapes.get(onnx_name, shapes.get(onnx_name + ":0"))
        model.reserve(onnx_name)
        value, info = _input_value(model, node, parse_input(tensor).index, onnx_name, override)
        cx.values[tensor] = value
        graph_inputs.append(info)
    convert_nodes(cx, [n for n in order if n.name not in input_nodes])

    outputs = _name_outputs(cx, model, frozen)
    graph = model.graph
    graph.name = "tfformats"
    graph.node.extend(cx.nodes)
    graph.input.extend(graph_inputs)
    graph.output.extend(outputs)
    fuse_lstm_loops(graph, model)
    cancel_transposes(graph)
    fold_conv_affine(graph, model)
    affine_to_batch_norm(graph, model)
    fold_pad_into_conv(graph, model)
    model.write_initializers(drop_unused(graph))
    from .. import __version__

    proto = model.proto
    proto.ir_version = min(int(onnx.IR_VERSION), 10)
    proto.producer_name, proto.producer_version = "tfformats", __version__
    proto.opset_import.add(domain="", version=opset_n)
    _infer_missing_output_shapes(proto, onnx)
    return proto


def _infer_missing_output_shapes(proto: Any, onnx: Any) -> None:
    """Ask onnx's shape inference for outputs whose rank the converter did not track.

    Runs on a light copy: big initializers are declared as inputs of known shape instead of copied.
    """
    missing = [o for o in proto.graph.output if not o.type.tensor_type.HasField("shape")]
    if not missing:
        return
    light = onnx.ModelProto()
    light.ir_version = proto.ir_version
    light.opset_import.extend(proto.opset_import)
    g = light.graph
    g.node.extend(proto.graph.node)
    g.input.extend(proto.graph.input)
    g.output.extend(proto.graph.output)
    for init in proto.graph.initializer:
        size = 1
        for d in init.dims:
            size *= d
        if size <= 4096:
            g.initializer.append(init)
        else:
            g.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    try:
        inferred = onnx.shape_inference.infer_shapes(light)
    except Exception:  # inference gives up on some graphs; the outputs then keep what is known
        return
    found = {o.name: o for o in inferred.graph.output}
    for out in missing:
        got = found.get(out.name)
        if got is not None and got.type.tensor_type.HasField("shape"):
            out.type.tensor_type.shape.CopyFrom(got.type.tensor_type.shape)


def _name_outputs(cx: Context, model: Model, frozen: Frozen) -> list[Any]:
    """Give each requested output its ONNX name: rename the value that computes it, or add an Identity."""
    infos = []
    produced = {o for n in cx.nodes for o in n.output}
    for onnx_name, tensor in frozen.outputs.items():
        v = cx.lookup(tensor)
        name = cx.plain(v)
        if name == onnx_name:
            pass
        elif name in produced and name not in frozen.outputs and name not in frozen.inputs:
            if model.used(onnx_name):
                _free_name(cx, model, onnx_name)
            model.reserve(onnx_name)
            _rename(cx.nodes, name, onnx_name)
            produced.discard(name)
            v.forms[None] = onnx_name  # later outputs of the same tensor now read it under this name
        else:
            if model.used(onnx_name):
                _free_name(cx, model, onnx_name)
            model.reserve(onnx_name)
            cx.nodes.append(model.helper.make_node("Identity", [name], [onnx_name],
                                                   name=model.unique("n/" + onnx_name)))
        infos.append(model.helper.make_tensor_value_info(onnx_name, v.dtype, _shape_dims(v.shape, onnx_name)))
    return infos


def _free_name(cx: Context, model: Model, wanted: str) -> None:
    """An internal value already uses an output's name: give it another."""
    other = model.unique(wanted + "_internal")
    _rename(cx.nodes, wanted, other)
    if wanted in model.arrays:
        model.arrays[other] = model.arrays.pop(wanted)
    model.release(wanted)


def to_onnx(source: Union[Source, Any], *, outputs: Union[str, Sequence[str], None] = None,
            inputs: Union[str, Sequence[str], None] = None,
            input_shapes: Optional[Mapping[str, Sequence[int]]] = None, opset: Optional[int] = None,
            signature: str = "serving_default", tags: Optional[Sequence[str]] = None,
            checkpoint: Optional[PathLike] = None) -> Any:
    """Convert a TensorFlow model to an ``onnx.ModelProto``, without TensorFlow.

    Args:
        source: a frozen GraphDef (message, ``.pb`` or ``.pbtxt``), a SavedModel folder, or a ``.meta``
            (then ``checkpoint`` and ``outputs`` are needed); it is frozen first with tfformats' freezer.
        outputs: tensors (``name:0`` or node names) of a GraphDef, or output keys of the signature.
        inputs: tensors to feed (default: every Placeholder the outputs need; signature inputs for SavedModels).
        input_shapes: ``{input: [dims]}`` to fix unknown dims (use -1 to keep one unknown).
        opset: ONNX opset (default 18).

    ONNX inputs and outputs are named after the signature's keys for a SavedModel, after the TensorFlow
    tensor names (``x:0``) for a GraphDef. Raises UnsupportedError listing every op that cannot be converted.
    """
    require_onnx()
    frozen = resolve(source, outputs=outputs, inputs=inputs, signature=signature, tags=tags,
                     checkpoint=checkpoint)
    return convert_frozen(frozen, input_shapes=input_shapes, opset=opset)


__all__ = ["DEFAULT_OPSET", "convert_frozen", "to_onnx"]
