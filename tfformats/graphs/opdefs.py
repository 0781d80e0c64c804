"""What OpDefs say about nodes: output-arg layout and default attr values.

TF2 SavedModels strip attrs equal to their OpDef default
(``stripped_default_attrs``); a GraphDef meant for import elsewhere should
carry them again. Function bodies name outputs as ``node:out_arg:index``;
turning that into a flat output index needs the sizes of the output args.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ..errors import GraphError


def op_defs_by_name(op_list: Any) -> dict[str, Any]:
    """``{op name: OpDef}`` from an OpList (e.g. ``meta_info_def.stripped_op_list``)."""
    return {op.name: op for op in op_list.op}


def _arg_count(arg: Any, attrs: Mapping[str, Any]) -> int:
    if arg.number_attr:
        if arg.number_attr not in attrs:
            raise GraphError(f"output arg {arg.name!r} needs attr {arg.number_attr!r}")
        return int(attrs[arg.number_attr].i)
    if arg.type_list_attr:
        if arg.type_list_attr not in attrs:
            raise GraphError(f"output arg {arg.name!r} needs attr {arg.type_list_attr!r}")
        return len(attrs[arg.type_list_attr].list.type)
    return 1


def output_layout(op_def: Any, attrs: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """``(arg name, first flat index, count)`` for every output arg of a node."""
    layout = []
    pos = 0
    for arg in op_def.output_arg:
        n = _arg_count(arg, attrs)
        layout.append((arg.name, pos, n))
        pos += n
    return layout


def flat_output_index(op_def: Any, attrs: Mapping[str, Any], arg_name: str, index: int) -> int:
    """Flat output index of ``node:arg_name:index``."""
    for name, start, count in output_layout(op_def, attrs):
        if name == arg_name:
            if index >= count:
                raise GraphError(f"op {op_def.name} output {arg_name!r} has {count} tensors, not {index + 1}")
            return start + index
    raise GraphError(f"op {op_def.name} has no output arg {arg_name!r}")


def add_default_attrs(nodes: Iterable[Any], op_defs: Mapping[str, Any]) -> int:
    """Set every attr a node omits to its OpDef default; returns how many were added."""
    added = 0
    for node in nodes:
        op_def = op_defs.get(node.op)
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name not in node.attr:
                node.attr[attr.name].CopyFrom(attr.default_value)
                added += 1
    return added


def add_default_attrs_to_graph(graph_def: Any, op_list: Optional[Any]) -> int:
    """Re-add stripped default attrs in a graph and its function bodies.

    Defaults come from ``op_list`` (the graph's ``stripped_op_list``) first and from the
    bundled registry of standard ops for ops it leaves out.
    """
    from .registry import OpResolver

    op_defs = OpResolver(op_list)
    added = add_default_attrs(graph_def.node, op_defs)
    for fn in graph_def.library.function:
        added += add_default_attrs(fn.node_def, op_defs)
    return added


__all__ = ["add_default_attrs", "add_default_attrs_to_graph", "flat_output_index", "op_defs_by_name",
           "output_layout"]
