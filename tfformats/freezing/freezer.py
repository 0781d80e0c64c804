"""Freeze a graph or a SavedModel: variables become Const nodes, one self-contained GraphDef.

One front door for every input: :func:`freeze` / :func:`freeze_graph_def` take a
GraphDef or ``.meta`` and a checkpoint; :func:`freeze_saved_model` /
:func:`freeze_saved_model_report` take a SavedModel folder, TF1 (``Builder``,
session bundles) or TF2 (``tf.saved_model.save``, Keras ``export``). The
``*_report`` / ``freeze_graph_def`` forms return a :class:`FreezeResult`.

Example:
    >>> import tfformats as tff
    >>> frozen = tff.freeze("train/model.ckpt-1000.meta", "train/model.ckpt-1000", ["softmax"])
    >>> tff.write_graph_def(frozen, "frozen.pb")
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from .._io.source import StorageOptions
from ..checkpoint.interface import CheckpointReader
from ..errors import FormatError, GraphError, PathLike, UnsupportedError
from ..graphs.names import node_name
from ..graphs.opdefs import add_default_attrs_to_graph
from ..graphs.prune import check_outputs, extract_sub_graph, reachable
from .constants import Converter
from .result import FreezeResult, FreezeWarning
from .tables import rebuild_tables
from .variables import EMA_SUFFIX, VARIABLE_OPS, ValueLoader, VariableSource, find_variables, map_variables
from .writes import UseChecker, check_writes

GraphInput = Union[str, "os.PathLike[str]", Any]
CheckpointInput = Union[str, "os.PathLike[str]", CheckpointReader]
Names = Union[str, Iterable[str], None]


def split_names(names: Names) -> Optional[list[str]]:
    """A list of names from a list or one comma-separated string (None stays None)."""
    if names is None:
        return None
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names:
        out.extend(split_names(name) or [])
    return out


def _as_graph(graph: GraphInput, storage_options: StorageOptions = None) -> tuple[Any, Optional[Any]]:
    """``(graph_def, meta_graph or None)`` from a path (or URL), GraphDef or MetaGraphDef."""
    if isinstance(graph, (str, os.PathLike)):
        from ..graphs.read import read_message

        kind, message = read_message(graph, storage_options=storage_options)
        if kind == "saved_model":
            raise GraphError(f"{os.fspath(graph)} is a SavedModel; use freeze_saved_model()")
        graph = message
    full_name = type(graph).DESCRIPTOR.full_name
    if full_name == "tensorflow.MetaGraphDef":
        return graph.graph_def, graph
    if full_name == "tensorflow.GraphDef":
        return graph, None
    raise TypeError(f"expected a GraphDef, MetaGraphDef or a path, not {full_name}")


def _open_reader(checkpoint: CheckpointInput, storage_options: StorageOptions = None
                 ) -> tuple[CheckpointReader, bool]:
    if isinstance(checkpoint, CheckpointReader):
        return checkpoint, False
    from ..checkpoint.loading import load_checkpoint

    return load_checkpoint(checkpoint, storage_options=storage_options), True


def _check_selection(names: Optional[set[str]], all_variables: set[str], what: str) -> None:
    """Refuse keep/skip names that are not variables of the graph (nothing is silently ignored)."""
    unknown = sorted((names or set()) - all_variables)
    if unknown:
        from ..graphs.prune import suggest

        hint = suggest(unknown[0], sorted(all_variables))
        extra = f"; did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
        raise GraphError(f"{what}: {', '.join(repr(u) for u in unknown)} "
                         f"{'is not a variable' if len(unknown) == 1 else 'are not variables'} of the graph{extra}")


def _with_tables(graph_def: Any, outputs: list[str], assets: Optional[Mapping[str, str]],
                 path: Optional[str]) -> tuple[Any, list[str], Optional[str], list[Any]]:
    """``(graph, roots, init NoOp, tables)``: a copy with rebuilt table initializers when the outputs use tables."""
    needed = reachable(graph_def, outputs)
    from .tables import TABLE_OPS

    if not any(n.op in TABLE_OPS for n in graph_def.node if n.name in needed):
        return graph_def, outputs, None, []
    work = type(graph_def)()
    work.CopyFrom(graph_def)
    group, tables = rebuild_tables(work, needed, assets or {}, path=path)
    return work, outputs + ([group] if group else []), group, tables


def _check_function_uses(graph_def: Any, variables: Sequence[str], labels: Mapping[str, str]) -> None:
    """Refuse writes to frozen variables inside the functions (If/While/calls) they are passed to."""
    from .constants import CALLERS

    callers = [n for n in graph_def.node if n.op in CALLERS]
    if not callers:
        return
    checker = UseChecker(graph_def, labels)
    wanted = set(variables)
    for node in callers:
        for pos, text in enumerate(node.input):
            if not text.startswith("^") and node_name(text) in wanted:
                checker.check_call(node, pos, node_name(text))


def _check_ema(sources: Mapping[str, VariableSource], path: Optional[str]) -> None:
    if sources and not any(s.key.endswith(EMA_SUFFIX) for s in sources.values()):
        where = f"{path}: " if path else ""
        raise GraphError(f"{where}use_ema: the checkpoint holds no {EMA_SUFFIX.lstrip('/')} for any of the "
                         f"{len(sources)} variables to freeze")


def freeze_graph_def(graph: GraphInput, checkpoint: CheckpointInput, output_nodes: Union[str, Sequence[str]], *,
                     variable_map: Optional[Mapping[str, str]] = None, clear_devices: bool = True,
                     keep: Names = None, skip: Names = None, use_ema: bool = False, warn: bool = True,
                     assets: Optional[Mapping[str, str]] = None,
                     storage_options: StorageOptions = None) -> FreezeResult:
    """Like :func:`freeze`, and also report which variables were frozen and from which keys.

    ``assets`` maps nodes holding asset paths to the files they name (set by the SavedModel
    front door), so tables initialized from vocabulary files can be rebuilt.
    """
    graph_def, meta = _as_graph(graph, storage_options)
    path = os.fspath(graph) if isinstance(graph, (str, os.PathLike)) else None
    outputs = check_outputs(graph_def, split_names(output_nodes) or [])
    keep_set = set(split_names(keep) or []) if keep is not None else None
    skip_set = set(split_names(skip) or [])
    all_variables = {n.name for n in graph_def.node if n.op in VARIABLE_OPS}
    _check_selection(keep_set, all_variables, "keep")
    _check_selection(skip_set, all_variables, "skip")
    _check_selection(set(variable_map or {}), all_variables, "variable_map")
    by_name = {n.name: n for n in graph_def.node}
    work, roots, initializer, tables = _with_tables(graph_def, outputs, assets, path)
    out = extract_sub_graph(work, roots, by_name=by_name if work is graph_def else None)
    if clear_devices:
        for node in out.node:
            node.device = ""
    in_graph = [n.name for n in find_variables(out)]
    wanted = [n for n in in_graph if (keep_set is None or n in keep_set) and n not in skip_set]
    kept = [n for n in in_graph if n not in set(wanted)]
    try:
        check_writes(out, wanted, outputs)
        _check_function_uses(out, wanted, {})
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}" if path and path not in str(exc) else str(exc)) from None
    try:
        sources = _freeze_values(graph_def, meta, out, checkpoint, wanted, by_name, variable_map, use_ema,
                                 storage_options)
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}" if path and path not in str(exc) else str(exc)) from None
    if use_ema:
        _check_ema(sources, path)
    if meta is not None and meta.meta_info_def.stripped_default_attrs:
        add_default_attrs_to_graph(out, meta.meta_info_def.stripped_op_list)
    total = len(all_variables)
    if warn and not wanted and total:
        warnings.warn(f"froze 0 variables although the graph has {total}: the outputs "
                      f"{', '.join(outputs)} need none of them, or keep/skip excluded them", FreezeWarning,
                      stacklevel=2)
    return FreezeResult(out, wanted, kept, sources, total, outputs={o: f"{o}:0" for o in outputs},
                        initializer=initializer, tables=tables)


def _freeze_values(graph_def: Any, meta: Any, out: Any, checkpoint: CheckpointInput, wanted: Sequence[str],
                   by_name: Mapping[str, Any], variable_map: Optional[Mapping[str, str]],
                   use_ema: bool, storage_options: StorageOptions = None) -> dict[str, VariableSource]:
    """Replace ``wanted`` variables of ``out`` with Consts from the checkpoint; returns their sources."""
    if not wanted:
        return {}
    reader, owned = _open_reader(checkpoint, storage_options)
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
    return sources


def freeze(graph: GraphInput, checkpoint: CheckpointInput, output_nodes: Union[str, Sequence[str]], *,
           variable_map: Optional[Mapping[str, str]] = None, clear_devices: bool = True,
           keep: Names = None, skip: Names = None, use_ema: bool = False,
           storage_options: StorageOptions = None) -> Any:
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
        storage_options: passed to fsspec when ``graph`` or ``checkpoint`` is a URL.

    Raises:
        GraphError: a name is unknown, or the outputs depend on a variable write or a lookup
            table that freezing cannot reproduce (the message names the node or table).
    """
    return freeze_graph_def(graph, checkpoint, output_nodes, variable_map=variable_map, clear_devices=clear_devices,
                            keep=keep, skip=skip, use_ema=use_ema, storage_options=storage_options).graph_def


