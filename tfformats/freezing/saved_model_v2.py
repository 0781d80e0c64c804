"""Freeze a TF2 SavedModel (``tf.saved_model.save``, Keras ``model.export``) without TensorFlow.

A TF2 SavedModel keeps its computation in the function library: the
signature's outputs are outputs of a ``StatefulPartitionedCall`` node that
calls a wrapper function, which calls the traced function, and variables
arrive as resource handles (``VarHandleOp`` nodes) passed as extra inputs.

Freezing one signature:

1. the result has one Placeholder per signature input, keeping the name the
   SignatureDef gives (``serving_default_x``, fed as ``serving_default_x:0``),
   and one Identity per signature output named after its key (``output_0``,
   fetched as ``output_0:0``);
2. calls are inlined recursively (:mod:`tfformats.graphs.inline`);
3. each ``VarHandleOp`` the outputs need is matched to its checkpoint key:
   the object graph lists, for every concrete function, the objects bound to
   its captured inputs (``bound_inputs``, in input order), and the object ids
   are the node ids of the checkpoint's own object graph, whose
   ``VARIABLE_VALUE`` attribute holds the key;
4. variables become Const (:class:`tfformats.freezing.constants.Converter`):
   ``ReadVariableOp`` -> Identity, ``ResourceGather`` -> GatherV2, and
   functional control flow (If/While/Case) passes values instead of handles
   into converted copies of its functions;
5. lookup tables the outputs use keep an initializer built from their data
   (the SavedModel's init op is inlined too, and vocabulary assets become
   constants; see :mod:`tfformats.freezing.tables`), grouped under one NoOp
   the result names;
6. the graph is pruned to what the outputs need, and the library to the
   functions still referenced.

A variable the signature assigns (or otherwise changes), and a resource that
is neither a variable nor a rebuildable table, raise :class:`GraphError` /
:class:`UnsupportedError` naming it. Signature inputs may be ``Placeholder``
or ``PlaceholderWithDefault`` (which stays feedable and keeps its default).
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence

from .. import dtypes
from .._io import fs
from .._io.source import StorageOptions
from ..errors import FormatError, GraphError, UnsupportedError
from ..graphs.inline import CALL_OPS, inline_calls
from ..graphs.names import format_input, node_name, parse_input
from ..graphs.opdefs import add_default_attrs
from ..graphs.prune import colocated_with, keep_nodes, reachable
from ..graphs.registry import OpResolver
from .constants import Converter
from .result import FreezeResult
from .tables import TABLE_OPS, TableInit, rebuild_tables
from .variables import VariableSource
from .writes import UseChecker

VARIABLE_VALUE = "VARIABLE_VALUE"
# Signature inputs: a PlaceholderWithDefault stays feedable and keeps its default.
INPUT_OPS = frozenset({"Placeholder", "PlaceholderWithDefault"})
EMA_NAME_SUFFIX = "/ExponentialMovingAverage"
INIT_SIGNATURE = "__saved_model_init_op"
# The node names TensorFlow's graph import accepts.
VALID_NODE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*")


def is_tf2_meta_graph(meta_graph: Any) -> bool:
    """True for meta graphs written by ``tf.saved_model.save`` (they carry an object graph)."""
    return meta_graph.HasField("object_graph_def") and len(meta_graph.object_graph_def.nodes) > 0


def _signature(meta_graph: Any, signature: str, path: str) -> Any:
    if signature not in meta_graph.signature_def:
        available = ", ".join(sorted(k for k in meta_graph.signature_def if not k.startswith("__"))) or "none"
        raise FormatError(f"no signature {signature!r}; available: {available}", path)
    sig = meta_graph.signature_def[signature]
    for key, info in list(sig.inputs.items()) + list(sig.outputs.items()):
        if info.WhichOneof("encoding") != "name":
            raise UnsupportedError(f"signature {signature!r}: {key!r} is a composite tensor "
                                   f"({info.WhichOneof('encoding')}); only dense tensors can be frozen", path)
    return sig


def _checkpoint_keys(reader: Any, path: str) -> dict[int, str]:
    """Object id -> checkpoint key of its ``VARIABLE_VALUE`` attribute."""
    graph = reader.object_graph
    if graph is None:
        raise FormatError("variables/ has no object graph (_CHECKPOINTABLE_OBJECT_GRAPH); it was not "
                          "written by tf.saved_model.save", path)
    keys = {}
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name == VARIABLE_VALUE:
                keys[node_id] = attribute.checkpoint_key
    return keys


def _captured_variables(graph_def: Any, meta_graph: Any, path: str) -> dict[str, int]:
    """VarHandleOp node name -> object id, from every top-level call's ``bound_inputs``."""
    concrete = meta_graph.object_graph_def.concrete_functions
    objects = meta_graph.object_graph_def.nodes
    by_name = {n.name: n for n in graph_def.node}
    found: dict[str, int] = {}
    for node in graph_def.node:
        if node.op not in CALL_OPS or node.attr["f"].func.name not in concrete:
            continue
        bound = list(concrete[node.attr["f"].func.name].bound_inputs)
        if not bound:
            continue
        data = [i for i in node.input if not i.startswith("^")]
        if len(bound) > len(data):
            raise FormatError(f"node {node.name!r} passes {len(data)} inputs but its function "
                              f"captures {len(bound)}", path)
        for text, object_id in zip(data[len(data) - len(bound):], bound):
            if object_id >= len(objects) or objects[object_id].WhichOneof("kind") != "variable":
                continue
            handle = node_name(text)
            if handle not in by_name or by_name[handle].op != "VarHandleOp":
                continue
            if found.setdefault(handle, object_id) != object_id:
                raise FormatError(f"variable node {handle!r} is bound to objects {found[handle]} and "
                                  f"{object_id}", path)
    return found


