"""Turn what the user passes to ``to_onnx`` into one frozen GraphDef plus input and output names."""

from __future__ import annotations

import os
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Union

from ..errors import ArgumentError, GraphError, PathLike
from ..graphs.names import parse_input

Source = Union[str, "os.PathLike[str]", Any]

# Ops whose outputs are never wanted as a default model output.
_NOT_OUTPUTS = frozenset({"NoOp", "Const", "Placeholder", "PlaceholderWithDefault", "Assert", "SaveV2", "Save",
                          "RestoreV2", "VarHandleOp", "VariableV2", "Variable", "AssignVariableOp"})


class Frozen(NamedTuple):
    """A frozen graph and how the ONNX model's inputs and outputs map onto its tensors."""

    graph_def: Any
    inputs: dict[str, str]  # ONNX input name -> TF tensor ``node:index``
    outputs: dict[str, str]  # ONNX output name -> TF tensor
    path: Optional[str]


def _tensor(name: str) -> str:
    ref = parse_input(name)
    return f"{ref.node}:{ref.index}"


def _names(value: Union[str, Sequence[str], None]) -> Optional[list[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def default_outputs(graph_def: Any) -> list[str]:
    """Tensors of nodes nothing consumes (their output 0)."""
    used = {parse_input(i).node for n in graph_def.node for i in n.input}
    return [f"{n.name}:0" for n in graph_def.node if n.name not in used and n.op not in _NOT_OUTPUTS]


def placeholders(graph_def: Any) -> list[str]:
    return [f"{n.name}:0" for n in graph_def.node if n.op == "Placeholder"]


def _from_graph_def(graph_def: Any, inputs: Optional[list[str]], outputs: Optional[list[str]],
                    path: Optional[str]) -> Frozen:
    outs = [_tensor(o) for o in outputs] if outputs else default_outputs(graph_def)
    if not outs:
        raise GraphError("the graph has no outputs to convert (pass outputs=)")
    ins = [_tensor(i) for i in inputs] if inputs is not None else placeholders(graph_def)
    return Frozen(graph_def, {t: t for t in ins}, {t: t for t in outs}, path)


def _saved_model(dirpath: str, signature: str, tags: Sequence[str], outputs: Optional[list[str]]) -> Frozen:
    from ..freezing.freezer import freeze_saved_model_report, is_tf2_meta_graph
    from ..graphs.read import read_saved_model, saved_model_file, select_meta_graph

    path = saved_model_file(dirpath)
    meta = select_meta_graph(read_saved_model(dirpath), tags, path)
    if is_tf2_meta_graph(meta):
        from ..freezing.saved_model_v2 import load_and_freeze

        report = load_and_freeze(dirpath, tags, signature)
        ins, outs = dict(report.inputs), dict(report.outputs)
        graph_def = report.graph_def
    else:
        if signature not in meta.signature_def:
            raise ArgumentError(f"{path}: no signature {signature!r}; available: "
                                f"{', '.join(sorted(meta.signature_def)) or 'none'}")
        sig = meta.signature_def[signature]
        ins = {k: _tensor(sig.inputs[k].name) for k in sorted(sig.inputs)}
        outs = {k: _tensor(sig.outputs[k].name) for k in sorted(sig.outputs)}
        graph_def = freeze_saved_model_report(dirpath, tags, signature).graph_def
    if outputs:
        missing = [o for o in outputs if o not in outs]
        if missing:
            raise ArgumentError(f"{path}: signature {signature!r} has no output {missing[0]!r}; "
                                f"it has {', '.join(sorted(outs))}")
        outs = {k: outs[k] for k in outputs}
    return Frozen(graph_def, ins, outs, path)


def resolve(source: Source, *, outputs: Union[str, Sequence[str], None] = None,
            inputs: Union[str, Sequence[str], None] = None, signature: str = "serving_default",
            tags: Optional[Sequence[str]] = None, checkpoint: Optional[PathLike] = None) -> Frozen:
    """Freeze ``source`` if needed and say which tensors become the model's inputs and outputs."""
    out_names, in_names = _names(outputs), _names(inputs)
    if hasattr(source, "node") and hasattr(source, "library"):
        return _from_graph_def(source, in_names, out_names, None)
    path = os.fspath(source)
    if os.path.isdir(path):
        frozen = _saved_model(path, signature, tuple(tags or ("serve",)), out_names)
        if in_names is not None:
            missing = [i for i in in_names if i not in frozen.inputs]
            if missing:
                raise ArgumentError(f"{path}: signature {signature!r} has no input {missing[0]!r}")
        return frozen
    from ..graphs.read import read_message

    kind, message = read_message(path)
    if kind == "meta":
        if checkpoint is None:
            raise ArgumentError(f"{path}: a MetaGraphDef needs checkpoint= (the variables' values)")
        if not out_names:
            raise ArgumentError(f"{path}: a MetaGraphDef needs outputs= (node names to keep)")
        from ..freezing.freezer import freeze

        graph_def = freeze(message, checkpoint, [parse_input(o).node for o in out_names])
        return _from_graph_def(graph_def, in_names, out_names, path)
    if kind == "saved_model":
        return _saved_model(os.path.dirname(path) or ".", signature, tuple(tags or ("serve",)), out_names)
    return _from_graph_def(message, in_names, out_names, path)


def apply_shapes(shapes: Optional[Mapping[str, Sequence[int]]]) -> dict[str, list[int]]:
    return {k: [int(d) for d in v] for k, v in (shapes or {}).items()}
