"""What ``tfformats graph`` reports about a GraphDef, MetaGraphDef or SavedModel, as plain dicts."""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from .. import dtypes
from .names import node_name, parse_input

INPUT_OPS = ("Placeholder", "PlaceholderWithDefault", "PlaceholderV2")
VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
SAVER_OPS = ("SaveV2", "RestoreV2", "Save", "SaveSlices", "Restore", "RestoreSlice", "MergeV2Checkpoints")


def saver_scopes(graph_def: Any) -> list[str]:
    """Name scopes holding save/restore ops (``save``, ``save_1``, ...)."""
    return sorted({n.name.split("/", 1)[0] for n in graph_def.node if n.op in SAVER_OPS and "/" in n.name})


def dtype_name(enum: int) -> str:
    """``float32``, ``float32_ref``, ``resource``; ``dtype<N>`` for unknown numbers."""
    base = dtypes.base_enum(enum)
    row = dtypes.BY_ENUM.get(base)
    name = row.tf_name if row is not None else f"dtype{base}"
    return name + "_ref" if dtypes.is_ref(enum) else name


def shape_list(shape: Any) -> Optional[list[int]]:
    """A TensorShapeProto as a list (-1 for unknown dims), or None for unknown rank."""
    if shape.unknown_rank:
        return None
    return [d.size for d in shape.dim]


def _num_elements(shape: Optional[list[int]]) -> Optional[int]:
    if shape is None or any(d < 0 for d in shape):
        return None
    n = 1
    for d in shape:
        n *= d
    return n