def _rename_node(graph_def: Any, old: str, new: str) -> None:
    """Rename top-level node ``old`` to ``new``, with the inputs and colocations that name it."""
    colocation = b"loc:@" + old.encode("utf-8")
    for node in graph_def.node:
        if node.name == old:
            node.name = new
        for i, text in enumerate(node.input):
            ref = parse_input(text)
            if ref.node == old:
                node.input[i] = format_input(new, ref.index, control=ref.control)
        if "_class" in node.attr:
            entries = node.attr["_class"].list.s
            for i, entry in enumerate(entries):
                if entry == colocation:
                    entries[i] = b"loc:@" + new.encode("utf-8")


def _output_node_names(keys: Iterable[str]) -> dict[str, str]:
    """Output key -> node name: the key itself when TensorFlow accepts it as a node name, else the key
    with each character a node name cannot hold replaced by ``_`` (and ``out`` before a ``_`` or ``-``
    TensorFlow refuses as first character), made unique among the outputs."""
    keys = sorted(keys)
    names = {k: k for k in keys if VALID_NODE_NAME.fullmatch(k)}
    used = set(names.values())
    for key in keys:
        if key in names:
            continue
        base = re.sub(r"[^A-Za-z0-9_.\-/>]", "_", key)
        if not re.match(r"[A-Za-z0-9.]", base):
            base = "out" + base
        name, suffix = base, 1
        while name in used:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names[key] = name
        used.add(name)
    return names


def _free_output_names(graph_def: Any, sig: Any, inputs: Mapping[str, str], path: str) -> dict[str, str]:
    """Rename nodes that hold an output key's name (a variable called like an output, the call node);
    returns old -> new names. Only the signature's input Placeholders keep their names for sure."""
    names = {n.name for n in graph_def.node}
    fed = {node_name(t) for t in inputs.values()}
    wanted = _output_node_names(sig.outputs).values()
    taken = names | set(wanted)
    renamed = {}
    for name in sorted(wanted):
        if name not in names:
            continue
        if name in fed:
            raise GraphError(f"{path}: signature output {name!r} has the name of the input Placeholder "
                             f"{name!r}; cannot name the output Identity after it")
        suffix = 1
        while f"{name}_{suffix}" in taken:
            suffix += 1
        renamed[name] = f"{name}_{suffix}"
        taken.add(renamed[name])
        _rename_node(graph_def, name, renamed[name])
    return renamed


