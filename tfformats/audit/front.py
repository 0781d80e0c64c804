"""The audit's front door: decide what a path holds, audit it, return a :class:`Report`.

Nothing from the file is executed or imported, and no path it names is
opened. A folder that looks like a SavedModel (it has ``variables/`` or
``assets/``) but has no ``saved_model.pb`` / ``.pbtxt`` is refused: a model
whose graph was not read is never reported clean.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from .._io.source import StorageOptions, is_url, local_path
from ..errors import FormatError, ModelNotFoundError, PathLike
from .allow import Allowlist, load_allowlist
from .catalog import Catalog, default_catalog
from .checkpoint import audit_checkpoint
from .entries import EntryPoints, for_graph, for_meta
from .extras import KERAS_METADATA, audit_asset_folder, audit_keras_metadata, judge_asset_name
from .judge import Judge
from .program import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, Program
from .report import Report, site_key

_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt", "saved_model.cpb")


def _is_checkpoint(path: str) -> bool:
    from ..bundle import naming
    from ..checkpoint.loading import is_table_file

    if os.path.exists(naming.index_path(path)) or os.path.basename(path) == "checkpoint":
        return True
    if naming.prefix_of(path) is not None:
        return True
    return os.path.isfile(path) and is_table_file(path)


def _has_saved_model(folder: str) -> bool:
    return any(os.path.exists(os.path.join(folder, n)) for n in _SAVED_MODEL_FILES)


def audit_path(path: PathLike, *, catalog: Optional[Catalog] = None, max_depth: int = DEFAULT_MAX_DEPTH,
               check_variables: bool = True, allow: "str | os.PathLike[str] | Allowlist | None" = None,
               max_nodes: int = DEFAULT_MAX_NODES, storage_options: StorageOptions = None) -> Report:
    """Audit a GraphDef, .meta, SavedModel folder or checkpoint.

    ``allow`` (a profile name such as ``"inference"``, a file of op names, or an
    :class:`Allowlist`) also flags every op outside the list. Raises FormatError
    (or a FileNotFoundError) when the input cannot be read at all, and
    ModelNotFoundError for a SavedModel folder without its graph file.

    A URL (``s3://``, ``https://``, ...; ``storage_options`` go to fsspec) is copied to a temporary folder
    first, since an audit reads every byte of the model; the report names the URL.

    Example:
        >>> report = audit_path("exported/saved_model_dir")
        >>> [f.message for f in report.at_least("high")]
        []
    """
    from ..graphs.read import read_message

    if is_url(path):
        return _audit_url(os.fspath(path), storage_options, catalog=catalog, max_depth=max_depth,
                          check_variables=check_variables, allow=allow, max_nodes=max_nodes)
    path = local_path(path)

    catalog = catalog or default_catalog()
    allowlist = load_allowlist(allow) if allow is not None and not isinstance(allow, Allowlist) else allow
    text = os.fspath(path)
    try:
        if os.path.isdir(text) and not _has_saved_model(text):
            if any(os.path.isdir(os.path.join(text, sub)) for sub in ("variables", "assets")):
                raise ModelNotFoundError("looks like a SavedModel folder (it has variables/ or assets/) but holds "
                                         "no saved_model.pb or saved_model.pbtxt; its graph cannot be audited",
                                         text)
            report = Report(text, "checkpoint", standard_ops_version=catalog.tf_version)
            audit_checkpoint(report, text, catalog, max_depth=max_depth)
            return report
        if not os.path.isdir(text) and _is_checkpoint(text):
            report = Report(text, "checkpoint", standard_ops_version=catalog.tf_version)
            audit_checkpoint(report, text, catalog, max_depth=max_depth)
            return report
        kind, message = read_message(text)
        report = Report(text, kind, standard_ops_version=catalog.tf_version,
                        allowlist=allowlist.name if allowlist else "")
        program = Program(max_depth=max_depth, max_nodes=max_nodes)
        points = EntryPoints()
        if kind == "graph":
            gid = program.add_graph(message, ("graph",))
            _merge(points, for_graph(program, gid))
        elif kind == "meta":
            gid = program.add_graph(message.graph_def, ("meta graph", "graph"))
            _merge(points, for_meta(program, gid, message, saved_model=False))
            _describe_meta(report, message, ("meta graph",))
        else:
            for meta in message.meta_graphs:
                tags = ",".join(meta.meta_info_def.tags) or "no tags"
                where = (f"meta graph [{tags}]",)
                gid = program.add_graph(meta.graph_def, where + ("graph",))
                _merge(points, for_meta(program, gid, meta, saved_model=True))
                _describe_meta(report, meta, where)
        program.recursion_notes()
        _judge(report, program, points, catalog, allowlist)
        if kind == "saved_model":
            # A SavedModel named by its folder or by its saved_model.pb: the folder holds the extras.
            folder = text if os.path.isdir(text) else os.path.dirname(text) or "."
            if _has_saved_model(folder):
                _audit_saved_model_folder(report, folder, catalog, max_depth, check_variables)
        return report
    except RecursionError:
        raise FormatError("structure nested too deeply to examine", text) from None


def _audit_url(url: str, storage_options: StorageOptions, **options: Any) -> Report:
    """Audit a local copy of ``url``; every path in the report names the URL instead of the copy."""
    import dataclasses
    import tempfile

    from .._io import fs

    with tempfile.TemporaryDirectory(prefix="tfformats-audit-") as tmp:
        local = fs.download(url, tmp, storage_options=storage_options)
        report = audit_path(local, **options)

    def relocate(text: str) -> str:
        return text.replace(local, url.rstrip("/")).replace(tmp, fs.dirname(url))

    report.path = url
    report.findings[:] = [dataclasses.replace(f, message=relocate(f.message), location=relocate(f.location))
                          for f in report.findings]
    return report


def _merge(into: EntryPoints, more: EntryPoints) -> None:
    into.entries.extend(more.entries)
    into.savers.extend(more.savers)
    into.assets.update(more.assets)
    into.bound.update(more.bound)
    into.asset_names.extend(more.asset_names)


def _judge(report: Report, program: Program, points: EntryPoints, catalog: Catalog,
           allowlist: Optional[Allowlist]) -> None:
    judge = Judge(program, points, catalog, allow=allowlist.ops if allowlist else None,
                  allow_name=allowlist.name if allowlist else "")
    report.findings.extend(judge.findings())
    report.sites.extend(program.sites)
    for site in program.sites:
        report.site_when[site_key(site)] = judge.reach.when(site.vertex)[0]
    for entry in points.entries:
        report.entry_points.append({"label": entry.label, "when": entry.when, "loaders": list(entry.loaders),
                                    "roots": len(entry.roots)})


def _describe_meta(report: Report, meta: Any, where: tuple[str, ...]) -> None:
    """Signatures, asset references and Keras object metadata of one MetaGraphDef."""
    from .entries import ASSETS_COLLECTION, asset_defs
    from .extras import judge_keras_json

    loc = " > ".join(where)
    for key in sorted(meta.signature_def):
        sig = meta.signature_def[key]
        report.signatures.append({
            "meta_graph": loc, "name": key, "method": sig.method_name,
            "inputs": {k: v.name for k, v in sorted(sig.inputs.items())},
            "outputs": {k: v.name for k, v in sorted(sig.outputs.items())}})
    assets, broken = asset_defs(meta)
    if broken:
        raise FormatError(f"collection {ASSETS_COLLECTION} holds an entry that is not an AssetFileDef", report.path)
    for asset in assets:
        judge_asset_name(report, asset.filename, asset.tensor_info.name, loc)
    if meta.HasField("object_graph_def"):
        for i, node in enumerate(meta.object_graph_def.nodes):
            if node.WhichOneof("kind") == "user_object" and node.user_object.metadata:
                judge_keras_json(report, node.user_object.metadata, f"{loc} > object {i}")


def _audit_saved_model_folder(report: Report, folder: str, catalog: Catalog, max_depth: int,
                              check_variables: bool) -> None:
    from ..errors import TFFormatsError

    audit_asset_folder(report, folder)
    keras = os.path.join(folder, KERAS_METADATA)
    if os.path.islink(keras):
        report.add("high", "keras", f"{KERAS_METADATA} is a symbolic link to {os.readlink(keras)!r}; not opened",
                   keras)
    elif os.path.isfile(keras):
        audit_keras_metadata(report, keras)
    prefix = os.path.join(folder, "variables", "variables")
    if check_variables and os.path.exists(prefix + ".index"):
        try:
            audit_checkpoint(report, prefix, catalog, location="variables", max_depth=max_depth)
        except (TFFormatsError, FileNotFoundError) as exc:
            report.add("high", "integrity", f"variables checkpoint cannot be read: {exc}", prefix)


__all__ = ["audit_path"]
