"""Clean-up after conversion: fuse and cancel adjacent Transpose nodes."""

from __future__ import annotations

from collections import Counter
from typing import Any


def _perm(node: Any) -> list[int]:
    for attr in node.attribute:
        if attr.name == "perm":
            return list(attr.ints)
    return []


def cancel_transposes(graph: Any) -> int:
    """Fold Transpose(Transpose(x)) into one (or none when they cancel); returns the nodes removed.

    Only a first Transpose used by nothing else is removed, so no value disappears that another
    node, a subgraph or a graph output still reads.
    """
    outputs = {o.name for o in graph.output}
    uses: Counter[str] = Counter(i for n in graph.node for i in n.input)
    for n in graph.node:
        for attr in n.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                uses.update(_names_read(g))
    producer = {o: n for n in graph.node for o in n.output}
    removed = 0
    drop: set[int] = set()
    for node in graph.node:
        if node.op_type != "Transpose":
            continue
        first = producer.get(node.input[0])
        if first is None or first.op_type != "Transpose" or uses[first.output[0]] != 1 \
                or first.output[0] in outputs or id(first) in drop:
            continue
        p1, p2 = _perm(first), _perm(node)
        if not p1 or len(p1) != len(p2):
            continue
        combined = [p1[i] for i in p2]
        drop.add(id(first))
        removed += 1
        node.input[0] = first.input[0]
        del node.attribute[:]
        node.attribute.extend([_ints_attr("perm", combined)])
        if combined == sorted(combined):
            node.op_type = "Identity"
            del node.attribute[:]
    if drop:
        kept = [n for n in graph.node if id(n) not in drop]
        del graph.node[:]
        graph.node.extend(kept)
    return removed


def _ints_attr(name: str, values: list[int]) -> Any:
    import onnx

    return onnx.helper.make_attribute(name, values)


def _names_read(graph: Any) -> set[str]:
    names = set()
    for n in graph.node:
        names.update(n.input)
        for attr in n.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                names |= _names_read(g)
    return names


def drop_unused(graph: Any) -> set[str]:
    """Remove nodes none of whose outputs is read; returns every value name still read."""
    needed = {o.name for o in graph.output}
    kept: list[Any] = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
            for attr in node.attribute:
                for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    needed |= _names_read(g)
    if len(kept) != len(graph.node):
        del graph.node[:]
        graph.node.extend(reversed(kept))
    return needed