def _add_outputs(graph_def: Any, sig: Any, inputs: Mapping[str, str], path: str) -> dict[str, str]:
    """Append one Identity per signature output, named after its key; returns key -> node name."""
    renamed = _free_output_names(graph_def, sig, inputs, path)
    names = {n.name for n in graph_def.node}
    node_names = _output_node_names(sig.outputs)
    outputs = {}
    for key in sorted(sig.outputs):
        info = sig.outputs[key]
        ref = parse_input(info.name)
        source = renamed.get(ref.node, ref.node)
        if source not in names:
            raise FormatError(f"signature output {key!r} names tensor {info.name!r}, which is not in the graph",
                              path)
        node = graph_def.node.add()
        node.name = node_names[key]
        node.op = "Identity"
        node.input.append(format_input(source, ref.index))
        node.attr["T"].type = info.dtype
        if info.HasField("tensor_shape"):
            node.attr["_output_shapes"].list.shape.add().CopyFrom(info.tensor_shape)
        names.add(node.name)
        outputs[key] = f"{node.name}:0"
    return outputs


def _check_inputs(graph_def: Any, sig: Any, path: str) -> dict[str, str]:
    by_name = {n.name: n for n in graph_def.node}
    inputs = {}
    for key in sorted(sig.inputs):
        info = sig.inputs[key]
        ref = parse_input(info.name)
        node = by_name.get(ref.node)
        if node is None or node.op not in INPUT_OPS or ref.index != 0:
            raise FormatError(f"signature input {key!r} is {info.name!r}, which is not a Placeholder "
                              "of the graph", path)
        inputs[key] = f"{ref.node}:0"
    return inputs


def _prune(graph_def: Any, roots: Iterable[str]) -> Any:
    """Only the nodes ``roots`` need; ``graph_def`` itself when that is all of them (no copy)."""
    keep = reachable(graph_def, roots)
    if all(n.name in keep for n in graph_def.node):
        return graph_def
    return keep_nodes(graph_def, keep)


def _functions_used(nodes: Iterable[Any], functions: Mapping[str, Any]) -> list[str]:
    """Names of library functions ``nodes`` reference, directly or through other functions, in order found."""
    order: list[str] = []
    seen: set[str] = set()
    todo = [n for n in nodes]
    while todo:
        node = todo.pop()
        names = [node.op] if node.op in functions else []
        for value in node.attr.values():
            if value.HasField("func"):
                names.append(value.func.name)
            elif value.HasField("list"):
                names.extend(f.name for f in value.list.func)
        for name in names:
            if name in functions and name not in seen:
                seen.add(name)
                order.append(name)
                todo.extend(functions[name].node_def)
    return order