def is_tf2_meta_graph(meta: Any) -> bool:
    """True for meta graphs written by ``tf.saved_model.save`` (they carry an object graph)."""
    return meta.HasField("object_graph_def") and len(meta.object_graph_def.nodes) > 0


def _tensor_names(info: Any, key: str, signature: str, path: Optional[PathLike]) -> dict[str, str]:
    """``{name: tensor}`` of one signature entry: one dense tensor, or the three of a SparseTensor."""
    encoding = info.WhichOneof("encoding")
    if encoding == "name":
        return {key: info.name}
    if encoding == "coo_sparse":
        coo = info.coo_sparse
        return {f"{key}/indices": coo.indices_tensor_name, f"{key}/values": coo.values_tensor_name,
                f"{key}/dense_shape": coo.dense_shape_tensor_name}
    raise UnsupportedError(f"signature {signature!r} entry {key!r} is a composite tensor ({encoding})", path)


def signature_tensors(meta: Any, signature: str, side: str = "outputs",
                      path: Optional[PathLike] = None) -> dict[str, str]:
    """``{key: tensor name}`` of a TF1 signature's inputs or outputs (SparseTensors as three entries)."""
    if signature not in meta.signature_def:
        available = ", ".join(sorted(meta.signature_def)) or "none"
        raise FormatError(f"no signature {signature!r}; available: {available}", path)
    entries = getattr(meta.signature_def[signature], side)
    out: dict[str, str] = {}
    for key in sorted(entries):
        out.update(_tensor_names(entries[key], key, signature, path))
    return out


