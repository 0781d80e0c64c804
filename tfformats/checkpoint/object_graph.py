"""The object graph of TF2 checkpoints: who is an optimizer, which keys are slots, re-keying and rewriting.

TF2 object-based checkpoints store a ``TrackableObjectGraph`` under ``_CHECKPOINTABLE_OBJECT_GRAPH``; a tensor's
key is the escaped path of local names from the root to its object, followed by ``/.ATTRIBUTES/<name>``. Every
decision about optimizers and slots is made here, so that ``inspect``, ``edit`` and the freezer agree.
"""

from __future__ import annotations

from typing import Any, Optional

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
OPTIMIZER_CHILD = "optimizer"
ATTRIBUTES_MARK = "/.ATTRIBUTES/"
# TF1's ExponentialMovingAverage keeps the average of ``<var>`` under ``<var>/ExponentialMovingAverage``.
EMA_SUFFIX = "/ExponentialMovingAverage"


def keras_ema_pairs(graph: Any) -> dict[str, str]:
    """Weight key -> moving-average key, for Keras optimizers built with ``use_ema=True``.

    Such an optimizer tracks ``_trainable_variables`` and, index for index,
    ``_model_variables_moving_average``; both lists hold the variables whose
    ``VARIABLE_VALUE`` attributes carry the checkpoint keys.
    """
    nodes = graph.nodes

    def child(node: Any, name: str) -> Optional[int]:
        for c in node.children:
            if c.local_name == name:
                return int(c.node_id)
        return None

    def value_key(node_id: int) -> Optional[str]:
        if not 0 <= node_id < len(nodes):
            return None
        for attr in nodes[node_id].attributes:
            if attr.name == "VARIABLE_VALUE":
                return str(attr.checkpoint_key)
        return None

    pairs: dict[str, str] = {}
    for node in nodes:
        weights, averages = child(node, "_trainable_variables"), child(node, "_model_variables_moving_average")
        if weights is None or averages is None or max(weights, averages) >= len(nodes):
            continue
        for c in nodes[weights].children:
            twin = child(nodes[averages], c.local_name)
            if twin is None:
                continue
            weight, average = value_key(c.node_id), value_key(twin)
            if weight and average:
                pairs[weight] = average
    return pairs


def drop_orphan_slots(graph: object, selected: list[str]) -> list[str]:
    """Remove slot variables whose variable is no longer selected (object-based checkpoints)."""
    keys_of: dict[int, list[str]] = {}
    for i, node in enumerate(graph.nodes):  # type: ignore[attr-defined]
        keys_of[i] = [a.checkpoint_key for a in node.attributes]
    chosen = set(selected)
    gone: set[str] = set()
    for node in graph.nodes:  # type: ignore[attr-defined]
        for ref in node.slot_variables:
            var_keys = keys_of.get(ref.original_variable_node_id, [])
            if var_keys and not any(k in chosen for k in var_keys):
                gone.update(keys_of.get(ref.slot_variable_node_id, []))
    return [n for n in selected if n not in gone]


def escape_local_name(name: str) -> str:
    """Escape one object name for a checkpoint key ('.' doubles first, then '/' becomes '.S')."""
    return name.replace(".", "..").replace("/", ".S")


# Children every Keras 3 optimizer tracks: a step counter and its variable lists.
_KERAS_OPTIMIZER_COUNTER = "_iterations"
_KERAS_OPTIMIZER_LISTS = frozenset({"_variables", "_trainable_variables"})


def optimizer_nodes(graph: object) -> set[int]:
    """Objects that are optimizers, whatever they are called.

    Children called ``optimizer``, owners of slot variables (TF optimizers) and
    objects shaped like Keras 3 optimizers (an ``_iterations`` counter next to
    ``_variables``/``_trainable_variables`` lists, which hold their state instead of slots).
    """
    found = set()
    for i, node in enumerate(graph.nodes):  # type: ignore[attr-defined]
        if len(node.slot_variables):
            found.add(i)
        child_names = {c.local_name for c in node.children}
        if _KERAS_OPTIMIZER_COUNTER in child_names and child_names & _KERAS_OPTIMIZER_LISTS:
            found.add(i)
        for child in node.children:
            if child.local_name == OPTIMIZER_CHILD:
                found.add(child.node_id)
    found.discard(0)
    return found


