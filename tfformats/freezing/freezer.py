"""Freeze a TF1 graph or TF1 SavedModel: variables become Const nodes, one self-contained GraphDef.

Example:
    >>> import tfformats as tff
    >>> frozen = tff.freeze("train/model.ckpt-1000.meta", "train/model.ckpt-1000", ["softmax"])
    >>> tff.write_graph_def(frozen, "frozen.pb")
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

from ..checkpoint.interface import CheckpointReader
from ..errors import FormatError, GraphError, PathLike, UnsupportedError
from ..graphs.names import node_name
from ..graphs.opdefs import add_default_attrs_to_graph
from ..graphs.prune import extract_sub_graph
from .constants import Converter
from .variables import VARIABLE_OPS, ValueLoader, VariableSource, find_variables, map_variables

GraphInput = Union[str, "os.PathLike[str]", Any]
CheckpointInput = Union[str, "os.PathLike[str]", CheckpointReader]


class FreezeWarning(UserWarning):
    """Freezing finished but the result is probably not what was wanted."""


class FreezeResult(NamedTuple):
    """A frozen GraphDef and what happened to each variable."""

    graph_def: Any
    frozen: list[str]  # variable nodes turned into Const
    kept: list[str]  # variable nodes the outputs need that were left as variables (keep/skip)
    sources: dict[str, VariableSource]  # checkpoint source of every frozen variable
    variables_in_graph: int  # variable nodes in the whole input graph


def _split_names(names: Union[str, Iterable[str], None]) -> Optional[list[str]]:
    if names is None:
        return None
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    return [n.strip() for n in names]


def _as_graph(graph: GraphInput) -> tuple[Any, Optional[Any]]:
    """``(graph_def, meta_graph or None)`` from a path, GraphDef or MetaGraphDef."""
    if isinstance(graph, (str, os.PathLike)):
        from ..graphs.read import read_message

        kind, message = read_message(graph)
        if kind == "saved_model":
            raise GraphError(f"{os.fspath(graph)} is a SavedModel; use freeze_saved_model()")
        graph = message
    full_name = type(graph).DESCRIPTOR.full_name
    if full_name == "tensorflow.MetaGraphDef":
        return graph.graph_def, graph
    if full_name == "tensorflow.GraphDef":
        return graph, None
    raise TypeError(f"expected a GraphDef, MetaGraphDef or a path, not {full_name}")


def _open_reader(checkpoint: CheckpointInput) -> tuple[CheckpointReader, bool]:
    if isinstance(checkpoint, CheckpointReader):
        return checkpoint, False
    from ..checkpoint.loading import load_checkpoint

    return load_checkpoint(checkpoint), True


def freeze_graph_def(graph: GraphInput, checkpoint: CheckpointInput, output_nodes: Union[str, Sequence[str]], *,
                     variable_map: Optional[Mapping[str, str]] = None, clear_devices: bool = True,
                     keep: Union[str, Iterable[str], None] = None, skip: Union[str, Iterable[str], None] = None,
                     use_ema: bool = False, warn: bool = True) -> FreezeResult:
    """Like :func:`freeze`, and also report which variables were frozen and from which keys."""
    graph_def, meta = _as_graph(graph)
    outputs = _split_names(output_nodes) or []
    keep_set = set(_split_names(keep) or []) if keep is not None else None
    skip_set = set(_split_names(skip) or [])
    by_name = {n.name: n for n in graph_def.node}
    out = extract_sub_graph(graph_def, outputs, by_name=by_name)
    if clear_devices:
        for node in out.node:
            node.device = ""
    in_graph = [n.name for n in find_variables(out)]
    wanted = [n for n in in_graph if (keep_set is None or n in keep_set) and n not in skip_set]
    chosen = set(wanted)
    kept = [n for n in in_graph if n not in chosen]
    sources: dict[str, VariableSource] = {}
    if wanted:
        reader, owned = _open_reader(checkpoint)
        try:
            sources = map_variables(graph_def, meta_graph=meta, variable_map=variable_map, reader=reader,
                                    use_ema=use_ema, names=wanted, by_name=by_name)
            loader = ValueLoader(reader)
            converter = Converter(out)
            for name in wanted:
                converter.freeze_variable(name, loader.load(sources[name]))
            converter.finish()
            loader.release()
        finally:
            if owned:
                reader.close()
    if meta is not None and meta.meta_info_def.stripped_default_attrs:
        add_default_attrs_to_graph(out, meta.meta_info_def.stripped_op_list)
    total = sum(1 for n in by_name.values() if n.op in VARIABLE_OPS)
    if warn and not wanted and total:
        warnings.warn(f"froze 0 variables although the graph has {total}: the outputs "
                      f"{', '.join(outputs)} need none of them, or keep/skip excluded them", FreezeWarning,
                      stacklevel=2)
    return FreezeResult(out, wanted, kept, sources, total)


def freeze(graph: GraphInput, checkpoint: CheckpointInput, output_nodes: Union[str, Sequence[str]], *,
           variable_map: Optional[Mapping[str, str]] = None, clear_devices: bool = True,
           keep: Union[str, Iterable[str], None] = None, skip: Union[str, Iterable[str], None] = None,
           use_ema: bool = False) -> Any:
    """Return a frozen GraphDef: only what ``output_nodes`` need, every variable a Const.

    Args:
        graph: a GraphDef, a MetaGraphDef, or the path of a .pb/.pbtxt/.meta file.
            With a MetaGraphDef the checkpoint keys come from its Saver.
        checkpoint: a checkpoint prefix (or anything ``load_checkpoint`` accepts) or an open reader.
        output_nodes: node names (a list, or one comma-separated string).
        variable_map: ``{variable node: checkpoint key}`` overrides.
        keep: freeze only these variables (TensorFlow's whitelist).
        skip: leave these variables alone (TensorFlow's blacklist).
        use_ema: freeze each variable from its ``/ExponentialMovingAverage`` when the checkpoint has one.
    """
    return freeze_graph_def(graph, checkpoint, output_nodes, variable_map=variable_map, clear_devices=clear_devices,
                            keep=keep, skip=skip, use_ema=use_ema).graph_def


def is_tf2_meta_graph(meta: Any) -> bool:
    """True for meta graphs written by ``tf.saved_model.save`` (they carry an object graph)."""
    return meta.HasField("object_graph_def") and len(meta.object_graph_def.nodes) > 0


def signature_outputs(meta: Any, signature: str, path: Optional[PathLike] = None) -> list[str]:
    """Output node names of one signature of a meta graph."""
    if signature not in meta.signature_def:
        available = ", ".join(sorted(meta.signature_def)) or "none"
        raise FormatError(f"no signature {signature!r}; available: {available}", path)
    sig = meta.signature_def[signature]
    names = []
    for key in sorted(sig.outputs):
        info = sig.outputs[key]
        if info.WhichOneof("encoding") != "name":
            raise UnsupportedError(f"signature {signature!r} output {key!r} is a composite tensor", path)
        names.append(node_name(info.name))
    return list(dict.fromkeys(names))


def freeze_saved_model_report(dirpath: PathLike, tags: Sequence[str] = ("serve",),
                              signature: str = "serving_default", *, output_nodes: Optional[Sequence[str]] = None,
                              variable_map: Optional[Mapping[str, str]] = None, clear_devices: bool = True,
                              keep: Union[str, Iterable[str], None] = None,
                              skip: Union[str, Iterable[str], None] = None, use_ema: bool = False) -> FreezeResult:
    """Like :func:`freeze_saved_model`, returning a :class:`FreezeResult`."""
    from ..graphs.read import read_saved_model, saved_model_file, select_meta_graph

    path = saved_model_file(dirpath)
    saved_model = read_saved_model(dirpath)
    meta = select_meta_graph(saved_model, tags, path)
    if is_tf2_meta_graph(meta):
        try:
            from . import saved_model_v2
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.saved_model_v2":
                raise
            raise UnsupportedError("freezing a TF2 SavedModel (tf.saved_model.save: functions and "
                                   "StatefulPartitionedCall) is not supported yet", path) from None
        report = getattr(saved_model_v2, "freeze_tf2_report", None)
        if report is None:
            graph_def = saved_model_v2.freeze_tf2_saved_model(saved_model, meta, os.fspath(dirpath), signature)
            return FreezeResult(graph_def, [], [], {}, 0)
        tf2 = report(saved_model, meta, os.fspath(dirpath), signature, clear_devices=clear_devices)
        sources = {v.node: VariableSource(v.node, v.key, None, None, "object_graph") for v in tf2.variables}
        return FreezeResult(tf2.graph_def, [v.node for v in tf2.variables], [], sources, len(tf2.variables))
    outputs = list(output_nodes) if output_nodes else signature_outputs(meta, signature, path)
    checkpoint = os.path.join(os.fspath(dirpath), "variables", "variables")
    return freeze_graph_def(meta, checkpoint, outputs, variable_map=variable_map, clear_devices=clear_devices,
                            keep=keep, skip=skip, use_ema=use_ema)


def freeze_saved_model(dirpath: PathLike, tags: Sequence[str] = ("serve",), signature: str = "serving_default",
                       **options: Any) -> Any:
    """Freeze a TF1 SavedModel (``tf.compat.v1.saved_model.Builder``) from its signature's outputs.

    TF2 SavedModels raise :class:`UnsupportedError` unless the TF2 freezer is installed.
    """
    return freeze_saved_model_report(dirpath, tags, signature, **options).graph_def


__all__ = ["FreezeResult", "FreezeWarning", "freeze", "freeze_graph_def", "freeze_saved_model",
           "freeze_saved_model_report", "is_tf2_meta_graph", "signature_outputs"]
