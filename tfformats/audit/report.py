"""Audit findings for graphs, SavedModels and checkpoints.

:func:`audit_path` decides what a path holds, walks it without executing or
importing anything from it and without following any path it names, and
returns a :class:`Report`: every op site found, and findings graded
``info < low < medium < high < critical``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from ..errors import FormatError, PathLike
from .catalog import SEVERITIES, Catalog, default_catalog, severity_rank
from .scan import DEFAULT_MAX_DEPTH, Note, OpSite, Scanner, all_saver_tags

# String attributes worth quoting in a finding: they name files, URLs or streams.
_PATH_ATTRS = {"output_stream", "memory_region_name", "debug_urls", "dump_root", "descriptor_source", "filename",
               "file_name", "file_path", "log_dir", "output_file_path", "path", "address", "protocol", "target"}
_NOTE_SEVERITY = {"embedded_graph": "low", "recursion": "medium", "budget": "medium", "depth_limit": "high"}
INIT_OP_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")
INIT_OP_SIGNATURE = "__saved_model_init_op"
ASSETS_COLLECTION = "saved_model_assets"
KERAS_METADATA = "keras_metadata.pb"
_FLOAT_KINDS = "fc"


@dataclass(frozen=True)
class Finding:
    severity: str
    category: str
    message: str
    location: str
    op: str = ""
    node: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "category": self.category, "message": self.message,
                "location": self.location, "op": self.op, "node": self.node}


@dataclass
class Report:
    """What an audit found in one path."""

    path: str
    kind: str  # "graph", "meta", "saved_model" or "checkpoint"
    findings: list[Finding] = field(default_factory=list)
    sites: list[OpSite] = field(default_factory=list)
    standard_ops_version: str = ""

    def add(self, severity: str, category: str, message: str, location: str, op: str = "", node: str = "") -> None:
        self.findings.append(Finding(severity, category, message, location, op, node))

    def at_least(self, severity: str) -> list[Finding]:
        rank = severity_rank(severity)
        return [f for f in self.findings if severity_rank(f.severity) >= rank]

    @property
    def max_severity(self) -> Optional[str]:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=severity_rank)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (-severity_rank(f.severity), f.category, f.location))

    def op_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s.op for s in self.sites).items()))

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(f.severity for f in self.findings)
        return {
            "path": self.path,
            "kind": self.kind,
            "max_severity": self.max_severity,
            "counts": {s: counts.get(s, 0) for s in SEVERITIES},
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "op_counts": self.op_counts(),
            "ops": [{"op": s.op, "node": s.node, "location": s.location} for s in self.sites],
            "standard_ops_from": f"TensorFlow {self.standard_ops_version}" if self.standard_ops_version else "",
        }


# -- ops -----------------------------------------------------------------------------------

def _detail(site: OpSite) -> str:
    parts = [f"{k}={v!r}" for k, v in site.attrs if k in _PATH_ATTRS and v]
    if site.const_inputs:
        parts.append("constant inputs " + ", ".join(repr(v) for v in site.const_inputs))
    return f" ({'; '.join(parts)})" if parts else ""


def judge_sites(report: Report, sites: Iterable[OpSite], notes: Iterable[Note], catalog: Catalog) -> None:
    """Turn op sites and scan notes into findings."""
    for site in sites:
        report.sites.append(site)
        for rule in catalog.rules_for(site):
            severity = rule.severity_for(site)
            message = f"{site.op}: {rule.description}{_detail(site)}"
            if severity == "info" and rule.saver:
                message += " [part of the checkpoint saver]"
            report.add(severity, rule.category, message, site.location, site.op, site.node)
        if not site.call and not catalog.is_standard(site.op):
            report.add(catalog.custom_op_severity, "custom_op",
                       f"{site.op or '(empty op name)'} is not a standard TensorFlow op: it needs a custom "
                       "kernel library to run", site.location, site.op, site.node)
    for note in notes:
        report.add(_NOTE_SEVERITY.get(note.kind, "medium"), note.kind, note.message, note.location)


def audit_graph_def(report: Report, graph: Any, where: tuple[str, ...], catalog: Catalog, *,
                    saver: Optional[dict[str, frozenset[str]]] = None, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    scanner = Scanner(max_depth=max_depth)
    scanner.scan_graph(graph, where, saver=saver)
    judge_sites(report, scanner.result.sites, scanner.result.notes, catalog)


def audit_meta_graph(report: Report, meta: Any, where: tuple[str, ...], catalog: Catalog,
                     max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Ops of one MetaGraphDef (saver subgraph from its SaverDef), its init op and assets."""
    saver = all_saver_tags(meta.graph_def, meta.saver_def) if meta.HasField("saver_def") else None
    audit_graph_def(report, meta.graph_def, where + ("graph",), catalog, saver=saver, max_depth=max_depth)
    loc = " > ".join(where)
    for name in INIT_OP_COLLECTIONS:
        if name in meta.collection_def:
            for op_name in meta.collection_def[name].node_list.value:
                report.add("info", "init_op", f"runs '{op_name}' when loaded (collection {name})", loc)
    if INIT_OP_SIGNATURE in meta.signature_def:
        for tensor in meta.signature_def[INIT_OP_SIGNATURE].outputs.values():
            report.add("info", "init_op", f"runs '{tensor.name}' when loaded (signature {INIT_OP_SIGNATURE})", loc)
    for asset in _asset_defs(meta, report.path):
        _judge_asset_name(report, asset.filename, asset.tensor_info.name, loc)
    if meta.HasField("object_graph_def"):
        for i, node in enumerate(meta.object_graph_def.nodes):
            if node.WhichOneof("kind") == "user_object" and node.user_object.metadata:
                _judge_keras_json(report, node.user_object.metadata, f"{loc} > object {i}")


