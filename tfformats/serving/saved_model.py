"""Write a frozen GraphDef as a TF1 SavedModel with one serving signature and no variables.

TensorFlow's own tools that want a SavedModel rather than a frozen graph (the
TFLite converter, TF-TRT, TensorFlow Serving, ``tf.saved_model.load``) accept
what this writes. The layout copies what ``tf.compat.v1.saved_model.Builder``
writes for a graph without variables: ``saved_model.pb`` holding one
MetaGraphDef (tags, the ops the graph uses as ``stripped_op_list``, the
graph, a ``tensorflow/serving/predict`` SignatureDef) beside an empty
``variables/`` folder, and no saver.

Example:
    >>> import tfformats as tff
    >>> tff.write_saved_model("frozen.pb", "export/1", inputs=["x"], outputs=["probs"])
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

from ..errors import ArgumentError, GraphError, PathLike
from .tensors import GraphIndex, TensorSpec

PREDICT_METHOD = "tensorflow/serving/predict"
SCHEMA_VERSION = 1  # the only SavedModel schema version TensorFlow has written
VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp", "VarIsInitializedOp"})
TABLE_INIT_OPS = frozenset({"InitializeTable", "InitializeTableV2", "InitializeTableFromTextFile",
                            "InitializeTableFromTextFileV2", "LookupTableImport", "LookupTableImportV2"})
FROZEN_INIT_OP = "init_all_tables"  # the NoOp tfformats' freezer groups the table initializers under
MAIN_OP_KEY = "saved_model_main_op"  # collection TensorFlow's loaders read the op to run at load from
TABLE_INIT_KEY = "table_initializer"  # collection of the ops that fill lookup tables

TensorNames = Union[str, Sequence[str], Mapping[str, str], None]


class SavedModelInfo(NamedTuple):
    """What :func:`write_saved_model` wrote."""

    path: str
    signature: str
    tags: list[str]
    inputs: dict[str, TensorSpec]  # signature key -> tensor
    outputs: dict[str, TensorSpec]
    ops: list[str]  # op types listed in stripped_op_list
    unregistered_ops: list[str]  # op types TensorFlow's standard registry does not know (left out of the list)
    tensorflow_version: str
    init_op: Optional[str] = None  # node run once when the model is loaded (fills lookup tables)


def _load_graph(graph: Any) -> tuple[Any, str]:
    if isinstance(graph, (str, os.PathLike)):
        from ..graphs.read import read_message

        path = os.fspath(graph)
        if not os.path.exists(path):
            from ..errors import ModelNotFoundError

            raise ModelNotFoundError("no such file", path)
        kind, message = read_message(path)
        if kind != "graph":
            what = "a SavedModel" if kind == "saved_model" else "a MetaGraphDef"
            raise ArgumentError(f"{path}: this is {what}, not a frozen GraphDef; freeze it first "
                                "(tfformats freeze ... -o frozen.pb)")
        return message, path
    if type(graph).DESCRIPTOR.full_name != "tensorflow.GraphDef":
        raise TypeError(f"expected a GraphDef or a path, not {type(graph).DESCRIPTOR.full_name}")
    return graph, "<graph>"


def default_key(tensor: str, signature: str = "") -> str:
    """Signature key for a tensor given without one: ``x:0`` -> ``x``, ``split:1`` -> ``split_1``.

    TensorFlow names a signature's input placeholders ``<signature>_<key>`` (``serving_default_x``),
    and so does a graph tfformats froze from a TF2 SavedModel: that prefix is dropped again.
    """
    node, _, index = tensor.rpartition(":")
    prefix = f"{signature}_"
    if signature and node.startswith(prefix) and len(node) > len(prefix):
        node = node[len(prefix):]
    return node if index == "0" else f"{node}_{index}"


def parse_names(names: TensorNames) -> list[tuple[Optional[str], str]]:
    """``[(key or None, tensor)]`` from ``"a,b"``, ``["k=a:0"]`` or ``{"k": "a:0"}``."""
    if names is None:
        return []
    if isinstance(names, Mapping):
        return [(str(k), str(v)) for k, v in names.items()]
    items = [p for p in names.split(",")] if isinstance(names, str) else list(names)
    out: list[tuple[Optional[str], str]] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        key, sep, tensor = item.partition("=")
        out.append((key.strip(), tensor.strip()) if sep else (None, item))
    return out


def _resolve(index: GraphIndex, names: list[tuple[Optional[str], str]], what: str,
             signature: str = "") -> dict[str, TensorSpec]:
    specs = index.specs([t for _, t in names], what)
    out: dict[str, TensorSpec] = {}
    for (key, _), spec in zip(names, specs):
        key = key or default_key(spec.name, signature)
        if key in out:
            raise ArgumentError(f"{index.source}: {what} key {key!r} is given twice ({out[key].name}, {spec.name})")
        out[key] = spec
    return out


def _needed_placeholders(index: GraphIndex, outputs: Iterable[TensorSpec]) -> list[str]:
    from ..graphs.prune import extract_sub_graph

    pruned = extract_sub_graph(index.graph_def, list(dict.fromkeys(s.name.rpartition(":")[0] for s in outputs)),
                               by_name=index.nodes)
    wanted = {n.name for n in pruned.node}
    return [p for p in index.placeholders() if p.rpartition(":")[0] in wanted]


def _check_frozen(index: GraphIndex) -> None:
    left = [n.name for n in index.graph_def.node if n.op in VARIABLE_OPS]
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise GraphError(f"{index.source}: the graph still has variables ({shown}); freeze it first "
                         "(tfformats freeze) so that the SavedModel needs no checkpoint")


def used_ops(graph_def: Any) -> list[str]:
    """Op types the graph and its function bodies run, without the library's own function names."""
    functions = {f.signature.name for f in graph_def.library.function}
    ops = {n.op for n in graph_def.node}
    for fn in graph_def.library.function:
        ops.update(n.op for n in fn.node_def)
    return sorted(ops - functions)


