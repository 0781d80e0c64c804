"""Keep only the part of a graph that given outputs need (like ``extract_sub_graph``).

A node is needed if an output reaches it through data inputs, control inputs
(``^x``) or colocation constraints (``_class: "loc:@x"``): TensorFlow refuses
to import a node colocated with a node that is missing, so those count as
dependencies too. Surviving nodes keep their original order; the function
library and versions are copied unchanged.
"""

from __future__ import annotations

import difflib
from collections import deque
from typing import Any, Container, Iterable, Mapping, Optional, Sequence

from ..errors import GraphError
from .names import node_name

COLOCATION_PREFIX = b"loc:@"


def colocated_with(node: Any) -> list[str]:
    """Names of the nodes listed in ``node``'s ``_class`` attr."""
    if "_class" not in node.attr:
        return []
    out = []
    for entry in node.attr["_class"].list.s:
        if entry.startswith(COLOCATION_PREFIX):
            out.append(entry[len(COLOCATION_PREFIX):].decode("utf-8", "replace"))
    return out


def dependencies(node: Any) -> list[str]:
    """Every node ``node`` depends on: data and control inputs, then colocation targets."""
    return [node_name(i) for i in node.input] + colocated_with(node)


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a misspelt node name."""
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not close:
        tail = name.rsplit("/", 1)[-1]
        close = [c for c in pool if c.rsplit("/", 1)[-1] == tail][:n]
    return close


def check_outputs(graph_def: Any, outputs: Sequence[str], what: str = "output",
                  names: Optional[Container[str]] = None) -> list[str]:
    """Node names of ``outputs`` (``x:0`` allowed); GraphError with suggestions if one is missing."""
    if names is None:
        names = {n.name for n in graph_def.node}
    wanted = []
    for out in outputs:
        name = node_name(out.strip())
        if name not in names:
            hint = suggest(name, [n.name for n in graph_def.node])
            extra = f"; did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            raise GraphError(f"{what} node {name!r} is not in the graph ({len(graph_def.node)} nodes){extra}")
        wanted.append(name)
    if not wanted:
        raise GraphError(f"no {what} nodes given")
    return wanted


def reachable(graph_def: Any, outputs: Iterable[str], by_name: Optional[Mapping[str, Any]] = None) -> set[str]:
    """Names of the nodes ``outputs`` depend on, including themselves."""
    if by_name is None:
        by_name = {n.name: n for n in graph_def.node}
    keep: set[str] = set()
    todo = deque(outputs)
    while todo:
        name = todo.popleft()
        if name in keep:
            continue
        keep.add(name)
        node = by_name.get(name)
        if node is None:
            continue
        for raw in node.input:
            dep = node_name(raw)
            if dep not in by_name:
                raise GraphError(f"node {node.name!r} has input {raw!r}, which names a node that is not in the graph")
            if dep not in keep:
                todo.append(dep)
        # A colocation hint naming a missing node is dropped later, not an error.
        todo.extend(d for d in colocated_with(node) if d not in keep and d in by_name)
    return keep


def extract_sub_graph(graph_def: Any, outputs: Sequence[str], *,
                      by_name: Optional[Mapping[str, Any]] = None) -> Any:
    """A new GraphDef with only the nodes ``outputs`` need, in their original order.

    ``by_name`` (every node by name) saves rebuilding that index when the caller has it.
    """
    if by_name is None:
        by_name = {n.name: n for n in graph_def.node}
    wanted = check_outputs(graph_def, outputs, names=by_name)
    return keep_nodes(graph_def, reachable(graph_def, wanted, by_name))


def keep_nodes(graph_def: Any, keep: Container[str]) -> Any:
    """A new GraphDef with the nodes named in ``keep`` (in their original order), the versions and the library."""
    out = type(graph_def)()
    out.node.extend(n for n in graph_def.node if n.name in keep)
    if graph_def.HasField("library"):
        out.library.CopyFrom(graph_def.library)
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    return out


__all__ = ["check_outputs", "colocated_with", "dependencies", "extract_sub_graph", "keep_nodes", "reachable", "suggest"]