def _keep_functions(graph_def: Any) -> None:
    """Drop library functions (and gradients) no node references any more."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    used = set(_functions_used(graph_def.node, functions))
    kept = [f for f in graph_def.library.function if f.signature.name in used]
    gradients = [g for g in graph_def.library.gradient if g.function_name in used and g.gradient_func in used]
    graph_def.library.Clear()
    graph_def.library.function.extend(kept)
    graph_def.library.gradient.extend(gradients)
    if not kept and not gradients:
        graph_def.ClearField("library")


WHILE_OPS = ("While", "StatelessWhile")


def _resource_loop_vars(graph_def: Any) -> dict[str, list[int]]:
    """While node -> indices of its loop variables that are resource handles."""
    out = {}
    for node in graph_def.node:
        if node.op in WHILE_OPS:
            indices = [i for i, t in enumerate(node.attr["T"].list.type) if t == dtypes.RESOURCE]
            if indices:
                out[node.name] = indices
    return out


def _fix_while_output_shapes(graph_def: Any, before: Mapping[str, list[int]]) -> None:
    """Give frozen loop variables the shape of their value in ``_output_shapes`` too.

    A resource handle is a scalar; once it carries the variable's value, the
    While's ``_output_shapes`` entry must match ``output_shapes`` or import fails.
    """
    for node in graph_def.node:
        if node.name not in before or "_output_shapes" not in node.attr or "output_shapes" not in node.attr:
            continue
        listed = node.attr["_output_shapes"].list.shape
        declared = node.attr["output_shapes"].list.shape
        types = node.attr["T"].list.type
        for i in before[node.name]:
            if i < len(listed) and i < len(declared) and types[i] != dtypes.RESOURCE:
                listed[i].CopyFrom(declared[i])


def _drop_dangling_colocation(graph_def: Any) -> None:
    names = {n.name for n in graph_def.node}
    for node in graph_def.node:
        targets = colocated_with(node)
        if targets and any(t not in names for t in targets):
            entries = [e for e in node.attr["_class"].list.s
                       if not e.startswith(b"loc:@") or e[5:].decode("utf-8", "replace") in names]
            if entries:
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(entries)
            else:
                del node.attr["_class"]


def _refuse_other_resources(graph_def: Any, op_defs: Mapping[str, Any], path: str) -> None:
    """Refuse resources other than variables and lookup tables (iterators, queues, ...).

    They are created and filled by the SavedModel's init functions, which a
    frozen GraphDef has no way to run; keeping them would give a graph that
    imports but fails when run. (Tables are handled by :mod:`.tables`.)
    """
    for node in graph_def.node:
        if node.op == "VarHandleOp" or node.op in TABLE_OPS:
            continue
        op_def = op_defs.get(node.op)
        if op_def is not None and any(arg.type == dtypes.RESOURCE for arg in op_def.output_arg):
            raise UnsupportedError(f"the signature uses node {node.name!r} ({node.op}), a resource that is not a "
                                   "variable or a lookup table; resources filled by init functions cannot be frozen",
                                   path)


def _select_outputs(sig: Any, keys: Optional[Sequence[str]], signature: str, path: str) -> Any:
    """A copy of ``sig`` with only the output ``keys`` (all when None); unknown keys are refused."""
    if not keys:
        return sig
    unknown = [k for k in keys if k not in sig.outputs]
    if unknown:
        raise GraphError(f"{path}: signature {signature!r} has no output {', '.join(repr(k) for k in unknown)}; "
                         f"its outputs: {', '.join(sorted(sig.outputs))}")
    chosen = type(sig)()
    chosen.CopyFrom(sig)
    for key in list(chosen.outputs):
        if key not in keys:
            del chosen.outputs[key]
    return chosen


def _init_roots(graph_def: Any, meta_graph: Any) -> list[str]:
    """The SavedModel's init op (which fills lookup tables), when it has one in this graph."""
    names = {n.name for n in graph_def.node}
    roots = []
    if INIT_SIGNATURE in meta_graph.signature_def:
        for info in meta_graph.signature_def[INIT_SIGNATURE].outputs.values():
            roots.append(node_name(info.name))
    for key in ("saved_model_main_op", "legacy_init_op"):
        if key in meta_graph.collection_def:
            roots.extend(node_name(n) for n in meta_graph.collection_def[key].node_list.value)
    return [r for r in dict.fromkeys(roots) if r in names]


class _Variable(NamedTuple):
    node: str  # the VarHandleOp
    object_id: int
    saved_name: str  # SavedVariable.name ("dense/kernel"), or the node name
    label: str  # how messages name it


def _variables(graph: Any, handles: Mapping[str, int], objects: Any, path: str) -> list[_Variable]:
    out = []
    for node in graph.node:
        if node.op != "VarHandleOp":
            continue
        if node.name not in handles:
            raise GraphError(f"{path}: variable node {node.name!r} is not bound to any saved object; "
                             "cannot tell which checkpoint value it holds")
        saved = objects[handles[node.name]].variable.name or node.name
        label = repr(saved) + (f" (node {node.name!r})" if saved != node.name else "")
        out.append(_Variable(node.name, handles[node.name], saved, label))
    return out


def _matches(variable: _Variable, key: str, names: Iterable[str]) -> bool:
    return any(n in (variable.node, variable.saved_name, key) for n in names)


def _choose(variables: Sequence[_Variable], keys: Mapping[int, str], keep: Optional[Sequence[str]],
            skip: Optional[Sequence[str]], variable_map: Mapping[str, str], path: str) -> list[_Variable]:
    """The variables to freeze; keep/skip/variable_map names that match no variable are refused."""
    for what, names in (("keep", keep or []), ("skip", skip or []), ("variable_map", list(variable_map))):
        for name in names:
            if not any(_matches(v, keys.get(v.object_id, ""), [name]) for v in variables):
                known = ", ".join(sorted(repr(v.saved_name) for v in variables)) or "none"
                raise GraphError(f"{path}: {what}: {name!r} is not a variable the signature uses "
                                 f"(by node name, saved name or checkpoint key); its variables: {known}")
    return [v for v in variables
            if (keep is None or _matches(v, keys.get(v.object_id, ""), keep))
            and not _matches(v, keys.get(v.object_id, ""), skip or [])]