def stripped_op_list(graph_def: Any) -> tuple[Any, list[str]]:
    """``(OpList of the standard ops the graph uses, op types the registry does not know)``."""
    from ..graphs.registry import op_def
    from ..proto import OpList

    op_list = OpList()
    unknown = []
    for name in used_ops(graph_def):
        found = op_def(name)
        if found is None:
            unknown.append(name)
        else:
            op_list.op.add().CopyFrom(found)
    return op_list, unknown


def _tensor_info(spec: TensorSpec) -> Any:
    from ..proto import TensorInfo

    info = TensorInfo(name=spec.name, dtype=spec.dtype)
    if spec.shape is None:
        info.tensor_shape.unknown_rank = True
    else:
        for size in spec.shape:
            info.tensor_shape.dim.add(size=size)
    return info


def _initializer_groups(index: GraphIndex) -> list[str]:
    """NoOps named like the freezer's table initializer group (``init_all_tables``, ``init_all_tables_2``)."""
    pattern = re.compile(re.escape(FROZEN_INIT_OP) + r"(_\d+)?")
    return [n.name for n in index.graph_def.node if n.op == "NoOp" and pattern.fullmatch(n.name)]


def _control_closure(index: GraphIndex, start: str) -> set[str]:
    """Every node ``start`` waits for, through data and control inputs."""
    from ..graphs.names import node_name

    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        node = index.nodes.get(name)
        if node is None:
            continue
        for text in node.input:
            dep = node_name(text)
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def _init_op(index: GraphIndex, init_op: Optional[str]) -> Optional[str]:
    """The node to run at load: the one asked for, else the freezer's table initializer group when tables need it."""
    tables = [n.name for n in index.graph_def.node if n.op in TABLE_INIT_OPS]
    if init_op is not None:
        index.require([init_op], "init op")
        return init_op.lstrip("^")
    if not tables:
        return None
    groups = [n for n in _initializer_groups(index) if set(tables) <= _control_closure(index, n)]
    if len(groups) == 1:
        return groups[0]
    raise ArgumentError(f"{index.source}: the graph fills lookup tables ({', '.join(tables[:3])}); name the op that "
                        "runs their initializers at load (init_op= / --init-op)")


def build_saved_model(graph_def: Any, inputs: Mapping[str, TensorSpec], outputs: Mapping[str, TensorSpec], *,
                      signature: str = "serving_default", tags: Sequence[str] = ("serve",),
                      init_op: Optional[str] = None) -> tuple[Any, list[str]]:
    """The SavedModel message and the op types left out of its op list."""
    from ..graphs.registry import bundled_registry
    from ..proto import SavedModel

    saved = SavedModel(saved_model_schema_version=SCHEMA_VERSION)
    meta = saved.meta_graphs.add()
    op_list, unknown = stripped_op_list(graph_def)
    meta.meta_info_def.stripped_op_list.CopyFrom(op_list)
    meta.meta_info_def.tags.extend(tags)
    meta.meta_info_def.tensorflow_version = bundled_registry().tensorflow_version
    meta.graph_def.CopyFrom(graph_def)
    sig = meta.signature_def[signature]
    sig.method_name = PREDICT_METHOD
    for key, spec in inputs.items():
        sig.inputs[key].CopyFrom(_tensor_info(spec))
    for key, spec in outputs.items():
        sig.outputs[key].CopyFrom(_tensor_info(spec))
    if init_op is not None:
        meta.collection_def[MAIN_OP_KEY].node_list.value.append(init_op)
        tables = [n.name for n in graph_def.node if n.op in TABLE_INIT_OPS]
        if tables:
            meta.collection_def[TABLE_INIT_KEY].node_list.value.extend(tables)
    return saved, unknown


