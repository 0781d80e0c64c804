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
from ..bundle.slices import Extent
from .._io.source import StorageOptions
from ..bundle.writer import BundleWriter
from ..checkpoint.loading import load_checkpoint, resolve_checkpoint
from ..checkpoint.interface import OBJECT_GRAPH_KEY, CheckpointReader
from ..dtypes import DType
from ..errors import ArgumentError, PathLike
from ..checkpoint.object_graph import (EMA_SUFFIX, drop_orphan_slots, keras_ema_pairs, optimizer_only_weights,
                                       rewrite_object_graph, strip_optimizer_keys)
from .select import rename_all, select

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


def parse_cast(text: str) -> tuple[DType, DType]:
    """``FROM:TO`` between float types, e.g. ``float32:bfloat16``."""
    if ":" not in text:
        raise ArgumentError(f"cast {text!r} needs the form FROM:TO, e.g. float32:bfloat16")
    a, b = (part.strip() for part in text.split(":", 1))
    rows = []
    for part in (a, b):
        try:
            row = dtypes.from_name(part)
        except ValueError:
            raise ArgumentError(f"cast {text!r}: unknown dtype {part!r}") from None
        if row.tf_name not in FLOAT_CASTS:
            raise ArgumentError(f"cast {text!r}: only float types can be cast ({', '.join(sorted(FLOAT_CASTS))})")
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


def tf1_slot_keys_from_meta(meta_path: str, notes: Optional[list[str]] = None) -> set[str]:
    """Checkpoint keys of variables an optimizer's apply op updates besides the trained variable.

    TF1 optimizers pass their slot variables straight into ops such as
    ``ApplyAdam`` or ``ResourceApplyMomentum`` (input 0 is the trained variable),
    which finds slots whatever the optimizer was named. Empty when the graph
    file is missing or cannot be read.
    """
    if not os.path.isfile(meta_path):
        return set()
    from ..graphs.read import read_meta_graph
    from ..graphs.variables import variable_defs

    try:
        meta = read_meta_graph(meta_path)
    except (ValueError, OSError) as exc:
        if notes is not None:
            notes.append(f"--strip-optimizer: {meta_path} unreadable ({exc}); slots found by name only")
        return set()
    key_of: dict[str, str] = {}
    for var in variable_defs(meta):
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


def _optimizer_keys(reader: CheckpointReader, names: list[str], graph: Any, strip_global_step: bool,
                    notes: list[str]) -> tuple[set[str], dict[str, str]]:
    """Keys ``--strip-optimizer`` removes, and the new keys of weights it re-keys (TF2 object graphs)."""
    rekey: dict[str, str] = {}
    if graph is not None:
        removed, rekey = strip_optimizer_keys(graph)
        lost = optimizer_only_weights(graph)
        if lost:
            notes.append(f"--strip-optimizer: {len(lost)} variable(s) the optimizer trains are reachable only "
                         f"through it (the model does not track them), so they are dropped too: "
                         + ", ".join(lost[:5]) + (" ..." if len(lost) > 5 else ""))
        if strip_global_step:
            removed |= {n for n in names if _GLOBAL_STEP.search(n.split("/.ATTRIBUTES/")[0])}
        return removed, rekey
    removed = tf1_optimizer_keys(names, include_global_step=strip_global_step)
    from_meta = tf1_slot_keys_from_meta(reader.prefix + ".meta", notes)
    removed |= {n for n in from_meta & set(names) if strip_global_step or not _GLOBAL_STEP.search(n)}
    return removed, rekey


def _ema_sources(selected: list[str], names: list[str], graph: Any, notes: list[str]) -> dict[str, str]:
    """Output name -> source name with ``--use-ema``: a variable takes its moving average; the copies go."""
    sources = {n: n for n in selected}
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
    return sources


def _cast_target(row: DType, casts: Sequence[tuple[DType, DType]]) -> Optional[DType]:
    for a, b in casts:
        if row.enum == a.enum and a.enum != b.enum:
            return b
    return None


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
    selected = select(names, keep=keep, drop=drop)
    rekey: dict[str, str] = {}
    if strip_optimizer:
        removed, rekey = _optimizer_keys(reader, names, graph, strip_global_step, notes)
        selected = [n for n in selected if n not in removed]
    if graph is not None:
        selected = drop_orphan_slots(graph, selected)
    # 2. use-ema; 3. rename in the order given (re-keying from the object graph comes first); 4. cast.
    sources = _ema_sources(selected, names, graph, notes) if use_ema else {n: n for n in selected}
    final = rename_all(sources, rename, start=rekey, reserved=[OBJECT_GRAPH_KEY] if graph is not None else [])
    casts = [parse_cast(c) if isinstance(c, str) else c for c in cast]
    outputs = [Output(new, sources[n], _cast_target(infos[sources[n]].dtype, casts)) for n, new in final.items()]

    object_graph = None
    if graph is not None:
        object_graph = rewrite_object_graph(graph, dict(final), remove_optimizer=strip_optimizer)
    used = {o.source for o in outputs} | set(final)
    dropped = [n for n in names if n not in used]
    return EditPlan(outputs, dropped, object_graph, notes)


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
    storage_options: StorageOptions = None,
) -> EditResult:
    """Write an edited copy of checkpoint ``src`` at prefix ``dst``; ``src`` is never modified.

    Example:
        >>> edit_checkpoint("train/model.ckpt-1000", "export/model", strip_optimizer=True,
        ...                 cast=["float32:bfloat16"])
    """
    opts = storage_options  # for ``src`` and ``dst`` alike, when they are URLs
    _, src_prefix = resolve_checkpoint(src, storage_options=opts)
    dst_prefix = os.fspath(dst)
    if same_checkpoint(src_prefix, dst_prefix) or os.path.realpath(src_prefix) == os.path.realpath(dst_prefix):
        raise ArgumentError(f"destination {dst_prefix} is the source checkpoint; write the edit somewhere else")
    with load_checkpoint(src_prefix, storage_options=opts) as reader:
        plan = plan_edit(reader, keep=keep, drop=drop, strip_optimizer=strip_optimizer,
                         strip_global_step=strip_global_step, use_ema=use_ema, rename=rename, cast=cast)
        shards = num_shards or (reader.header.num_shards if isinstance(reader, BundleReader) else 1)
        raw_ok = isinstance(reader, BundleReader) and reader.header.endianness != BIG_ENDIAN
        ordered = _source_order(reader, plan.outputs)
        with BundleWriter(dst_prefix, num_shards=shards, storage_options=opts) as writer:
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

        record_latest(dst_prefix, storage_options=opts)
    return EditResult(dst_prefix, plan, written)