def _asset_defs(meta: Any, path: str) -> list[Any]:
    from ..proto import AssetFileDef

    assets = list(meta.asset_file_def)
    if ASSETS_COLLECTION in meta.collection_def:
        for item in meta.collection_def[ASSETS_COLLECTION].any_list.value:
            asset = AssetFileDef()
            try:
                asset.ParseFromString(item.value)
            except Exception:
                raise FormatError(f"collection {ASSETS_COLLECTION} holds an entry that is not an AssetFileDef",
                                  path) from None
            assets.append(asset)
    return assets


def _escapes(name: str) -> bool:
    if not name or "\x00" in name or os.path.isabs(name) or name.startswith(("\\", "~")):
        return True
    parts = name.replace("\\", "/").split("/")
    return ".." in parts or (len(name) > 1 and name[1] == ":")


def _judge_asset_name(report: Report, filename: str, tensor: str, location: str) -> None:
    if _escapes(filename):
        report.add("high", "asset", f"asset path {filename!r} (fed to {tensor!r}) points outside the assets "
                   "folder; TensorFlow would read that file", location)
    else:
        report.add("info", "asset", f"asset file {filename!r} is fed to {tensor!r}", location)


# -- SavedModel folder extras ----------------------------------------------------------------------

def _audit_asset_folder(report: Report, folder: str) -> None:
    for sub in ("assets", "assets.extra"):
        root = os.path.join(folder, sub)
        if not os.path.isdir(root) or os.path.islink(root):
            if os.path.islink(root):
                report.add("high", "asset", f"{sub}/ is a symbolic link to {os.readlink(root)!r}", root)
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, folder)
                if os.path.islink(full):
                    report.add("high", "asset", f"{rel} is a symbolic link to {os.readlink(full)!r}; "
                               "loading the model reads whatever it points to", full)
                elif name in filenames:
                    report.add("info", "asset", f"asset file {rel} ({os.lstat(full).st_size} bytes)", full)