def _prepare_target(out_dir: str, overwrite: bool) -> None:
    from ..errors import OutputError

    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise OutputError("cannot write a SavedModel here: a file of this name exists", out_dir)
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise OutputError("the folder exists and is not empty (overwrite it with --overwrite / overwrite=True)",
                          out_dir)
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise OutputError("cannot write here: the folder it would go in does not exist", out_dir)


def _install(tmp: str, out_dir: str) -> None:
    """Move the finished folder ``tmp`` to ``out_dir``, replacing what is there."""
    old = None
    if os.path.lexists(out_dir):
        old = f"{out_dir}.old{os.getpid()}"
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_folder(saved: Any, target: str) -> None:
    """Write ``saved_model.pb`` and an empty ``variables/`` under a temporary name, then rename."""
    from .._io.atomic import temp_name
    from .._io.transfer import write_all
    from ..errors import OutputError

    tmp = temp_name(target)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(os.path.join(tmp, "variables"))
        with open(os.path.join(tmp, "saved_model.pb"), "wb") as f:
            write_all(f, saved.SerializeToString(deterministic=True))
        _install(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", target) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_saved_model(graph: Any, out_dir: PathLike, *, inputs: TensorNames = None, outputs: TensorNames,
                      signature: str = "serving_default", tags: Sequence[str] = ("serve",),
                      init_op: Optional[str] = None, overwrite: bool = False) -> SavedModelInfo:
    """Write a frozen GraphDef as a TF1 SavedModel folder with one predict signature.

    Args:
        graph: a frozen GraphDef or the path of a ``.pb``/``.pbtxt``.
        out_dir: folder to create; an existing non-empty one is refused unless ``overwrite``.
        inputs: tensors fed by the signature (``"x"``, ``"x:0"``, ``"key=x:0"``, a list of those or a
            ``{key: tensor}`` dict); default: every Placeholder the outputs depend on. A key defaults to
            the node name without a leading ``<signature>_`` (``serving_default_x`` -> ``x``).
        outputs: tensors the signature returns, in the same forms. A key defaults to the node name.
        signature: the SignatureDef key.
        tags: the meta graph's tag set.
        init_op: a node TensorFlow runs once at load (its main op). Default: when the graph fills lookup
            tables, the ``init_all_tables`` NoOp tfformats' freezer adds.

    Raises:
        ArgumentError: an input or output is not in the graph (with close names).
        GraphError: the graph still has variables.
        OutputError: ``out_dir`` is a file or a non-empty folder, or cannot be written.
    """
    graph_def, source = _load_graph(graph)
    index = GraphIndex(graph_def, source)
    _check_frozen(index)
    out_names = parse_names(outputs)
    if not out_names:
        raise ArgumentError(f"{source}: give at least one output tensor")
    out_specs = _resolve(index, out_names, "output")
    in_names = parse_names(inputs)
    if not in_names:
        in_names = [(None, p) for p in _needed_placeholders(index, out_specs.values())]
    in_specs = _resolve(index, in_names, "input", signature)
    if not re.fullmatch(r"\S+", signature):
        raise ArgumentError(f"signature key {signature!r} must be a non-empty word")
    tag_list = [t for t in tags if t]
    if not tag_list:
        raise ArgumentError("give at least one tag (serve)")
    init = _init_op(index, init_op)
    saved, unknown = build_saved_model(graph_def, in_specs, out_specs, signature=signature, tags=tag_list,
                                       init_op=init)

    target = os.fspath(out_dir).rstrip("/") or os.fspath(out_dir)
    _prepare_target(target, overwrite)
    _write_folder(saved, target)
    meta = saved.meta_graphs[0]
    return SavedModelInfo(target, signature, tag_list, in_specs, out_specs,
                          [op.name for op in meta.meta_info_def.stripped_op_list.op], unknown,
                          meta.meta_info_def.tensorflow_version, init)


__all__ = ["PREDICT_METHOD", "SavedModelInfo", "build_saved_model", "default_key", "parse_names",
           "stripped_op_list", "used_ops", "write_saved_model"]
