"""Run a frozen GraphDef, a SavedModel or an ``.onnx`` file without TensorFlow.

A TensorFlow model is frozen when it still has variables, converted to ONNX
(``tfformats.onnx.to_onnx``) and evaluated by onnxruntime when it is
installed, else by ``onnx.reference.ReferenceEvaluator`` (pure numpy).
Feeds and results are keyed by signature keys for SavedModels and by tensor
names for GraphDefs (``x:0``; ``x`` means the same tensor); an ``.onnx``
model uses its own input and output names.

Example:
    >>> import numpy as np, tfformats as tff
    >>> tff.run("frozen.pb", {"x": np.ones((1, 8), np.float32)}, outputs=["probs"])
    {'probs': array([[...]], dtype=float32)}
"""

from __future__ import annotations

import os
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from ..errors import ArgumentError, FormatError, GraphError, ModelNotFoundError, PathLike
from .backend import evaluate, model_inputs, model_outputs, require_onnx
from .tensors import did_you_mean

ModelInput = Union[str, "os.PathLike[str]", Any]
Names = Union[str, Sequence[str], None]


class Prepared(NamedTuple):
    """An ONNX model ready to run, and what it was made from."""

    model: Any  # onnx.ModelProto
    source: str
    kind: str  # "onnx", "graph" or "saved_model"