def _ema_keys(reader: Any) -> dict[str, str]:
    """Saved name of a variable -> checkpoint key of its ExponentialMovingAverage, from the object graph."""
    out = {}
    for node in reader.object_graph.nodes:
        for attribute in node.attributes:
            if attribute.name == VARIABLE_VALUE and attribute.full_name.endswith(EMA_NAME_SUFFIX):
                out[attribute.full_name[: -len(EMA_NAME_SUFFIX)]] = attribute.checkpoint_key
    return out


def _key_for(variable: _Variable, keys: Mapping[int, str], variable_map: Mapping[str, str],
             ema: Optional[Mapping[str, str]], prefix: str) -> tuple[str, str]:
    """``(checkpoint key, origin)`` of one variable."""
    for name in (variable.node, variable.saved_name):
        if name in variable_map:
            return variable_map[name], "variable_map"
    if variable.object_id not in keys:
        raise FormatError(f"variable {variable.label} is object {variable.object_id}, which has no "
                          f"{VARIABLE_VALUE} in the checkpoint's object graph", prefix)
    key = keys[variable.object_id]
    if variable_map.get(key):
        return variable_map[key], "variable_map"
    if ema is not None and variable.saved_name in ema:
        return ema[variable.saved_name], "object_graph+ema"
    return key, "object_graph"


def _inline_signature(meta_graph: Any, sig: Any, op_defs: OpResolver, path: str
                      ) -> tuple[Any, dict[str, str], dict[str, str], list[str], dict[str, int], int]:
    """Copy, add input/output nodes, inline every call the signature (and the init op) need."""
    graph = type(meta_graph.graph_def)()
    graph.CopyFrom(meta_graph.graph_def)
    inputs = _check_inputs(graph, sig, path)
    outputs = _add_outputs(graph, sig, inputs, path)
    roots = [node_name(t) for t in inputs.values()] + [node_name(t) for t in outputs.values()]
    handles = _captured_variables(graph, meta_graph, path)
    graph = _prune(graph, roots + _init_roots(graph, meta_graph))
    functions = {f.signature.name: f for f in graph.library.function}
    for fn in functions.values():
        add_default_attrs(fn.node_def, op_defs)
    add_default_attrs(graph.node, op_defs)
    inlined = sum(1 for n in graph.node if n.op in CALL_OPS)
    graph = inline_calls(graph, op_defs, functions=functions)
    return graph, inputs, outputs, roots, handles, inlined


def _tables(graph: Any, meta_graph: Any, roots: list[str], dirpath: str, path: str
            ) -> tuple[list[str], Optional[str], list[TableInit]]:
    """Rebuild the initializers of the tables the signature uses; returns roots plus their init NoOp."""
    from .tables import asset_files

    needed = reachable(graph, roots)
    if not any(n.op in TABLE_OPS for n in graph.node if n.name in needed):
        return roots, None, []
    assets = asset_files(meta_graph.asset_file_def, os.path.join(dirpath, "assets"))
    group, tables = rebuild_tables(graph, needed, assets, path=path)
    return (roots + [group] if group else roots), group, tables


def _freeze_variables(graph: Any, variables: Sequence[_Variable], dirpath: str, path: str,
                      keep: Optional[Sequence[str]], skip: Optional[Sequence[str]], variable_map: Mapping[str, str],
                      use_ema: bool, storage_options: StorageOptions = None) -> dict[str, VariableSource]:
    """Turn the chosen variables of ``graph`` into Consts from ``variables/``; returns their sources."""
    from ..checkpoint.loading import load_checkpoint

    prefix = os.path.join(dirpath, "variables", "variables")
    sources: dict[str, VariableSource] = {}
    with load_checkpoint(prefix, storage_options=storage_options) as reader:
        keys = _checkpoint_keys(reader, prefix)
        chosen = _choose(variables, keys, keep, skip, variable_map, path)
        checker = UseChecker(graph, {v.node: v.label for v in chosen})
        try:
            for variable in chosen:
                checker.check(variable.node)
        except GraphError as exc:
            raise GraphError(f"{path}: {exc}") from None
        ema = _ema_keys(reader) if use_ema else None
        if use_ema and chosen and not ema:
            raise GraphError(f"{path}: use_ema: variables/ holds no ExponentialMovingAverage of any variable")
        loops = _resource_loop_vars(graph)
        converter = Converter(graph)
        for variable in chosen:
            key, origin = _key_for(variable, keys, variable_map, ema, prefix)
            if not reader.has_tensor(key):
                raise FormatError(f"variable {variable.label}: key {key!r} is not in the checkpoint", prefix)
            # A view of the mapped shard is enough: the Const gets its own copy of the bytes.
            converter.freeze_variable(variable.node, reader.get_tensor(key, copy=False))
            sources[variable.node] = VariableSource(variable.node, key, None, None, origin)
        converter.finish()
    _fix_while_output_shapes(graph, loops)
    return sources


