"""Find a graph's variables and the checkpoint tensor each one is restored from.

By default a variable is restored from the checkpoint key equal to its node
name (what ``freeze_graph.py`` assumes without a saver). A MetaGraphDef knows
better: its Saver's restore subgraph says, for every variable, which
``tensor_names[j]`` / ``shape_and_slices[j]`` of a ``RestoreV2`` (or an old
``RestoreSlice``) is assigned to it, and its variable collections give the
slice of a partitioned variable (``save_slice_info_def``).
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from ..bundle.slices import FULL, Extent, parse_slice_spec, region, resolve
from ..errors import GraphError
from ..graphs.names import node_name, parse_input
from ..graphs.variables import variable_defs

VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
RESTORE_OPS = frozenset({"RestoreV2", "RestoreSlice", "Restore"})
ASSIGN_OPS = frozenset({"Assign", "AssignVariableOp"})
# Collections whose values are serialized VariableDef messages.
EMA_SUFFIX = "/ExponentialMovingAverage"


class VariableSource(NamedTuple):
    """Where one graph variable's value lives in the checkpoint."""

    node: str
    key: str
    full_shape: Optional[tuple[int, ...]]  # shape of the checkpoint tensor, when the variable is a slice of it
    extents: Optional[tuple[Extent, ...]]  # None: the variable is the whole tensor
    origin: str  # "name", "saver", "slice_info" or "variable_map"


def find_variables(graph_def: Any) -> list[Any]:
    """Variable nodes of the top-level graph, in graph order."""
    return [n for n in graph_def.node if n.op in VARIABLE_OPS]


def _const_strings(node: Any) -> list[str]:
    from ..tensor_proto import to_numpy

    if node.op != "Const":
        raise GraphError(f"restore input {node.name!r} is a {node.op}, not a Const")
    values = to_numpy(node.attr["value"].tensor)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.reshape(-1)]


def _through_identity(by_name: Mapping[str, Any], text: str) -> tuple[str, int]:
    ref = parse_input(text)
    seen = 0
    while ref.node in by_name and by_name[ref.node].op == "Identity" and seen < 100:
        ref = parse_input(by_name[ref.node].input[0])
        seen += 1
    return ref.node, ref.index


def _spec(shape_and_slice: str) -> tuple[Optional[tuple[int, ...]], Optional[tuple[Extent, ...]]]:
    shape, extents = parse_slice_spec(shape_and_slice)
    if extents is None:
        return None, None
    return tuple(shape), tuple(extents)


def saver_scope(saver_def: Any) -> str:
    """Name scope of a Saver (``save/``) from its restore op name (``save/restore_all``)."""
    name = node_name(saver_def.restore_op_name) if saver_def is not None else ""
    return name.rpartition("/")[0] + "/" if "/" in name else ""


# Inputs of each restore op: (tensor names, shape-and-slices); None means "whole tensors".
RESTORE_INPUTS = {"RestoreV2": (1, 2), "RestoreSlice": (1, 2), "Restore": (1, None)}


