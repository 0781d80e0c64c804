"""Rewrite a checkpoint tensor by tensor: select, strip the optimizer, swap in averages, rename, cast.

The work is split in two: :func:`plan_edit` decides, from names and the
object graph alone, what every output tensor is called and where its value
comes from (so collisions and bad options fail before anything is written);
:func:`edit_checkpoint` then streams the tensors into a new checkpoint. Stored
bytes are copied in chunks when a tensor is neither cast nor byte-swapped, so
memory stays bounded by one tensor at worst.

Options apply in this order: keep/drop/strip-optimizer, use-ema, rename, cast.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .. import dtypes
from ..bundle import naming
from ..bundle.entries import BIG_ENDIAN, Entry
from ..bundle.reader import BundleReader
from ..bundle.slices import Extent, encode_slice_key
from ..bundle.writer import BundleWriter
from ..checkpoint.loading import load_checkpoint, resolve_checkpoint
from ..checkpoint.interface import OBJECT_GRAPH_KEY, CheckpointReader
from ..dtypes import DType
from ..errors import PathLike

EMA_SUFFIX = "/ExponentialMovingAverage"

# Slot names TF1 optimizers give their per-variable state: ``<var>/<slot>``.
_TF1_SLOT = re.compile(
    r"/(Adam|Adamax|Nadam|AdamW|LazyAdam|Momentum|RMSProp|Adagrad|AdagradDA|ProximalAdagrad|"
    r"ProximalGradientDescent|Adadelta|Ftrl|LAMB|Lamb|Adafactor)(_\d+)?$")
# Optimizer-wide accumulators of TF1 Adam-style optimizers, and Keras optimizers in graph mode.
_TF1_OPTIMIZER_STATE = re.compile(
    r"(^|/)beta[12]_power(_\d+)?$|"
    r"^(training/)?(Adam|Adamax|Nadam|SGD|RMSprop|Adagrad|Adadelta|Ftrl)(_\d+)?/")
_GLOBAL_STEP = re.compile(r"(^|/)global_step$")

FLOAT_CASTS = {"float16", "bfloat16", "float32", "float64"}


@dataclass(frozen=True)
class Output:
    """One tensor of the edited checkpoint."""

    name: str  # name in the new checkpoint
    source: str  # name in the source checkpoint the value comes from
    cast_to: Optional[DType] = None


@dataclass
class EditPlan:
    outputs: list[Output]
    dropped: list[str]  # source names not written
    object_graph: Optional[bytes] = None  # rewritten TrackableObjectGraph, when the source has one
    notes: list[str] = field(default_factory=list)

    @property
    def renamed(self) -> dict[str, str]:
        return {o.source: o.name for o in self.outputs if o.source != o.name}


@dataclass(frozen=True)
class EditResult:
    prefix: str
    plan: EditPlan
    bytes_written: int


def parse_rename(text: str) -> tuple[str, str]:
    """``PATTERN=REPLACEMENT`` split at the first ``=``; the pattern is checked here."""
    if "=" not in text:
        raise ValueError(f"rename {text!r} needs the form PATTERN=REPLACEMENT")
    pattern, replacement = text.split("=", 1)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"rename pattern {pattern!r} is not a valid regular expression: {exc}") from None
    return pattern, replacement


def parse_cast(text: str) -> tuple[DType, DType]:
    """``FROM:TO`` between float types, e.g. ``float32:bfloat16``."""
    if ":" not in text:
        raise ValueError(f"cast {text!r} needs the form FROM:TO, e.g. float32:bfloat16")
    a, b = (part.strip() for part in text.split(":", 1))
    rows = []
    for part in (a, b):
        try:
            row = dtypes.from_name(part)
        except ValueError:
            raise ValueError(f"cast {text!r}: unknown dtype {part!r}") from None
        if row.tf_name not in FLOAT_CASTS:
            raise ValueError(f"cast {text!r}: only float types can be cast ({', '.join(sorted(FLOAT_CASTS))})")
        rows.append(row)
    return rows[0], rows[1]


def tf1_optimizer_keys(names: Sequence[str], *, include_global_step: bool = False) -> set[str]:
    """Names of TF1 optimizer state: slots of existing variables and Adam-style accumulators."""
    present = set(names)
    found = set()
    for name in names:
        slot = _TF1_SLOT.search(name)
        if slot and name[:slot.start()] in present:
            found.add(name)
        elif _TF1_OPTIMIZER_STATE.search(name):
            found.add(name)
        elif include_global_step and _GLOBAL_STEP.search(name):
            found.add(name)
    return found


_APPLY_OP = re.compile(r"^(Resource)?(Sparse)?Apply[A-Za-z0-9]+$")
# MetaGraphDef collections whose entries are serialized VariableDefs.
_VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "local_variables", "model_variables",
                         "moving_average_variables")


def tf1_slot_keys_from_meta(meta_path: str, notes: Optional[list[str]] = None) -> set[str]:
    """Checkpoint keys of variables an optimizer's apply op updates besides the trained variable.

    TF1 optimizers pass their slot variables straight into ops such as
    ``ApplyAdam`` or ``ResourceApplyMomentum`` (input 0 is the trained variable),
    which finds slots whatever the optimizer was named. Empty when the graph
    file is missing or cannot be read.
    """
    if not os.path.isfile(meta_path):
        return set()
    from google.protobuf.message import DecodeError

    from ..graphs.read import read_meta_graph
    from ..proto import VariableDef

    try:
        meta = read_meta_graph(meta_path)
    except (ValueError, OSError) as exc:
        if notes is not None:
            notes.append(f"--strip-optimizer: {meta_path} unreadable ({exc}); slots found by name only")
        return set()
    key_of: dict[str, str] = {}
    for name in _VARIABLE_COLLECTIONS:
        if name not in meta.collection_def:
            continue
        for raw in meta.collection_def[name].bytes_list.value:
            var = VariableDef()
            try:
                var.ParseFromString(raw)
            except DecodeError:
                continue
            node = var.variable_name.split(":")[0]
            if node:
                key_of[node] = var.save_slice_info_def.full_name or node
    trained: set[str] = set()
    updated: set[str] = set()
    for node in meta.graph_def.node:
        if not _APPLY_OP.match(node.op):
            continue
        inputs = [i.split(":")[0] for i in node.input if not i.startswith("^")]
        if inputs and inputs[0] in key_of:
            trained.add(key_of[inputs[0]])
        updated.update(key_of[i] for i in inputs[1:] if i in key_of)
    return updated - trained


def _compile_all(patterns: Sequence[str], what: str) -> list[re.Pattern[str]]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise ValueError(f"{what} pattern {p!r} is not a valid regular expression: {exc}") from None
    return out


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


def plan_edit(
    reader: CheckpointReader,
    *,
    keep: Sequence[str] = (),
    drop: Sequence[str] = (),
    strip_optimizer: bool = False,
    strip_global_step: bool = False,
    use_ema: bool = False,
    rename: Sequence[tuple[str, str] | str] = (),
    cast: Sequence[tuple[DType, DType] | str] = (),
) -> EditPlan:
    """Decide every output name and source without touching tensor data."""
    infos = reader.tensor_infos()
    names = [n for n in reader.keys() if n != OBJECT_GRAPH_KEY]
    graph = reader.object_graph if OBJECT_GRAPH_KEY in infos else None
    notes: list[str] = []

    # 1. keep / drop / strip-optimizer, all on the original names.
    keep_res, drop_res = _compile_all(keep, "keep"), _compile_all(drop, "drop")
    selected = [n for n in names
                if (not keep_res or any(r.search(n) for r in keep_res))
                and not any(r.search(n) for r in drop_res)]
    rekey: dict[str, str] = {}
    if strip_optimizer:
        if graph is not None:
            removed, rekey = strip_optimizer_keys(graph)
            lost = optimizer_only_weights(graph)
            if lost:
                notes.append(f"--strip-optimizer: {len(lost)} variable(s) the optimizer trains are reachable only "
                             f"through it (the model does not track them), so they are dropped too: "
                             + ", ".join(lost[:5]) + (" ..." if len(lost) > 5 else ""))
        else:
            removed = tf1_optimizer_keys(names, include_global_step=strip_global_step)
            from_meta = tf1_slot_keys_from_meta(reader.prefix + ".meta", notes)
            removed |= {n for n in from_meta & set(names)
                        if strip_global_step or not _GLOBAL_STEP.search(n)}
        if strip_global_step and graph is not None:
            removed |= {n for n in names if _GLOBAL_STEP.search(n.split("/.ATTRIBUTES/")[0])}
        selected = [n for n in selected if n not in removed]
    if graph is not None:
        selected = _drop_orphan_slots(graph, selected)

    # 2. use-ema: a variable takes its moving average; the average copies go.
    sources = {n: n for n in selected}
    if use_ema:
        originals = set(names)
        swapped = 0
        averages = keras_ema_pairs(graph) if graph is not None else {}
        for n in list(sources):
            if n.endswith(EMA_SUFFIX) or n in averages.values():
                del sources[n]
            elif n + EMA_SUFFIX in originals:
                sources[n] = n + EMA_SUFFIX
                swapped += 1
            elif averages.get(n) in originals:
                sources[n] = averages[n]
                swapped += 1
        if not swapped:
            notes.append(f"--use-ema: no '<name>{EMA_SUFFIX}' tensors and no Keras optimizer moving averages "
                         "found; nothing swapped")

    # 3. rename, in the order given; re-keying from the object graph comes first.
    rules = [parse_rename(r) if isinstance(r, str) else r for r in rename]
    compiled = [(re.compile(p), repl) for p, repl in rules]
    final: dict[str, str] = {}
    for n in sources:
        new = rekey.get(n, n)
        for pattern, repl in compiled:
            try:
                new = pattern.sub(repl, new)
            except (re.error, IndexError) as exc:
                raise ValueError(f"rename {pattern.pattern!r}={repl!r} fails on {n!r}: {exc}") from None
        if not new:
            raise ValueError(f"renaming {n!r} gives an empty name")
        final[n] = new
    taken: dict[str, str] = {}
    for n, new in final.items():
        if new == OBJECT_GRAPH_KEY and graph is not None:
            raise ValueError(f"renaming {n!r} to {new!r} collides with the object graph")
        if new in taken:
            raise ValueError(f"renaming makes {taken[new]!r} and {n!r} both {new!r}")
        taken[new] = n

    # 4. cast float types.
    casts = [parse_cast(c) if isinstance(c, str) else c for c in cast]
    outputs = []
    for n, new in final.items():
        src = sources[n]
        row = infos[src].dtype
        target = None
        for a, b in casts:
            if row.enum == a.enum and a.enum != b.enum:
                target = b
                break
        outputs.append(Output(new, src, target))

    object_graph = None
    if graph is not None:
        key_map = {n: final[n] for n in final}
        object_graph = rewrite_object_graph(graph, key_map, remove_optimizer=strip_optimizer)
    used = {o.source for o in outputs} | set(final)
    dropped = [n for n in names if n not in used]
    return EditPlan(outputs, dropped, object_graph, notes)


def _drop_orphan_slots(graph: object, selected: list[str]) -> list[str]:
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


# -- the object graph of TF2 checkpoints --------------------------------------------------------

OPTIMIZER_CHILD = "optimizer"
ATTRIBUTES_MARK = "/.ATTRIBUTES/"


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


# -- writing -------------------------------------------------------------------------------------

def _copy_raw(reader: BundleReader, writer: BundleWriter, out: Output) -> None:
    """Copy the stored bytes of one tensor (all its slices), checking them against their crc."""
    entry = reader.entry(out.source)
    pieces: list[tuple[Optional[tuple[Extent, ...]], Entry]] = [
        (extents, part) for extents, part in reader.slices_of(out.source)] if entry.slices else [(None, entry)]
    for extents, piece in pieces:
        shard = reader.open_entry(out.source, piece)  # bounds checked
        slice_of = (entry.shape, extents) if extents is not None else None
        if shard.fileno is not None:
            writer.add_file_range(out.name, piece.dtype, piece.shape, shard.fileno, piece.offset, piece.size,
                                  piece.crc32c, src_path=shard.path, verify=reader.verify_checksums,
                                  slice_of=slice_of)
        else:  # not a local file: the bytes come through the reader, checked
            value = reader.read_entry(out.source, piece)
            if extents is None:
                writer.add(out.name, value, dtype=piece.dtype.enum)
            else:
                writer.add_slice(out.name, entry.shape, extents, value)


def _cast(value: np.ndarray, row: DType) -> np.ndarray:
    assert row.numpy is not None
    return value.astype(row.numpy)


def _source_order(reader: CheckpointReader, outputs: list[Output]) -> list[Output]:
    """Outputs ordered by where their bytes sit in the source, for sequential reads."""
    if not isinstance(reader, BundleReader):
        return outputs

    def where(o: Output) -> tuple[int, int]:
        e = reader.entry(o.source)
        if e.slices:
            return (1 << 30, 0)
        return (e.shard_id, e.offset)

    return sorted(outputs, key=where)


def same_checkpoint(a: PathLike, b: PathLike) -> bool:
    """True when two prefixes name the same files."""
    ia, ib = naming.index_path(a), naming.index_path(b)
    if os.path.exists(ia) and os.path.exists(ib):
        return os.path.samefile(ia, ib)
    return os.path.realpath(os.fspath(a)) == os.path.realpath(os.fspath(b))


def edit_checkpoint(
    src: PathLike,
    dst: PathLike,
    *,
    keep: Sequence[str] = (),
    drop: Sequence[str] = (),
    strip_optimizer: bool = False,
    strip_global_step: bool = False,
    use_ema: bool = False,
    rename: Sequence[tuple[str, str] | str] = (),
    cast: Sequence[tuple[DType, DType] | str] = (),
    num_shards: Optional[int] = None,
    update_state: bool = True,
    progress: Optional[Callable[[int, int, str], None]] = None,
) -> EditResult:
    """Write an edited copy of checkpoint ``src`` at prefix ``dst``; ``src`` is never modified.

    Example:
        >>> edit_checkpoint("train/model.ckpt-1000", "export/model", strip_optimizer=True,
        ...                 cast=["float32:bfloat16"])
    """
    _, src_prefix = resolve_checkpoint(src)
    dst_prefix = os.fspath(dst)
    if same_checkpoint(src_prefix, dst_prefix) or os.path.realpath(src_prefix) == os.path.realpath(dst_prefix):
        raise ValueError(f"destination {dst_prefix} is the source checkpoint; write the edit somewhere else")
    with load_checkpoint(src_prefix) as reader:
        plan = plan_edit(reader, keep=keep, drop=drop, strip_optimizer=strip_optimizer,
                         strip_global_step=strip_global_step, use_ema=use_ema, rename=rename, cast=cast)
        shards = num_shards or (reader.header.num_shards if isinstance(reader, BundleReader) else 1)
        raw_ok = isinstance(reader, BundleReader) and reader.header.endianness != BIG_ENDIAN
        ordered = _source_order(reader, plan.outputs)
        with BundleWriter(dst_prefix, num_shards=shards) as writer:
            for i, out in enumerate(ordered):
                if progress is not None:
                    progress(i, len(ordered), out.name)
                if raw_ok and out.cast_to is None and reader.info(out.source).dtype.is_pod:
                    _copy_raw(reader, writer, out)  # type: ignore[arg-type]
                else:
                    value = reader.get_tensor(out.source)
                    row = reader.info(out.source).dtype
                    if out.cast_to is not None:
                        value, row = _cast(value, out.cast_to), out.cast_to
                    writer.add(out.name, value, dtype=row)
                    del value
            if plan.object_graph is not None:
                arr = np.empty((), dtype=object)
                arr[()] = plan.object_graph
                writer.add(OBJECT_GRAPH_KEY, arr)
        written = writer.bytes_written
    if update_state:
        from ..checkpoint.save import record_latest

        record_latest(dst_prefix)
    return EditResult(dst_prefix, plan, written)
