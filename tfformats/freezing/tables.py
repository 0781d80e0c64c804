"""Keep the lookup tables a frozen graph needs, with initializers that carry their data.

A table (``HashTableV2`` ...) is a resource that an init op fills before the
graph runs. Pruning to the outputs drops those initializers, and the ones
that read a vocabulary file would name a path that means nothing once the
graph leaves its SavedModel. So each table the outputs use keeps an
initializer built from its data:

* an initializer from tensors (``InitializeTableV2``, ``LookupTableImportV2``)
  is kept with the subgraph computing its keys and values;
* an initializer from a text file (``InitializeTableFromTextFileV2``) that
  reads one of the SavedModel's asset files becomes ``InitializeTableV2`` with
  constant keys and values parsed from that file the way TensorFlow parses it.

All initializers are grouped under one ``NoOp`` that the caller reports: run it
once (``freeze_graph.py --initializer_nodes``), then the outputs. Tables that
cannot be rebuilt are refused with :class:`GraphError`: mutable tables (their
contents come from training or from inserts at run time), files that are not
assets of the model, and tables with no initializer at all.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, NamedTuple, Optional

import numpy as np

from .. import dtypes
from ..errors import GraphError, NotFoundError
from ..graphs.names import node_name, parse_input
from ..graphs.prune import reachable
from ..tensor_proto import from_numpy

STATIC_TABLES = frozenset({"HashTable", "HashTableV2", "AnonymousHashTable"})
MUTABLE_TABLES = frozenset({"MutableHashTable", "MutableHashTableV2", "MutableHashTableOfTensors",
                            "MutableHashTableOfTensorsV2", "MutableDenseHashTable", "MutableDenseHashTableV2",
                            "AnonymousMutableHashTable", "AnonymousMutableHashTableOfTensors",
                            "AnonymousMutableDenseHashTable"})
TABLE_OPS = STATIC_TABLES | MUTABLE_TABLES
TENSOR_INITS = frozenset({"InitializeTable", "InitializeTableV2", "LookupTableImport", "LookupTableImportV2"})
FILE_INITS = frozenset({"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})
OTHER_WRITES = frozenset({"LookupTableInsert", "LookupTableInsertV2", "LookupTableRemoveV2",
                          "InitializeTableFromDataset"})
# Column indices with a special meaning in text-file initializers.
WHOLE_LINE, LINE_NUMBER = -2, -1
INIT_GROUP = "init_all_tables"


class TableInit(NamedTuple):
    """What was done for one table."""

    table: str  # the table node
    initializer: str  # the initializer node in the frozen graph
    source: str  # "tensors" or the asset file the data came from


def _handle_source(by_name: Mapping[str, Any], text: str) -> str:
    """The node a table handle input comes from, through Identity nodes."""
    name = node_name(text)
    seen = 0
    while name in by_name and by_name[name].op == "Identity" and by_name[name].input and seen < 1000:
        name = node_name(by_name[name].input[0])
        seen += 1
    return name


def _writers(graph_def: Any, tables: Iterable[str]) -> dict[str, list[Any]]:
    """Table node -> nodes of the graph that fill or change it."""
    by_name = {n.name: n for n in graph_def.node}
    wanted = set(tables)
    out: dict[str, list[Any]] = {t: [] for t in wanted}
    for node in graph_def.node:
        if node.op in TENSOR_INITS | FILE_INITS | OTHER_WRITES and node.input:
            table = _handle_source(by_name, node.input[0])
            if table in wanted:
                out[table].append(node)
    return out


def _filename_node(by_name: Mapping[str, Any], text: str) -> Any:
    """The node holding a file name, through Identity nodes and the variable a TF2 SavedModel keeps it in.

    TF2 SavedModels feed each asset path to a Placeholder, assign it to a variable and pass a
    ``ReadVariableOp`` of that variable to the initializer.
    """
    node = by_name.get(_handle_source(by_name, text))
    if node is not None and node.op == "ReadVariableOp" and node.input:
        variable = node_name(node.input[0])
        writes = [n for n in by_name.values() if n.op == "AssignVariableOp" and len(n.input) > 1
                  and node_name(n.input[0]) == variable]
        if len(writes) == 1:
            node = by_name.get(_handle_source(by_name, writes[0].input[1]), node)
    if node is None:
        raise GraphError(f"filename input {text!r} names no node")
    return node


def _asset_path(filename_node: Any, assets: Mapping[str, str], table: str) -> str:
    path = assets.get(filename_node.name)
    if path is None:
        value = ""
        if filename_node.op == "Const":
            from ..tensor_proto import to_numpy

            raw = to_numpy(filename_node.attr["value"].tensor).reshape(-1)
            value = f" {raw[0].decode('utf-8', 'replace')!r}" if raw.size and isinstance(raw[0], bytes) else ""
        raise GraphError(f"table {table!r} is initialized from file{value} (node {filename_node.name!r}), which is "
                         "not an asset of the model; a frozen graph cannot carry a file it does not own")
    return path


def _lines(path: str, vocab_size: int, table: str) -> list[bytes]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFoundError(f"vocabulary of table {table!r} is missing", path) from None
    except OSError as exc:
        raise GraphError(f"table {table!r}: cannot read vocabulary {path}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline ending the last line starts no new line
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if vocab_size >= 0:
        if len(lines) < vocab_size:
            raise GraphError(f"table {table!r}: vocabulary {path} has {len(lines)} lines, its initializer "
                             f"expects {vocab_size}; TensorFlow would fail to initialize it")
        lines = lines[:vocab_size]
    for number, line in enumerate(lines):
        if not line:
            raise GraphError(f"table {table!r}: vocabulary {path} has an empty line ({number + 1}); TensorFlow "
                             "would fail to initialize it")
    return lines


def _column(lines: list[bytes], index: int, delimiter: bytes, dtype: int, offset: int, what: str,
            path: str, table: str) -> np.ndarray:
    """One column of a vocabulary file as the table's key or value dtype."""
    if index == LINE_NUMBER:
        if dtype != dtypes.INT64:
            raise GraphError(f"table {table!r}: line numbers as {what} need int64, the table has "
                             f"{dtypes.lookup(dtype).tf_name}")
        return np.arange(len(lines), dtype=np.int64) + offset
    tokens = []
    for number, line in enumerate(lines):
        if index == WHOLE_LINE:
            tokens.append(line)
            continue
        parts = line.split(delimiter)
        if index >= len(parts):
            raise GraphError(f"table {table!r}: line {number + 1} of {path} has {len(parts)} columns, the "
                             f"{what} is column {index}")
        tokens.append(parts[index])
    if dtype == dtypes.STRING:
        return np.array(tokens, dtype=object)
    kind = dtypes.lookup(dtype)
    if kind.numpy is None or kind.numpy.kind not in "iuf":
        raise GraphError(f"table {table!r}: {what} dtype {kind.tf_name} cannot be read from a text file")
    try:
        values = [float(t) if kind.numpy.kind == "f" else int(t) for t in tokens]
    except ValueError as exc:
        raise GraphError(f"table {table!r}: {path} holds a {what} that is not a {kind.tf_name}: {exc}") from None
    array = np.array(values, dtype=kind.numpy)
    return array + offset if dtype == dtypes.INT32 and offset else array