def _bfs_paths(graph: object, excluded: set[int]) -> dict[int, tuple[str, ...]]:
    """The first breadth-first path of local names from the root to every reachable object."""
    nodes = graph.nodes  # type: ignore[attr-defined]
    paths: dict[int, tuple[str, ...]] = {0: ()} if len(nodes) else {}
    queue = [0] if len(nodes) else []
    for current in queue:
        for child in nodes[current].children:
            target = child.node_id
            if target in excluded or target in paths or not 0 <= target < len(nodes):
                continue
            paths[target] = paths[current] + (child.local_name,)
            queue.append(target)
    return paths


def _key_prefix(path: tuple[str, ...]) -> str:
    return "/".join(escape_local_name(p) for p in path) + ATTRIBUTES_MARK


def strip_optimizer_keys(graph: object) -> tuple[set[str], dict[str, str]]:
    """Keys held only through the optimizer, and new keys for objects that stay.

    A key follows the first path to its object, so a model weight the
    optimizer also tracks can be keyed under the optimizer (Keras 3 does this).
    Without the optimizer such a weight gets the key of its path under the model.
    """
    nodes = graph.nodes  # type: ignore[attr-defined]
    old_paths = _bfs_paths(graph, set())
    new_paths = _bfs_paths(graph, optimizer_nodes(graph))
    removed: set[str] = set()
    rekey: dict[str, str] = {}
    for i, node in enumerate(nodes):
        for attr in node.attributes:
            key = attr.checkpoint_key
            if i not in new_paths:
                removed.add(key)
                continue
            old = old_paths.get(i)
            if old is None or old == new_paths[i]:
                continue
            prefix = _key_prefix(old)
            if key.startswith(prefix):
                rekey[key] = _key_prefix(new_paths[i]) + key[len(prefix):]
    return removed, rekey


def optimizer_only_weights(graph: object) -> list[str]:
    """Keys of variables an optimizer trains that no path outside the optimizers reaches.

    Keras 3 models do not track layers kept in plain Python lists, so their
    weights are saved only under ``optimizer/_trainable_variables/N``.
    """
    nodes = graph.nodes  # type: ignore[attr-defined]
    excluded = optimizer_nodes(graph)
    kept = _bfs_paths(graph, excluded)
    trained: set[int] = set()
    for i in excluded:
        if not 0 <= i < len(nodes):
            continue
        trained.update(ref.original_variable_node_id for ref in nodes[i].slot_variables)
        for child in nodes[i].children:
            if child.local_name == "_trainable_variables" and 0 <= child.node_id < len(nodes):
                trained.update(c.node_id for c in nodes[child.node_id].children)
    return sorted(a.checkpoint_key for i in trained if i not in kept and 0 <= i < len(nodes)
                  for a in nodes[i].attributes)