def _names(value: Names) -> Optional[list[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def aliases(name: str) -> list[str]:
    """Spellings that mean the same tensor: ``x:0`` and ``x``."""
    if name.endswith(":0"):
        return [name, name[:-2]]
    if ":" in name and name.rpartition(":")[2].isdigit():
        return [name]
    return [name, f"{name}:0"]


def _match(given: str, available: Sequence[str]) -> Optional[str]:
    for spelling in aliases(given):
        if spelling in available:
            return spelling
    return None


def load_onnx(path: PathLike) -> Any:
    """Read an ``.onnx`` file; a damaged or foreign file raises FormatError naming it."""
    onnx = require_onnx("reading an .onnx file")
    text = os.fspath(path)
    if not os.path.exists(text):
        raise ModelNotFoundError("no such file", text)
    try:
        model = onnx.load(text)
    except Exception as exc:  # protobuf DecodeError, or onnx's own errors for external data
        raise FormatError(f"not an ONNX model: {' '.join(str(exc).split())[:300]}", text) from None
    if not model.graph.output:
        raise FormatError("not an ONNX model (no graph outputs)", text)
    return model


def _is_onnx_model(value: Any) -> bool:
    descriptor = getattr(value, "DESCRIPTOR", None)
    return descriptor is not None and descriptor.full_name == "onnx.ModelProto"


def _graph_has_variables(message: Any) -> bool:
    from .saved_model import VARIABLE_OPS

    graph = message.graph_def if type(message).DESCRIPTOR.full_name == "tensorflow.MetaGraphDef" else message
    return any(n.op in VARIABLE_OPS for n in graph.node)


def _sibling_checkpoint(path: str) -> Optional[str]:
    """``model.ckpt-1.meta`` -> ``model.ckpt-1`` when that checkpoint exists beside it."""
    if path.endswith(".meta"):
        prefix = path[:-len(".meta")]
        if os.path.exists(prefix + ".index") or os.path.isfile(prefix):
            return prefix
    return None


def _check_names(graph_def: Any, shown: str, inputs: Optional[list[str]], outputs: Optional[list[str]]) -> None:
    from .tensors import GraphIndex

    index = GraphIndex(graph_def, shown)
    index.require(inputs or [], "input")
    index.require(outputs or [], "output")


def _convert(source: Any, shown: str, *, inputs: Optional[list[str]], outputs: Optional[list[str]],
             signature: str, tags: Optional[Sequence[str]], checkpoint: Optional[PathLike],
             input_shapes: Optional[Mapping[str, Sequence[int]]], graph_def: Any = None) -> Any:
    require_onnx("running a TensorFlow model")
    if graph_def is not None:
        _check_names(graph_def, shown, inputs, outputs)
    try:
        from ..onnx.convert import to_onnx
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("tfformats.onnx"):
            raise
        from ..errors import UnsupportedError

        raise UnsupportedError("running a TensorFlow graph needs the ONNX converter (tfformats.onnx), "
                               "which this installation lacks", shown) from None
    try:
        return to_onnx(source, outputs=outputs, inputs=inputs,
                       input_shapes=dict(input_shapes) if input_shapes else None, signature=signature,
                       tags=tuple(tags) if tags else None, checkpoint=checkpoint)
    except FormatError as exc:
        if exc.path is None and shown != "<graph>":
            raise exc.with_path(shown) from None  # the converter saw only the message, not the file
        raise
    except GraphError as exc:
        if shown in str(exc):
            raise
        raise GraphError(f"{shown}: {exc}") from None


def prepare(model: ModelInput, *, inputs: Names = None, outputs: Names = None, signature: str = "serving_default",
            tags: Optional[Sequence[str]] = None, checkpoint: Optional[PathLike] = None,
            input_shapes: Optional[Mapping[str, Sequence[int]]] = None) -> Prepared:
    """Turn any model tfformats runs into an ONNX model (frozen and converted when needed)."""
    in_names, out_names = _names(inputs), _names(outputs)
    if _is_onnx_model(model):
        return Prepared(model, "<onnx model>", "onnx")
    # Chosen inputs only matter for graphs (any tensor can be fed); a signature fixes its own.
    options: dict[str, Any] = dict(inputs=None, outputs=out_names, signature=signature, tags=tags,
                                   checkpoint=checkpoint, input_shapes=input_shapes)
    if not isinstance(model, (str, os.PathLike)):
        if _graph_has_variables(model):
            if checkpoint is None:
                raise ArgumentError("the graph has variables; give the checkpoint that holds their values "
                                    "(checkpoint=), or run a frozen graph")
            model = _freeze(model, checkpoint, out_names, "<graph>")
            options["checkpoint"] = None
        return Prepared(_convert(model, "<graph>", **dict(options, inputs=in_names), graph_def=model), "<graph>",
                        "graph")
    path = os.fspath(model)
    if os.path.isdir(path):
        return Prepared(_convert(path, path, **options), path, "saved_model")
    if path.endswith(".onnx"):
        return Prepared(load_onnx(path), path, "onnx")
    if not os.path.exists(path):
        raise ModelNotFoundError("no such file or folder", path)
    from ..graphs.read import read_message

    kind, message = read_message(path)
    if kind == "saved_model":
        folder = os.path.dirname(path) or "."
        return Prepared(_convert(folder, path, **options), path, "saved_model")
    if not _graph_has_variables(message) and kind == "graph":
        return Prepared(_convert(path, path, **dict(options, inputs=in_names), graph_def=message), path, "graph")
    ckpt = checkpoint if checkpoint is not None else _sibling_checkpoint(path)
    if ckpt is None:
        raise ArgumentError(f"{path}: the graph has variables; give the checkpoint that holds their values "
                            "(checkpoint= / --checkpoint), or run a frozen graph")
    message = _freeze(message, ckpt, out_names, path)
    options["checkpoint"] = None
    return Prepared(_convert(message, path, **dict(options, inputs=in_names), graph_def=message), path, "graph")


def _freeze(message: Any, checkpoint: PathLike, outputs: Optional[list[str]], shown: str) -> Any:
    from ..freezing.freezer import freeze
    from ..graphs.names import node_name

    if not outputs:
        raise ArgumentError(f"{shown}: freezing the graph's variables needs the output names (outputs= / --output)")
    return freeze(message, checkpoint, list(dict.fromkeys(node_name(o) for o in outputs)))


def match_feeds(model: Any, feeds: Mapping[str, Any], source: str) -> dict[str, np.ndarray]:
    """Feeds keyed by the model's input names, cast to the input dtypes; unknown or missing names refused."""
    wanted = model_inputs(model)
    names = [i.name for i in wanted]
    by_name = {i.name: i for i in wanted}
    out: dict[str, np.ndarray] = {}
    unknown = []
    for key, value in feeds.items():
        name = _match(key, names)
        if name is None:
            unknown.append(key)
            continue
        if name in out:
            raise ArgumentError(f"{source}: input {name!r} is fed twice")
        out[name] = _cast(np.asarray(value), by_name[name], source)
    if unknown:
        hints = "; ".join(f"{k!r}{did_you_mean(k, names)}" for k in unknown)
        raise ArgumentError(f"{source}: the model has no input {hints}; its inputs: {', '.join(names) or 'none'}")
    missing = [n for n in names if n not in out]
    if missing:
        raise ArgumentError(f"{source}: no value for input {', '.join(repr(m) for m in missing)}")
    return out


def _cast(value: np.ndarray, spec: Any, source: str) -> np.ndarray:
    if spec.shape is not None:
        if value.ndim != len(spec.shape):
            raise ArgumentError(f"{source}: input {spec.name!r} has rank {len(spec.shape)} "
                                f"({_shape_text(spec.shape)}), the value has shape {list(value.shape)}")
        for want, got in zip(spec.shape, value.shape):
            if isinstance(want, int) and want > 0 and want != got:
                raise ArgumentError(f"{source}: input {spec.name!r} has shape {_shape_text(spec.shape)}, "
                                    f"the value has shape {list(value.shape)}")
    if spec.dtype is None or value.dtype == spec.dtype:
        return value
    if spec.dtype == np.dtype(object):
        return value.astype(object)
    if not np.can_cast(value.dtype, spec.dtype, casting="same_kind") and value.dtype.kind != spec.dtype.kind:
        raise ArgumentError(f"{source}: input {spec.name!r} is {spec.dtype}, the value is {value.dtype}")
    return value.astype(spec.dtype)


def _shape_text(shape: Sequence[Any]) -> str:
    return "[" + ", ".join("?" if d is None or d == 0 else str(d) for d in shape) + "]"


def select_outputs(model: Any, outputs: Optional[list[str]], source: str) -> dict[str, str]:
    """``{result key: ONNX output name}``: the names asked for, as they were spelt, or every output."""
    names = model_outputs(model)
    if not outputs:
        return {n: n for n in names}
    chosen: dict[str, str] = {}
    unknown = []
    for key in outputs:
        name = _match(key, names)
        if name is None:
            unknown.append(key)
        else:
            chosen[key] = name
    if unknown:
        hints = "; ".join(f"{k!r}{did_you_mean(k, names)}" for k in unknown)
        raise ArgumentError(f"{source}: the model has no output {hints}; its outputs: {', '.join(names)}")
    return chosen


def run(model: ModelInput, feeds: Mapping[str, Any], *, outputs: Names = None, signature: str = "serving_default",
        tags: Optional[Sequence[str]] = None, checkpoint: Optional[PathLike] = None,
        backend: str = "auto") -> dict[str, np.ndarray]:
    """Evaluate a model without TensorFlow and return its outputs as numpy arrays.

    Args:
        model: a frozen GraphDef (message or ``.pb``/``.pbtxt``), a graph with variables plus ``checkpoint``
            (a ``.meta`` finds the checkpoint beside it), a SavedModel folder, an ``.onnx`` file or an
            ``onnx.ModelProto``.
        feeds: input values, keyed by signature key (SavedModel), tensor name (``x:0`` or ``x``, GraphDef) or
            ONNX input name.
        outputs: what to return (default: the signature's outputs / the graph's unconsumed nodes / every
            ONNX output), keyed in the result as spelt here.
        backend: ``"onnxruntime"``, ``"reference"`` (onnx's numpy evaluator) or ``"auto"`` (onnxruntime when
            installed).
    """
    out_names = _names(outputs)
    prepared = prepare(model, inputs=list(feeds), outputs=out_names, signature=signature, tags=tags,
                       checkpoint=checkpoint)
    selected = select_outputs(prepared.model, out_names, prepared.source)
    onnx_feeds = match_feeds(prepared.model, feeds, prepared.source)
    values = evaluate(prepared.model, onnx_feeds, list(selected.values()), backend=backend, source=prepared.source)
    return {key: values[name] for key, name in selected.items()}


__all__ = ["Prepared", "aliases", "load_onnx", "match_feeds", "prepare", "run", "select_outputs"]