def signature_outputs(meta: Any, signature: str, path: Optional[PathLike] = None) -> list[str]:
    """Output node names of one signature of a meta graph."""
    return list(dict.fromkeys(node_name(t) for t in signature_tensors(meta, signature, "outputs", path).values()))


def _has_tables(meta: Any) -> bool:
    from .tables import TABLE_OPS

    return any(n.op in TABLE_OPS for n in meta.graph_def.node)


def tf1_asset_files(meta: Any, dirpath: str) -> dict[str, str]:
    """``{node: file}`` for the asset files of a TF1 SavedModel meta graph."""
    from ..proto import AssetFileDef
    from .tables import asset_files

    defs = list(meta.asset_file_def)
    if "saved_model_assets" in meta.collection_def:
        for packed in meta.collection_def["saved_model_assets"].any_list.value:
            asset = AssetFileDef()
            asset.ParseFromString(packed.value)
            defs.append(asset)
    return asset_files(defs, os.path.join(dirpath, "assets"))


def freeze_saved_model_report(dirpath: PathLike, tags: Sequence[str] = ("serve",),
                              signature: str = "serving_default", *, output_nodes: Names = None,
                              variable_map: Optional[Mapping[str, str]] = None, clear_devices: bool = True,
                              keep: Names = None, skip: Names = None, use_ema: bool = False,
                              storage_options: StorageOptions = None) -> FreezeResult:
    """Like :func:`freeze_saved_model`, returning a :class:`FreezeResult` (``dirpath`` may be a URL)."""
    from ..graphs.read import read_saved_model, saved_model_file, select_meta_graph

    path = saved_model_file(dirpath, storage_options=storage_options)
    saved_model = read_saved_model(path, storage_options=storage_options)
    meta = select_meta_graph(saved_model, tags, path)
    if is_tf2_meta_graph(meta):
        from .saved_model_v2 import freeze_tf2_report

        return freeze_tf2_report(saved_model, meta, os.fspath(dirpath), signature, clear_devices=clear_devices,
                                 outputs=split_names(output_nodes), keep=split_names(keep),
                                 skip=split_names(skip), variable_map=variable_map, use_ema=use_ema,
                                 storage_options=storage_options)
    given = split_names(output_nodes)
    outputs = given or signature_outputs(meta, signature, path)
    checkpoint = os.path.join(os.fspath(dirpath), "variables", "variables")
    assets = tf1_asset_files(meta, os.fspath(dirpath)) if _has_tables(meta) else None
    result = freeze_graph_def(meta, checkpoint, outputs, variable_map=variable_map, clear_devices=clear_devices,
                              keep=keep, skip=skip, use_ema=use_ema, assets=assets, storage_options=storage_options)
    if given:
        return result
    from dataclasses import replace

    return replace(result, inputs=signature_tensors(meta, signature, "inputs", path),
                   outputs=signature_tensors(meta, signature, "outputs", path))


def freeze_saved_model(dirpath: PathLike, tags: Sequence[str] = ("serve",), signature: str = "serving_default",
                       **options: Any) -> Any:
    """Freeze one signature of a SavedModel (TF1 or TF2) into a self-contained GraphDef.

    Options are those of :func:`freeze_saved_model_report`. For TF2 SavedModels feed
    ``serving_default_<input>:0`` and fetch ``<output key>:0``.

    Example:
        >>> frozen = tff.freeze_saved_model("export/1", tags=("serve",), signature="serving_default")
    """
    return freeze_saved_model_report(dirpath, tags, signature, **options).graph_def


__all__ = ["FreezeResult", "FreezeWarning", "freeze", "freeze_graph_def", "freeze_saved_model",
           "freeze_saved_model_report", "is_tf2_meta_graph", "signature_outputs", "signature_tensors",
           "split_names"]