def rewrite_object_graph(graph: object, key_map: dict[str, str], *, remove_optimizer: bool) -> bytes:
    """Serialize a copy of ``graph`` whose checkpoint keys follow ``key_map`` (old -> new).

    Attributes whose key is not in ``key_map`` are removed, as are slot
    references left without values and objects no longer reachable from the
    root; node ids are renumbered.
    """
    from ..proto import TrackableObjectGraph

    nodes = graph.nodes  # type: ignore[attr-defined]
    excluded = optimizer_nodes(graph) if remove_optimizer else set()
    attrs: dict[int, list[tuple[Any, str]]] = {}
    for i, node in enumerate(nodes):
        attrs[i] = [(a, key_map[a.checkpoint_key]) for a in node.attributes if a.checkpoint_key in key_map]
    slots: dict[int, list[Any]] = {}
    for i, node in enumerate(nodes):
        slots[i] = [ref for ref in node.slot_variables
                    if ref.slot_variable_node_id not in excluded and ref.original_variable_node_id not in excluded
                    and 0 <= ref.slot_variable_node_id < len(nodes)
                    and attrs.get(ref.slot_variable_node_id) and attrs.get(ref.original_variable_node_id)]
    # Reachable objects: through children (minus removed optimizers) and through kept slot references.
    reach = {0} if len(nodes) else set()
    queue = list(reach)
    for current in queue:
        targets = [c.node_id for c in nodes[current].children if c.node_id not in excluded]
        for ref in slots[current]:
            targets += [ref.original_variable_node_id, ref.slot_variable_node_id]
        for t in targets:
            if t not in reach and 0 <= t < len(nodes):
                reach.add(t)
                queue.append(t)
    order = sorted(reach)
    new_id = {old: new for new, old in enumerate(order)}
    out = TrackableObjectGraph()
    for old in order:
        src = nodes[old]
        node = out.nodes.add()
        node.CopyFrom(src)
        del node.children[:]
        for c in src.children:
            if c.node_id in new_id:
                ref = node.children.add()
                ref.CopyFrom(c)
                ref.node_id = new_id[c.node_id]
        del node.attributes[:]
        for a, key in attrs[old]:
            attr = node.attributes.add()
            attr.CopyFrom(a)
            attr.checkpoint_key = key
        del node.slot_variables[:]
        for r in slots[old]:
            ref = node.slot_variables.add()
            ref.CopyFrom(r)
            ref.original_variable_node_id = new_id[r.original_variable_node_id]
            ref.slot_variable_node_id = new_id[r.slot_variable_node_id]
    _refresh_has_values(out)
    return out.SerializeToString()  # type: ignore[no-any-return]


def _refresh_has_values(graph: object) -> None:
    """Recompute ``has_checkpoint_values`` where it is set (an object or a descendant holds values)."""
    nodes = graph.nodes  # type: ignore[attr-defined]
    memo: dict[int, bool] = {}

    def has(i: int, visiting: set[int]) -> bool:
        if i in memo:
            return memo[i]
        if i in visiting:
            return False
        visiting.add(i)
        node = nodes[i]
        value = bool(len(node.attributes)) or any(has(c.node_id, visiting) for c in node.children) \
            or any(has(r.slot_variable_node_id, visiting) for r in node.slot_variables)
        visiting.discard(i)
        memo[i] = value
        return value

    for i, node in enumerate(nodes):
        if node.HasField("has_checkpoint_values"):
            node.has_checkpoint_values.value = has(i, set())


def summarize(graph: Any) -> dict[str, Any]:
    """Objects, variables and optimizers of an object graph (what ``tfformats inspect`` prints)."""
    nodes = graph.nodes
    optimizers = optimizer_nodes(graph)
    paths = _bfs_paths(graph, set())
    model_side = _bfs_paths(graph, optimizers)
    variable_ids = [i for i, node in enumerate(nodes) if any(a.name == "VARIABLE_VALUE" for a in node.attributes)]
    slot_ids = {ref.slot_variable_node_id for node in nodes for ref in node.slot_variables}
    return {
        "objects": len(nodes),
        "variables": len(variable_ids),
        "slot_variables": len(slot_ids),
        "optimizers": sorted("/".join(paths[i]) for i in optimizers if i in paths),
        "optimizer_variables": sum(1 for i in variable_ids if i not in model_side),
    }


def summary_of(reader: Any) -> Optional[dict[str, Any]]:
    """:func:`summarize` of a reader's object graph, or None for checkpoints without one."""
    graph = reader.object_graph
    return None if graph is None else summarize(graph)