TABLE_INIT_OPS = frozenset({"InitializeTable", "InitializeTableV2", "LookupTableImport", "LookupTableImportV2",
                            "InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})


def table_initializers(graph_def: Any, consumed: set[str]) -> list[str]:
    """Unconsumed NoOps that wait only for table initializers (what freezing reports as ``initializer``)."""
    by_name = {n.name: n for n in graph_def.node}
    out = []
    for node in graph_def.node:
        if node.op != "NoOp" or node.name in consumed or not node.input:
            continue
        sources = [by_name.get(parse_input(text).node) for text in node.input]
        if all(src is not None and src.op in TABLE_INIT_OPS for src in sources):
            out.append(node.name)
    return out


def graph_summary(graph_def: Any, *, max_listed: int = 200) -> dict[str, Any]:
    """Inputs, outputs, op histogram, variables, Const bytes, devices and functions of a GraphDef."""
    savers = saver_scopes(graph_def)
    saver_prefixes = tuple(f"{scope}/" for scope in savers)
    consumed: set[str] = set()
    ops: Counter[str] = Counter()
    devices: Counter[str] = Counter()
    inputs, variables = [], []
    const_bytes = 0
    for node in graph_def.node:
        ops[node.op] += 1
        if node.device:
            devices[node.device] += 1
        for text in node.input:
            consumed.add(parse_input(text).node)
        if node.op in INPUT_OPS and not node.name.startswith(saver_prefixes):
            dtype = node.attr["dtype"].type if "dtype" in node.attr else 0
            shape = shape_list(node.attr["shape"].shape) if "shape" in node.attr else None
            inputs.append({"name": node.name, "op": node.op, "dtype": dtype_name(dtype), "shape": shape})
        elif node.op in VARIABLE_OPS:
            shape = shape_list(node.attr["shape"].shape) if "shape" in node.attr else None
            variables.append({"name": node.name, "op": node.op, "dtype": dtype_name(node.attr["dtype"].type),
                              "shape": shape, "params": _num_elements(shape)})
        elif node.op == "Const" and "value" in node.attr:
            const_bytes += node.attr["value"].tensor.ByteSize()
    outputs = [n.name for n in graph_def.node
               if n.name not in consumed and n.op != "NoOp" and not n.name.startswith(saver_prefixes)]
    initializers = table_initializers(graph_def, consumed)
    functions = [{"name": f.signature.name, "nodes": len(f.node_def), "bytes": f.ByteSize(),
                  "inputs": len(f.signature.input_arg), "outputs": len(f.signature.output_arg)}
                 for f in graph_def.library.function]
    return {
        "nodes": len(graph_def.node),
        "producer": graph_def.versions.producer if graph_def.HasField("versions") else None,
        "inputs": inputs,
        "outputs": outputs[:max_listed],
        "outputs_total": len(outputs),
        # Tensor names to use with session.run: every input is fed as "<name>:0" and every
        # output fetched as "<name>:0" (frozen SavedModels keep the signature's input names
        # and name each output after its output key).
        "feeds": [f"{i['name']}:0" for i in inputs],
        "fetches": [f"{name}:0" for name in outputs[:max_listed]],
        # NoOps grouping lookup-table initializers (as freezing writes them): run once before the fetches.
        "initializers": initializers,
        "op_types": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "variables": variables,
        "parameters": sum(v["params"] or 0 for v in variables),
        "const_bytes": const_bytes,
        "devices": dict(devices),
        "savers": savers,
        "functions": functions,
        "function_bytes": sum(f["bytes"] for f in functions),
    }


def tensor_info(info: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"dtype": dtype_name(info.dtype),
                           "shape": shape_list(info.tensor_shape) if info.HasField("tensor_shape") else None}
    encoding = info.WhichOneof("encoding")
    if encoding == "name":
        out["name"] = info.name
    elif encoding == "coo_sparse":
        out["coo_sparse"] = {"values": info.coo_sparse.values_tensor_name,
                             "indices": info.coo_sparse.indices_tensor_name,
                             "dense_shape": info.coo_sparse.dense_shape_tensor_name}
    elif encoding == "composite_tensor":
        out["composite_tensor"] = [c.name for c in info.composite_tensor.components]
    return out


def signatures(meta: Any) -> dict[str, Any]:
    return {key: {"method_name": sig.method_name,
                  "inputs": {k: tensor_info(sig.inputs[k]) for k in sorted(sig.inputs)},
                  "outputs": {k: tensor_info(sig.outputs[k]) for k in sorted(sig.outputs)}}
            for key, sig in sorted(meta.signature_def.items())}


def _collection(col: Any) -> dict[str, Any]:
    kind = col.WhichOneof("kind")
    if kind is None:
        return {"kind": None, "count": 0}
    values = getattr(col, kind).value
    out: dict[str, Any] = {"kind": kind, "count": len(values)}
    if kind == "node_list":
        out["values"] = list(values)[:20]
    return out


def meta_summary(meta: Any) -> dict[str, Any]:
    info = meta.meta_info_def
    out: dict[str, Any] = {
        "tags": list(info.tags),
        "tensorflow_version": info.tensorflow_version,
        "stripped_default_attrs": info.stripped_default_attrs,
        "collections": {k: _collection(meta.collection_def[k]) for k in sorted(meta.collection_def)},
        "signatures": signatures(meta),
        "tf2_object_graph_nodes": len(meta.object_graph_def.nodes) if meta.HasField("object_graph_def") else 0,
    }
    if meta.HasField("saver_def"):
        sd = meta.saver_def
        out["saver_def"] = {"filename_tensor_name": sd.filename_tensor_name, "save_tensor_name": sd.save_tensor_name,
                            "restore_op_name": sd.restore_op_name, "max_to_keep": sd.max_to_keep,
                            "sharded": sd.sharded, "version": sd.version}
    out["graph"] = graph_summary(meta.graph_def)
    # Reserved signatures (``__saved_model_init_op``) name what loading runs, not a model output.
    sig_outputs = [node_name(t["name"]) for key, s in out["signatures"].items() if not key.startswith("__")
                   for t in s["outputs"].values() if "name" in t]
    out["graph"]["signature_outputs"] = list(dict.fromkeys(sig_outputs))
    return out


def saved_model_summary(saved_model: Any) -> dict[str, Any]:
    return {"schema_version": saved_model.saved_model_schema_version,
            "meta_graphs": [meta_summary(m) for m in saved_model.meta_graphs]}


def summarize(kind: str, message: Any) -> dict[str, Any]:
    """Summary of a message :func:`tfformats.graphs.read.read_message` returned."""
    if kind == "graph":
        return {"kind": "GraphDef", "graph": graph_summary(message)}
    if kind == "meta":
        return {"kind": "MetaGraphDef", **meta_summary(message)}
    return {"kind": "SavedModel", **saved_model_summary(message)}


__all__ = ["dtype_name", "graph_summary", "meta_summary", "saved_model_summary", "shape_list", "signatures",
           "summarize", "tensor_info"]
