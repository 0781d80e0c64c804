"""What TensorFlow runs of a model, and when: the entry points of a graph, MetaGraphDef or SavedModel.

An entry is a set of vertices (see :mod:`.program`) TensorFlow executes at one
moment: ``"load"`` entries run when a loader opens the model (with the loaders
that run them), ``"call"`` entries when the user calls a signature or a
concrete function or fetches a node. What no entry reaches is never run.

Loaders, as of TensorFlow 2.21:

- ``tf.saved_model.load`` on a TF2 SavedModel restores variables, runs the
  object graph's resource creators and initializers and the restore functions
  of saveable objects; it does not run ``__saved_model_init_op``. On a TF1
  SavedModel (no object graph) it runs the saver's restore op and the init op.
- The TF1 / C++ loader (``tf.compat.v1.saved_model.load``, ``LoadSavedModel``,
  TensorFlow Serving) runs the saver's restore op, then ``main_op`` /
  ``legacy_init_op`` / ``__saved_model_init_op``.
- ``Saver.restore`` after ``import_meta_graph`` runs the saver's restore op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .program import Program, Vertex, node_of

TF2_LOADER = "tf.saved_model.load"
TF1_LOADER = "TF1/C++ loader"
SAVER_RESTORE = "Saver.restore"
KERAS_LOADER = "keras"
LOADERS = (TF2_LOADER, TF1_LOADER, SAVER_RESTORE, KERAS_LOADER)
INIT_OP_SIGNATURE = "__saved_model_init_op"
INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op", "table_initializer")
ASSETS_COLLECTION = "saved_model_assets"
_RESOURCE_FUNCTIONS = ("_create_resource", "_initialize", "_destroy_resource")


@dataclass(frozen=True)
class Entry:
    label: str
    roots: tuple[Vertex, ...]
    when: str  # "load" or "call"
    loaders: tuple[str, ...] = ()
    role: str = ""  # "save" / "restore" for a checkpoint saver's own roots
    secondary: bool = False  # roots walked only where the other entries did not reach (nicer paths)


@dataclass(frozen=True)
class Saver:
    filename: tuple[int, str]  # (gid, node) of the tensor the file name is fed to
    save: Optional[Vertex]
    restore: Optional[Vertex]


@dataclass
class EntryPoints:
    entries: list[Entry] = field(default_factory=list)
    savers: list[Saver] = field(default_factory=list)
    assets: dict[tuple[int, str], str] = field(default_factory=dict)  # asset tensors -> file name
    bound: dict[tuple[int, str, int], tuple[Any, ...]] = field(default_factory=dict)  # captured assets
    asset_names: list[str] = field(default_factory=list)


def _vertex(program: Program, gid: int, tensor: str) -> Optional[Vertex]:
    name = node_of(tensor)
    return ("n", gid, name) if name in program.graphs[gid].nodes else None


def graph_sinks(program: Program, gid: int, skip: set[Vertex]) -> tuple[Vertex, ...]:
    """Top-level nodes nothing consumes: what a user fetches (every node is upstream of one)."""
    consumed = {v for vertex in program.graphs[gid].nodes for v in program.edges.get(("n", gid, vertex), ())
                if v[0] == "n"}
    return tuple(v for v in (("n", gid, n) for n in program.graphs[gid].nodes) if v not in consumed and v not in skip)


def conventional_savers(program: Program, gid: int) -> list[Saver]:
    """TF1 savers recognised by structure: ``<scope>restore_all``, a save tensor and a fed file name."""
    nodes = program.graphs[gid].nodes
    out = []
    for name, node in nodes.items():
        if node.op != "NoOp" or not name.endswith("restore_all"):
            continue
        scope = name[: -len("restore_all")]
        filename = nodes.get(scope + "Const")
        if filename is None or filename.op not in ("PlaceholderWithDefault", "Placeholder"):
            continue
        # The save tensor passes the file name through (sharded V2 savers: Identity, sharded V1 savers:
        # ShardedFilespec, others: control_dependency).
        save = next((scope + root for root in ("Identity", "ShardedFilespec", "control_dependency")
                     if scope + root in nodes and nodes[scope + root].op in ("Identity", "ShardedFilespec")
                     and nodes[scope + root].input and node_of(nodes[scope + root].input[0]) == scope + "Const"),
                    None)
        out.append(Saver((gid, scope + "Const"), ("n", gid, save) if save else None, ("n", gid, name)))
    return out


def saver_entries(savers: list[Saver], restore_when: str, loaders: tuple[str, ...]) -> list[Entry]:
    out = []
    for saver in savers:
        if saver.save is not None:
            out.append(Entry("checkpoint saver: save tensor", (saver.save,), "call", (), "save"))
        if saver.restore is not None:
            out.append(Entry("checkpoint saver: restore op", (saver.restore,), restore_when,
                             loaders if restore_when == "load" else (), "restore"))
    return out


def for_graph(program: Program, gid: int) -> EntryPoints:
    """A bare GraphDef: the user fetches its outputs; a saver in it is recognised by structure."""
    points = EntryPoints(savers=conventional_savers(program, gid))
    points.entries.extend(saver_entries(points.savers, "call", ()))
    skip = {v for s in points.savers for v in (s.save, s.restore) if v is not None}
    points.entries.append(Entry("the graph's outputs (any node can be fetched)", graph_sinks(program, gid, skip),
                                "call"))
    return points


def for_meta(program: Program, gid: int, meta: Any, *, saved_model: bool) -> EntryPoints:
    """A MetaGraphDef on its own (``.meta``) or inside a SavedModel."""
    points = EntryPoints()
    tf2 = meta.HasField("object_graph_def") and len(meta.object_graph_def.nodes) > 0
    load = (TF1_LOADER,) if tf2 else (TF2_LOADER, TF1_LOADER)
    _assets(program, gid, meta, points)
    if meta.HasField("saver_def") and meta.saver_def.filename_tensor_name:
        sd = meta.saver_def
        recorded = Saver((gid, node_of(sd.filename_tensor_name)), _vertex(program, gid, sd.save_tensor_name),
                         _vertex(program, gid, sd.restore_op_name))
        points.savers.append(recorded)
        points.entries.extend(saver_entries([recorded], "load", load if saved_model else (SAVER_RESTORE,)))
    others = [s for s in conventional_savers(program, gid) if s.filename not in {r.filename for r in points.savers}]
    points.savers.extend(others)
    points.entries.extend(saver_entries(others, "call", ()))
    if saved_model:
        for name in INIT_COLLECTIONS:
            if name in meta.collection_def:
                roots = tuple(v for v in (_vertex(program, gid, op) for op in
                                          meta.collection_def[name].node_list.value) if v is not None)
                if roots:
                    points.entries.append(Entry(f"init collection '{name}'", roots, "load", load))
    for key in sorted(meta.signature_def):
        sig = meta.signature_def[key]
        roots = tuple(v for v in (_vertex(program, gid, t.name) for t in sig.outputs.values()) if v is not None)
        if not roots:
            continue
        if key == INIT_OP_SIGNATURE:
            points.entries.append(Entry(f"init op signature '{key}'", roots, "load", load))
        else:
            points.entries.append(Entry(f"signature '{key}'", roots, "call"))
    if tf2:
        _object_graph(program, gid, meta, points)
    if not saved_model:
        skip = {v for s in points.savers for v in (s.save, s.restore) if v is not None}
        points.entries.append(Entry("the graph's outputs (any node can be fetched)",
                                    graph_sinks(program, gid, skip), "call"))
    return points


def asset_defs(meta: Any) -> tuple[list[Any], bool]:
    """The AssetFileDefs of a MetaGraphDef (field and TF1 collection); True when an entry is not one."""
    from ..proto import AssetFileDef

    assets = list(meta.asset_file_def)
    broken = False
    if ASSETS_COLLECTION in meta.collection_def:
        for item in meta.collection_def[ASSETS_COLLECTION].any_list.value:
            asset = AssetFileDef()
            try:
                asset.ParseFromString(item.value)
            except Exception:  # protobuf's DecodeError: the caller reports the file
                broken = True
                continue
            assets.append(asset)
    return assets, broken


def _assets(program: Program, gid: int, meta: Any, points: EntryPoints) -> None:
    from .values import escapes

    for asset in asset_defs(meta)[0]:
        points.asset_names.append(asset.filename)
        key = (gid, node_of(asset.tensor_info.name))
        # A tensor named by several asset entries: the one pointing outside the folder wins.
        if asset.tensor_info.name and (key not in points.assets or escapes(asset.filename)):
            points.assets[key] = asset.filename


def _object_graph(program: Program, gid: int, meta: Any, points: EntryPoints) -> None:
    graph = meta.object_graph_def
    library = program.graphs[gid].library
    nodes = list(graph.nodes)

    def functions_of(index: int) -> list[str]:
        if not 0 <= index < len(nodes):
            return []
        node = nodes[index]
        kind = node.WhichOneof("kind")
        if kind == "function":
            return [n for n in node.function.concrete_functions if n in library]
        if kind == "bare_concrete_function":
            name = node.bare_concrete_function.concrete_function_name
            return [name] if name in library else []
        return []

    load: set[str] = set()
    save: set[str] = set()
    for i, node in enumerate(nodes):
        for name, saveable in sorted(node.saveable_objects.items()):
            load.update(functions_of(saveable.restore_function))
            save.update(functions_of(saveable.save_function))
        if node.WhichOneof("kind") == "resource":
            for child in node.children:
                if child.local_name in _RESOURCE_FUNCTIONS:
                    load.update(functions_of(child.node_id))
    for name in sorted(load):
        points.entries.append(Entry("object graph: restore or resource function",
                                    (("f", gid, name),), "load", (TF2_LOADER,)))
    for name in sorted(save - load):
        points.entries.append(Entry("object graph: save function", (("f", gid, name),), "call", (),
                                    "save"))
    called = sorted({f for i in range(len(nodes)) for f in functions_of(i)} - load - save)
    if called:
        points.entries.append(Entry("object graph: concrete functions", tuple(("f", gid, n) for n in called),
                                    "call", secondary=True))
    asset_files = list(meta.asset_file_def)
    for name, concrete in graph.concrete_functions.items():
        fn = library.get(name)
        if fn is None or not concrete.bound_inputs:
            continue
        n_args = len(fn.signature.input_arg)
        first = n_args - len(concrete.bound_inputs)
        for k, node_id in enumerate(concrete.bound_inputs):
            if 0 <= node_id < len(nodes) and nodes[node_id].WhichOneof("kind") == "asset":
                index = nodes[node_id].asset.asset_file_def_index
                if 0 <= index < len(asset_files) and first + k >= 0:
                    points.bound[(gid, name, first + k)] = ("asset", asset_files[index].filename)


__all__ = ["ASSETS_COLLECTION", "asset_defs", "Entry", "EntryPoints", "INIT_OP_SIGNATURE", "KERAS_LOADER", "LOADERS",
           "SAVER_RESTORE", "Saver", "TF1_LOADER", "TF2_LOADER", "conventional_savers", "for_graph", "for_meta",
           "graph_sinks"]
