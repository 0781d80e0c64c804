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
5. the graph is pruned to what the outputs need, and the library to the
   functions still referenced.

A variable the signature assigns (or otherwise changes) cannot be frozen and
raises :class:`GraphError` naming it.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Mapping, NamedTuple

from .. import dtypes
from ..errors import FormatError, GraphError, UnsupportedError
from ..graphs.inline import CALL_OPS, inline_calls
from ..graphs.names import format_input, node_name, parse_function_input, parse_input
from ..graphs.opdefs import add_default_attrs, op_defs_by_name
from ..graphs.prune import colocated_with, reachable
from .constants import CALLERS, Converter

VARIABLE_VALUE = "VARIABLE_VALUE"
# The node names TensorFlow's graph import accepts.
VALID_NODE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*")
# Ops that read a resource variable without changing it and that freezing rewrites.
READ_OPS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd"})
ASSIGN_OPS = frozenset({"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
                        "ResourceStridedSliceAssign"})
MUTATING_PREFIXES = ("ResourceScatter", "ResourceApply", "ResourceSparseApply")


class FrozenVariable(NamedTuple):
    """One variable that became a Const."""

    node: str  # the VarHandleOp's name (the Const keeps it)
    key: str  # checkpoint key in variables/
    name: str  # the variable's name as saved (SavedVariable.name)


class TF2FreezeResult(NamedTuple):
    graph_def: Any
    variables: list[FrozenVariable]
    inputs: dict[str, str]  # signature input key -> tensor name to feed
    outputs: dict[str, str]  # signature output key -> tensor name to fetch
    functions_inlined: int


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
        if node is None or node.op != "Placeholder" or ref.index != 0:
            raise FormatError(f"signature input {key!r} is {info.name!r}, which is not a Placeholder "
                              "of the graph", path)
        inputs[key] = f"{ref.node}:0"
    return inputs


def _prune(graph_def: Any, roots: Iterable[str]) -> Any:
    """Only the nodes ``roots`` need; ``graph_def`` itself when that is all of them (no copy)."""
    keep = reachable(graph_def, roots)
    if all(n.name in keep for n in graph_def.node):
        return graph_def
    out = type(graph_def)()
    out.node.extend(n for n in graph_def.node if n.name in keep)
    if graph_def.HasField("versions"):
        out.versions.CopyFrom(graph_def.versions)
    if graph_def.HasField("library"):
        out.library.CopyFrom(graph_def.library)
    return out


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
    """Refuse resources other than variables (lookup tables, iterators, ...).

    They are created and filled by the SavedModel's init functions, which a
    frozen GraphDef has no way to run; keeping them would give a graph that
    imports but fails when run.
    """
    for node in graph_def.node:
        if node.op == "VarHandleOp":
            continue
        op_def = op_defs.get(node.op)
        if op_def is not None and any(arg.type == dtypes.RESOURCE for arg in op_def.output_arg):
            raise UnsupportedError(f"the signature uses node {node.name!r} ({node.op}), a resource that is not a "
                                   "variable; lookup tables and other initialized resources cannot be frozen",
                                   path)