def _const(graph_def: Any, name: str, value: np.ndarray, dtype: int) -> None:
    node = graph_def.node.add()
    node.name, node.op = name, "Const"
    node.attr["dtype"].type = dtype
    from_numpy(value, dtypes.lookup(dtype), out=node.attr["value"].tensor)


def _from_file(graph_def: Any, init: Any, table_node: Any, assets: Mapping[str, str],
               by_name: Mapping[str, Any], taken: set[str]) -> str:
    """Replace a text-file initializer by InitializeTableV2 over constants; returns the file read."""
    if len(init.input) < 2 or init.input[1].startswith("^"):
        raise GraphError(f"table initializer {init.name!r} has no filename input")
    path = _asset_path(_filename_node(by_name, init.input[1]), assets, table_node.name)
    attr = init.attr
    vocab_size = attr["vocab_size"].i if "vocab_size" in attr else -1
    delimiter = attr["delimiter"].s if "delimiter" in attr else b"\t"
    offset = attr["offset"].i if "offset" in attr else 0
    key_dtype, value_dtype = table_node.attr["key_dtype"].type, table_node.attr["value_dtype"].type
    lines = _lines(path, vocab_size, table_node.name)
    keys = _column(lines, attr["key_index"].i, delimiter, key_dtype, offset, "key", path, table_node.name)
    values = _column(lines, attr["value_index"].i, delimiter, value_dtype, offset, "value", path,
                     table_node.name)
    names = []
    for suffix, array, dtype in (("keys", keys, key_dtype), ("values", values, value_dtype)):
        name = _unique(f"{init.name}/{suffix}", taken)
        _const(graph_def, name, array, dtype)
        names.append(name)
    handle = init.input[0]
    controls = [i for i in init.input if i.startswith("^")]
    v2 = init.op.endswith("V2")
    init.ClearField("attr")
    init.ClearField("input")
    init.op = "InitializeTableV2" if v2 else "InitializeTable"
    init.input.extend([handle, *names, *controls])
    init.attr["Tkey"].type = key_dtype
    init.attr["Tval"].type = value_dtype
    return path


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _refuse_fed_inputs(graph_def: Any, by_name: Mapping[str, Any], init: Any, table: str) -> None:
    """An initializer whose data needs a fed Placeholder cannot run on its own."""
    for name in sorted(reachable(graph_def, [init.name], by_name)):
        node = by_name.get(name)
        if node is not None and node.op == "Placeholder":
            raise GraphError(f"table {table!r}: its initializer {init.name!r} needs the fed input {name!r}")