def _restore_names(restore: Any, by_name: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(checkpoint keys, slice specs)`` a restore op reads, from its Const inputs."""
    names_at, specs_at = RESTORE_INPUTS[restore.op]
    needed = max(names_at, specs_at or 0) + 1
    if len(restore.input) < needed:
        raise GraphError(f"restore node {restore.name!r} ({restore.op}) has {len(restore.input)} inputs, "
                         f"not {needed}; cannot tell which checkpoint keys it reads")

    def const_input(position: int, what: str) -> list[str]:
        name = node_name(restore.input[position])
        if name not in by_name:
            raise GraphError(f"restore node {restore.name!r} reads its {what} from {name!r}, which is not in "
                             "the graph")
        return _const_strings(by_name[name])

    names = const_input(names_at, "tensor names")
    specs = const_input(specs_at, "shape and slices") if specs_at is not None else [""] * len(names)
    return names, specs


def restore_mapping(graph_def: Any, saver_def: Any = None,
                    by_name: Optional[Mapping[str, Any]] = None) -> dict[str, VariableSource]:
    """``{variable node: source}`` read from the saver's restore subgraph.

    Only assignments under the saver's name scope count when ``saver_def`` is
    given, so a graph with several savers maps through the one that was used.
    """
    if by_name is None:
        by_name = {n.name: n for n in graph_def.node}
    scope = saver_scope(saver_def)
    out: dict[str, VariableSource] = {}
    names_cache: dict[str, tuple[list[str], list[str]]] = {}
    for node in by_name.values():
        if node.op not in ASSIGN_OPS or len(node.input) < 2 or not node.name.startswith(scope):
            continue
        var = node_name(node.input[0])
        var_node = by_name.get(var)
        if var_node is None or var_node.op not in VARIABLE_OPS:
            continue
        source, index = _through_identity(by_name, node.input[1])
        restore = by_name.get(source)
        if restore is None or restore.op not in RESTORE_OPS:
            continue
        if restore.name not in names_cache:
            names_cache[restore.name] = _restore_names(restore, by_name)
        names, specs = names_cache[restore.name]
        if restore.op != "RestoreV2":
            index = 0
        if index >= len(names):
            raise GraphError(f"{node.name} reads output {index} of {restore.name}, which restores "
                             f"only {len(names)} tensors")
        try:
            full_shape, extents = _spec(specs[index] if index < len(specs) else "")
        except ValueError as exc:
            raise GraphError(f"{node.name}: {exc} in {restore.name}") from None
        out[var] = VariableSource(var, names[index], full_shape, extents, "saver")
    return out


def slice_infos(meta_graph: Any) -> dict[str, VariableSource]:
    """Partitioned-variable slices from the VariableDefs in a MetaGraphDef's collections."""
    out: dict[str, VariableSource] = {}
    for vdef in variable_defs(meta_graph):
        info = vdef.save_slice_info_def
        if not info.full_name:
            continue
        var = node_name(vdef.variable_name)
        extents = tuple(Extent(int(o), int(s)) for o, s in zip(info.var_offset, info.var_shape))
        out[var] = VariableSource(var, info.full_name, tuple(int(d) for d in info.full_shape), extents,
                                  "slice_info")
    return out


def map_variables(graph_def: Any, *, meta_graph: Any = None, variable_map: Optional[Mapping[str, str]] = None,
                  reader: Any = None, use_ema: bool = False,
                  names: Optional[Sequence[str]] = None,
                  by_name: Optional[Mapping[str, Any]] = None) -> dict[str, VariableSource]:
    """Checkpoint source of every variable in ``names`` (default: all variables of ``graph_def``).

    ``graph_def`` should be the full graph (with the saver) when a mapping
    from the restore subgraph is wanted.
    """
    if names is None:
        names = [n.name for n in find_variables(graph_def)]
    saver_map: dict[str, VariableSource] = {}
    slices: dict[str, VariableSource] = {}
    if meta_graph is not None:
        saver_def = meta_graph.saver_def if meta_graph.HasField("saver_def") else None
        saver_map = restore_mapping(graph_def, saver_def, by_name)
        slices = slice_infos(meta_graph)
    else:
        saver_map = restore_mapping(graph_def, by_name=by_name)
    overrides = dict(variable_map or {})
    out: dict[str, VariableSource] = {}
    for name in names:
        if name in overrides:
            src = saver_map.get(name) or slices.get(name)
            if src is not None and src.extents is not None:
                out[name] = src._replace(key=overrides[name], origin="variable_map")
            else:
                out[name] = VariableSource(name, overrides[name], None, None, "variable_map")
            continue
        src = saver_map.get(name) or slices.get(name) or VariableSource(name, name, None, None, "name")
        if use_ema and reader is not None and reader.has_tensor(src.key + EMA_SUFFIX):
            src = src._replace(key=src.key + EMA_SUFFIX, origin=src.origin + "+ema")
        out[name] = src
    return out


class ValueLoader:
    """Read variable values from a checkpoint, reading each partitioned tensor once."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self._full: dict[str, np.ndarray] = {}

    def _tensor(self, key: str, node: str, cache: bool) -> np.ndarray:
        if key in self._full:
            return self._full[key]
        if not self.reader.has_tensor(key):
            from ..graphs.prune import suggest

            keys = [k for k in self.reader.keys() if not k.startswith("_")]
            hint = suggest(key, keys)
            if hint:
                extra = f"; close keys: {', '.join(repr(h) for h in hint)}"
            elif len(keys) <= 8:
                extra = f"; its keys: {', '.join(repr(k) for k in keys)}"
            else:
                extra = ""
            extra += " (a variable_map can name the key)"
            raise GraphError(f"variable {node!r}: key {key!r} is not in checkpoint "
                             f"{getattr(self.reader, 'prefix', '')}{extra}")
        value: np.ndarray = self.reader.get_tensor(key)
        if cache:
            self._full[key] = value
        return value

    def load(self, src: VariableSource) -> np.ndarray:
        value = self._tensor(src.key, src.node, cache=src.extents is not None)
        if src.extents is None:
            return value
        full_shape = src.full_shape if src.full_shape is not None else value.shape
        if tuple(value.shape) != tuple(full_shape):
            raise GraphError(f"variable {src.node!r} is a slice of {src.key!r} with full shape {list(full_shape)}, "
                             f"but the checkpoint holds shape {list(value.shape)}")
        extents = [Extent(e.start, FULL if e.length == FULL else e.length) for e in src.extents]
        starts, lengths = resolve(extents, full_shape)
        return np.ascontiguousarray(value[region(starts, lengths)])

    def release(self) -> None:
        self._full.clear()


__all__ = ["EMA_SUFFIX", "ValueLoader", "VariableSource", "VARIABLE_OPS", "find_variables", "map_variables",
           "restore_mapping", "saver_scope", "slice_infos"]