def freeze_tf2_report(saved_model: Any, meta_graph: Any, dirpath: str, signature: str = "serving_default", *,
                      clear_devices: bool = True, outputs: Optional[Sequence[str]] = None,
                      keep: Optional[Sequence[str]] = None, skip: Optional[Sequence[str]] = None,
                      variable_map: Optional[Mapping[str, str]] = None, use_ema: bool = False,
                      storage_options: StorageOptions = None) -> FreezeResult:
    """Freeze one signature of a TF2 SavedModel and report what was done.

    Args:
        outputs: signature output keys to keep (default: all).
        keep, skip: variables (node name, saved name or checkpoint key) to freeze only / to leave
            as variables; a variable left unfrozen stays a ``VarHandleOp`` the caller must fill.
        variable_map: ``{variable: checkpoint key}`` overrides.
        use_ema: freeze each variable from the ``<name>/ExponentialMovingAverage`` object of the
            checkpoint; refused when there is none at all.
    """
    from ..graphs.read import saved_model_file

    path = saved_model_file(dirpath, storage_options=storage_options) \
        if fs.isdir(dirpath, storage_options=storage_options) else dirpath
    if not is_tf2_meta_graph(meta_graph):
        raise UnsupportedError("this meta graph has no object graph: not a TF2 SavedModel", path)
    sig = _select_outputs(_signature(meta_graph, signature, path), outputs, signature, path)
    op_defs = OpResolver(meta_graph)
    graph, inputs, fetches, roots, handles, inlined = _inline_signature(meta_graph, sig, op_defs, path)
    roots, initializer, tables = _tables(graph, meta_graph, roots, dirpath, path)
    graph = _prune(graph, roots)
    _keep_functions(graph)
    _refuse_other_resources(graph, op_defs, path)
    variables = _variables(graph, handles, meta_graph.object_graph_def.nodes, path)
    sources: dict[str, VariableSource] = {}
    if variables:
        sources = _freeze_variables(graph, variables, dirpath, path, keep, skip, dict(variable_map or {}), use_ema,
                                    storage_options)
        graph = _prune(graph, roots)
        _keep_functions(graph)
    frozen = [v.node for v in variables if v.node in sources]
    _drop_dangling_colocation(graph)
    if clear_devices:
        for node in graph.node:
            node.device = ""
    kept = [v.node for v in variables if v.node not in sources]
    return FreezeResult(graph, frozen, kept, sources, len(variables), inputs=inputs, outputs=fetches,
                        initializer=initializer, tables=tables, functions_inlined=inlined)


def freeze_tf2_saved_model(saved_model: Any, meta_graph: Any, dirpath: str,
                           signature: str = "serving_default") -> Any:
    """Freeze one signature of a TF2 SavedModel into a self-contained GraphDef.

    Feed ``<SignatureDef input tensor name>`` (e.g. ``serving_default_x:0``) and fetch
    ``<output key>:0`` (e.g. ``output_0:0``).

    Example:
        >>> from tfformats.graphs.read import read_saved_model, select_meta_graph
        >>> sm = read_saved_model("export/1")
        >>> frozen = freeze_tf2_saved_model(sm, select_meta_graph(sm, ["serve"]), "export/1")
    """
    return freeze_tf2_report(saved_model, meta_graph, dirpath, signature).graph_def


def load_and_freeze(dirpath: str, tags: Iterable[str] = ("serve",), signature: str = "serving_default",
                    **options: Any) -> FreezeResult:
    """Read ``dirpath``'s SavedModel, pick the meta graph with ``tags`` and freeze ``signature``."""
    from ..graphs.read import read_saved_model, saved_model_file, select_meta_graph

    saved_model = read_saved_model(dirpath)
    meta_graph = select_meta_graph(saved_model, tags, saved_model_file(dirpath))
    return freeze_tf2_report(saved_model, meta_graph, os.fspath(dirpath), signature, **options)


__all__ = ["freeze_tf2_report", "freeze_tf2_saved_model", "is_tf2_meta_graph", "load_and_freeze"]