def rebuild_tables(graph_def: Any, needed: Iterable[str], assets: Mapping[str, str], *,
                   group_name: str = INIT_GROUP, path: Optional[str] = None) -> tuple[Optional[str], list[TableInit]]:
    """Give every table among ``needed`` an initializer the frozen graph can run; edits ``graph_def``.

    Args:
        graph_def: the whole graph (initializers included), changed in place.
        needed: names of the nodes the outputs need (tables among them are handled).
        assets: ``{node name holding an asset path: file to read}`` for the model's asset files.
        group_name: preferred name of the NoOp grouping the initializers.
        path: the model file, for messages.

    Returns the name of the NoOp to run once before the outputs (None when no table is
    used) and what was done for each table.
    """
    by_name = {n.name: n for n in graph_def.node}
    tables = [name for name in needed if name in by_name and by_name[name].op in TABLE_OPS]
    if not tables:
        return None, []
    where = f"{path}: " if path else ""
    writers = _writers(graph_def, tables)
    taken = set(by_name)
    done: list[TableInit] = []
    for table in sorted(tables):
        node = by_name[table]
        inits = writers[table]
        try:
            if node.op in MUTABLE_TABLES:
                filled = f" (filled by node {inits[0].name!r}, {inits[0].op})" if inits else ""
                raise GraphError(f"table {table!r} is a {node.op}{filled}: its contents come from training or "
                                 "from writes at run time, which a frozen graph cannot rebuild")
            if not inits:
                raise GraphError(f"table {table!r} ({node.op}) has no initializer in the graph; a frozen graph "
                                 "would fail with 'Table not initialized'")
            if len(inits) > 1:
                names = ", ".join(f"{i.name!r} ({i.op})" for i in inits)
                raise GraphError(f"table {table!r} is written by several nodes ({names}); cannot tell which "
                                 "contents the outputs see")
            init = inits[0]
            if init.op in OTHER_WRITES:
                raise GraphError(f"table {table!r} is filled by node {init.name!r} ({init.op}), whose contents "
                                 "freezing cannot turn into constants")
            if init.op in FILE_INITS:
                source = _from_file(graph_def, init, node, assets, by_name, taken)
            else:
                _refuse_fed_inputs(graph_def, by_name, init, table)
                source = "tensors"
        except GraphError as exc:
            raise GraphError(f"{where}{exc}") from None
        done.append(TableInit(table, init.name, source))
    group = graph_def.node.add()
    group.name = _unique(group_name, taken)
    group.op = "NoOp"
    group.input.extend(f"^{t.initializer}" for t in done)
    return group.name, done


def asset_files(asset_defs: Iterable[Any], assets_dir: str) -> dict[str, str]:
    """``{node name: file}`` from AssetFileDefs, refusing files that leave ``assets_dir``."""
    out: dict[str, str] = {}
    root = os.path.realpath(assets_dir)
    for asset in asset_defs:
        name = parse_input(asset.tensor_info.name).node
        target = os.path.realpath(os.path.join(root, asset.filename))
        if os.path.isabs(asset.filename) or not target.startswith(root + os.sep):
            raise GraphError(f"asset {asset.filename!r} (tensor {asset.tensor_info.name!r}) is outside "
                             f"{assets_dir}; refusing to read it")
        out[name] = os.path.join(assets_dir, asset.filename)
    return out


__all__ = ["INIT_GROUP", "TABLE_OPS", "TableInit", "asset_files", "rebuild_tables"]