def _iter_wire(buf: bytes, path: str) -> Iterable[tuple[int, int, Any]]:
    """Yield ``(field, wire_type, value)`` of a protobuf message without a schema."""
    from ..table.layout import decode_varint

    pos, end = 0, len(buf)
    value: int | bytes
    while pos < end:
        key, pos = decode_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = decode_varint(buf, pos)
        elif wire == 2:
            length, pos = decode_varint(buf, pos)
            if pos + length > end:
                raise FormatError("length-delimited field runs past the end of the message", path, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise FormatError(f"unsupported wire type {wire}", path, pos)
        if pos > end:
            raise FormatError("field runs past the end of the message", path, pos)
        yield number, wire, value


def _audit_keras_metadata(report: Report, file: str) -> None:
    """``keras_metadata.pb`` (tf.keras SavedModels): JSON metadata of every layer."""
    with open(file, "rb") as f:
        data = f.read()
    try:
        for number, wire, value in _iter_wire(data, file):
            if number != 1 or wire != 2:
                continue
            node_path, metadata = "", b""
            for inner_number, inner_wire, inner in _iter_wire(value, file):
                if inner_number == 3 and inner_wire == 2:
                    node_path = inner.decode("utf-8", "replace")
                elif inner_number == 5 and inner_wire == 2:
                    metadata = inner
            if metadata:
                _judge_keras_json(report, metadata.decode("utf-8", "replace"), f"{file} > {node_path or 'node'}")
    except FormatError as exc:
        raise FormatError(f"keras metadata: {exc.detail}", file, exc.offset) from None


def _judge_keras_json(report: Report, text: str, location: str) -> None:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        report.add("low", "keras", "Keras metadata is not valid JSON", location)
        return
    for layer in _iter_layers(doc):
        name = layer.get("config", {}).get("name", "") if isinstance(layer.get("config"), dict) else ""
        report.add("high", "keras_lambda", f"Keras Lambda layer {name!r}: its Python code runs when Keras "
                   "loads the model", location)


def _iter_layers(doc: Any, depth: int = 0) -> Iterable[dict[str, Any]]:
    """Every dict in a Keras config whose class_name is Lambda (bounded depth)."""
    if depth > 64:
        return
    if isinstance(doc, dict):
        if doc.get("class_name") == "Lambda":
            yield doc
        for value in doc.values():
            yield from _iter_layers(value, depth + 1)
    elif isinstance(doc, list):
        for value in doc:
            yield from _iter_layers(value, depth + 1)


# -- checkpoints -------------------------------------------------------------------------------------

def audit_checkpoint(report: Report, path: PathLike, catalog: Catalog, *, location: str = "checkpoint",
                     max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Integrity (every tensor read with checksums), NaN/Inf values, graphs hidden in string tensors."""
    import numpy as np

    from ..checkpoint.loading import load_checkpoint
    from ..errors import TFFormatsError

    from ..checkpoint.loading import resolve_checkpoint

    text = os.fspath(path)
    _, prefix = resolve_checkpoint(text)
    folder = text if os.path.isdir(text) else os.path.dirname(text) if os.path.basename(text) == "checkpoint" else ""
    if folder and not _inside(prefix, folder):
        # The state file names a checkpoint elsewhere; auditing must not open paths a file names.
        report.add("high", "state_file", f"the checkpoint state file names {prefix!r}, outside {folder!r}; "
                   "not opened", location)
        return
    from ..checkpoint.verify import verify_checkpoint

    checked = verify_checkpoint(prefix)
    if not checked.readable:
        detail = "; ".join(p.message for p in checked.problems) or "unreadable"
        raise FormatError(f"checkpoint cannot be read: {detail}", prefix)
    damaged = set()
    for problem in checked.problems:
        damaged.add(problem.tensor)
        where = f"{location} > tensor '{problem.tensor}'" if problem.tensor else location
        report.add("high", "integrity", f"{problem.kind}: {problem.message}", where)
    for line in checked.diagnosis:
        report.add("info", "integrity", f"likely cause: {line}", location)
    scanner = Scanner(max_depth=max_depth)
    with load_checkpoint(prefix) as reader:
        infos = reader.tensor_infos()
        for name in sorted(infos):
            where = f"{location} > tensor '{name}'"
            try:
                value = reader.get_tensor(name)
            except (TFFormatsError, FileNotFoundError) as exc:
                if name not in damaged:
                    report.add("high", "integrity", f"tensor {name!r} cannot be read: {exc}", where)
                continue
            if value.dtype.kind in _FLOAT_KINDS or infos[name].dtype.name in ("bfloat16", "half") or \
                    infos[name].dtype.name.startswith("float8"):
                with np.errstate(invalid="ignore"):  # NaN of float8/float4 types warns when widened
                    as_float = value.astype(np.complex128 if value.dtype.kind == "c" else np.float64)
                nan = int(np.count_nonzero(np.isnan(as_float)))
                inf = int(np.count_nonzero(np.isinf(as_float)))
                if nan or inf:
                    report.add("low", "nan_inf", f"tensor {name!r} holds {nan} NaN and {inf} infinite values",
                               where)
            elif value.dtype == object:
                for i, item in enumerate(value.reshape(-1)):
                    if isinstance(item, bytes) and scanner.scan_blob(item, (where, f"element {i}"), 1):
                        report.add("medium", "embedded_graph", f"string tensor {name!r} element {i} holds a "
                                   "serialized graph", where)
    judge_sites(report, scanner.result.sites, [n for n in scanner.result.notes if n.kind != "embedded_graph"],
                catalog)


def _inside(path: str, folder: str) -> bool:
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(path)
    return real == real_folder or real.startswith(real_folder.rstrip(os.sep) + os.sep)


# -- the front door ------------------------------------------------------------------------------------

def _is_checkpoint(path: str) -> bool:
    from ..bundle import naming
    from ..checkpoint.loading import _is_table

    if os.path.exists(naming.index_path(path)) or os.path.basename(path) == "checkpoint":
        return True
    if naming.prefix_of(path) is not None:
        return True
    return os.path.isfile(path) and _is_table(path)


def audit_path(path: PathLike, *, catalog: Optional[Catalog] = None, max_depth: int = DEFAULT_MAX_DEPTH,
               check_variables: bool = True) -> Report:
    """Audit a GraphDef, .meta, SavedModel folder or checkpoint.

    Raises FormatError (or FileNotFoundError) when the file cannot be read at all.

    Example:
        >>> report = audit_path("exported/saved_model_dir")
        >>> [f.message for f in report.at_least("high")]
        []
    """
    from ..graphs.read import read_message

    catalog = catalog or default_catalog()
    text = os.fspath(path)
    try:
        if os.path.isdir(text) and not _has_saved_model(text):
            report = Report(text, "checkpoint", standard_ops_version=catalog.tf_version)
            audit_checkpoint(report, text, catalog, max_depth=max_depth)
            return report
        if not os.path.isdir(text) and _is_checkpoint(text):
            report = Report(text, "checkpoint", standard_ops_version=catalog.tf_version)
            audit_checkpoint(report, text, catalog, max_depth=max_depth)
            return report
        kind, message = read_message(text)
        report = Report(text, kind, standard_ops_version=catalog.tf_version)
        if kind == "graph":
            audit_graph_def(report, message, ("graph",), catalog, max_depth=max_depth)
        elif kind == "meta":
            audit_meta_graph(report, message, ("meta graph",), catalog, max_depth)
        else:
            for meta in message.meta_graphs:
                tags = ",".join(meta.meta_info_def.tags) or "no tags"
                audit_meta_graph(report, meta, (f"meta graph [{tags}]",), catalog, max_depth)
            # A SavedModel named by its folder or by its saved_model.pb: the folder holds the extras.
            folder = text if os.path.isdir(text) else os.path.dirname(text) or "."
            if _has_saved_model(folder):
                _audit_saved_model_folder(report, folder, catalog, max_depth, check_variables)
        return report
    except RecursionError:
        raise FormatError("structure nested too deeply to examine", text) from None


def _has_saved_model(folder: str) -> bool:
    return any(os.path.exists(os.path.join(folder, n)) for n in ("saved_model.pb", "saved_model.pbtxt",
                                                                  "saved_model.cpb"))


def _audit_saved_model_folder(report: Report, folder: str, catalog: Catalog, max_depth: int,
                              check_variables: bool) -> None:
    from ..errors import TFFormatsError

    _audit_asset_folder(report, folder)
    keras = os.path.join(folder, KERAS_METADATA)
    if os.path.islink(keras):
        report.add("high", "keras", f"{KERAS_METADATA} is a symbolic link to {os.readlink(keras)!r}; not opened",
                   keras)
    elif os.path.isfile(keras):
        _audit_keras_metadata(report, keras)
    prefix = os.path.join(folder, "variables", "variables")
    if check_variables and os.path.exists(prefix + ".index"):
        try:
            audit_checkpoint(report, prefix, catalog, location="variables", max_depth=max_depth)
        except (TFFormatsError, FileNotFoundError) as exc:
            report.add("high", "integrity", f"variables checkpoint cannot be read: {exc}", prefix)


__all__ = ["Finding", "Report", "audit_checkpoint", "audit_graph_def", "audit_meta_graph", "audit_path",
           "judge_sites"]