class _UseChecker:
    """Refuse variables the graph changes: only reads, pass-throughs and function calls may use a handle."""

    def __init__(self, graph_def: Any, labels: Mapping[str, str]) -> None:
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.labels = labels
        self.seen: set[tuple[str, int]] = set()
        self.top = self._consumers(graph_def.node, function=False)
        self._fn_consumers: dict[str, dict[str, list[tuple[Any, int]]]] = {}

    @staticmethod
    def _consumers(nodes: Iterable[Any], function: bool) -> dict[str, list[tuple[Any, int]]]:
        out: dict[str, list[tuple[Any, int]]] = {}
        for node in nodes:
            for pos, text in enumerate(node.input):
                if text.startswith("^"):
                    continue
                if function:
                    ref = parse_function_input(text)
                    key = ref.node if ref.arg is None else f"{ref.node}:{ref.arg}:{ref.index}"
                else:
                    key = str(parse_input(text))
                out.setdefault(key, []).append((node, pos))
        return out

    def check(self, handle: str) -> None:
        self._walk(self.top, handle, self.labels[handle], where="the graph", function=False)

    def _walk(self, consumers: Mapping[str, list[tuple[Any, int]]], key: str, label: str, where: str,
              function: bool) -> None:
        for node, pos in consumers.get(key, ()):
            op = node.op
            if op in READ_OPS:
                continue
            if op == "Identity":
                out = f"{node.name}:output:0" if function else node.name
                self._walk(consumers, out, label, where, function)
            elif op in CALLERS:
                self._enter_callee(node, pos, label)
            elif op in ASSIGN_OPS or op.startswith(MUTATING_PREFIXES):
                raise GraphError(f"variable {label} is assigned by node {node.name!r} ({op}) in {where}; "
                                 "a frozen graph cannot change variables")
            else:
                raise GraphError(f"variable {label} is used by node {node.name!r} ({op}) in {where}; "
                                 "only reads of a variable can be frozen")

    def _enter_callee(self, node: Any, pos: int, label: str) -> None:
        first, _, fn_attrs = CALLERS[node.op]
        if pos < first:
            return
        index = pos - first
        for attr_name in fn_attrs:
            if attr_name not in node.attr:
                continue
            attr = node.attr[attr_name]
            names = [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
            for name in names:
                if (name, index) in self.seen or name not in self.functions:
                    continue
                self.seen.add((name, index))
                fn = self.functions[name]
                if index >= len(fn.signature.input_arg):
                    raise GraphError(f"function {name!r} has {len(fn.signature.input_arg)} arguments; "
                                     f"node {node.name!r} passes more")
                if name not in self._fn_consumers:
                    self._fn_consumers[name] = self._consumers(fn.node_def, function=True)
                self._walk(self._fn_consumers[name], fn.signature.input_arg[index].name, label,
                           where=f"function {name!r}", function=True)


def freeze_tf2_report(saved_model: Any, meta_graph: Any, dirpath: str, signature: str = "serving_default", *,
                      clear_devices: bool = True) -> TF2FreezeResult:
    """Like :func:`freeze_tf2_saved_model`, also saying which variables were frozen from which keys."""
    from ..checkpoint.loading import load_checkpoint
    from ..graphs.read import saved_model_file

    path = saved_model_file(dirpath) if os.path.isdir(dirpath) else dirpath
    if not is_tf2_meta_graph(meta_graph):
        raise UnsupportedError("this meta graph has no object graph: not a TF2 SavedModel", path)
    sig = _signature(meta_graph, signature, path)
    op_defs = op_defs_by_name(meta_graph.meta_info_def.stripped_op_list)

    graph = type(meta_graph.graph_def)()
    graph.CopyFrom(meta_graph.graph_def)
    inputs = _check_inputs(graph, sig, path)
    outputs = _add_outputs(graph, sig, inputs, path)
    roots = [node_name(t) for t in inputs.values()] + [node_name(t) for t in outputs.values()]
    handles = _captured_variables(graph, meta_graph, path)

    graph = _prune(graph, roots)
    functions = {f.signature.name: f for f in graph.library.function}
    for fn in functions.values():
        add_default_attrs(fn.node_def, op_defs)
    add_default_attrs(graph.node, op_defs)
    inlined = sum(1 for n in graph.node if n.op in CALL_OPS)
    graph = inline_calls(graph, op_defs, functions=functions)
    graph = _prune(graph, roots)
    _keep_functions(graph)

    _refuse_other_resources(graph, op_defs, path)
    variables: list[FrozenVariable] = []
    var_nodes = [n for n in graph.node if n.op == "VarHandleOp"]
    if var_nodes:
        objects = meta_graph.object_graph_def.nodes
        labels = {}
        for node in var_nodes:
            if node.name not in handles:
                raise GraphError(f"{path}: variable node {node.name!r} is not bound to any saved object; "
                                 "cannot tell which checkpoint value it holds")
            saved_name = objects[handles[node.name]].variable.name or node.name
            labels[node.name] = repr(saved_name) + (f" (node {node.name!r})" if saved_name != node.name else "")
        checker = _UseChecker(graph, labels)
        try:
            for node in var_nodes:
                checker.check(node.name)
        except GraphError as exc:
            raise GraphError(f"{path}: {exc}") from None
        prefix = os.path.join(dirpath, "variables", "variables")
        with load_checkpoint(prefix) as reader:
            keys = _checkpoint_keys(reader, prefix)
            loops = _resource_loop_vars(graph)
            converter = Converter(graph)
            for node in var_nodes:
                object_id = handles[node.name]
                if object_id not in keys:
                    raise FormatError(f"variable {labels[node.name]} is object {object_id}, which has no "
                                      f"{VARIABLE_VALUE} in the checkpoint's object graph", prefix)
                key = keys[object_id]
                if not reader.has_tensor(key):
                    raise FormatError(f"variable {labels[node.name]}: key {key!r} is not in the checkpoint", prefix)
                # A view of the mapped shard is enough: the Const gets its own copy of the bytes.
                converter.freeze_variable(node.name, reader.get_tensor(key, copy=False))
                variables.append(FrozenVariable(node.name, key, objects[object_id].variable.name))
            converter.finish()
        _fix_while_output_shapes(graph, loops)
        graph = _prune(graph, roots)
        _keep_functions(graph)
    _drop_dangling_colocation(graph)
    if clear_devices:
        for node in graph.node:
            node.device = ""
    return TF2FreezeResult(graph, variables, inputs, outputs, inlined)


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
                    **options: Any) -> TF2FreezeResult:
    """Read ``dirpath``'s SavedModel, pick the meta graph with ``tags`` and freeze ``signature``."""
    from ..graphs.read import read_saved_model, saved_model_file, select_meta_graph

    saved_model = read_saved_model(dirpath)
    meta_graph = select_meta_graph(saved_model, tags, saved_model_file(dirpath))
    return freeze_tf2_report(saved_model, meta_graph, os.fspath(dirpath), signature, **options)


__all__ = ["FrozenVariable", "TF2FreezeResult", "freeze_tf2_report", "freeze_tf2_saved_model",
           "is_tf2_meta_graph", "load_and_freeze"]

