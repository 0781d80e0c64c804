"""Auditing a checkpoint: integrity, NaN/Inf values and graphs hidden in string tensors.

The integrity part is :func:`tfformats.checkpoint.verify.verify_checkpoint`'s
summarised result, so the work never depends on a count a header claims;
findings from it are capped at ``MAX_INTEGRITY_FINDINGS``.
"""

from __future__ import annotations

import os

from ..errors import FormatError, PathLike
from .catalog import Catalog
from .entries import EntryPoints
from .judge import Judge
from .program import DEFAULT_MAX_DEPTH, Program
from .report import Report

MAX_INTEGRITY_FINDINGS = 100
_FLOAT_KINDS = "fc"


def _inside(path: str, folder: str) -> bool:
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(path)
    return real == real_folder or real.startswith(real_folder.rstrip(os.sep) + os.sep)


def audit_checkpoint(report: Report, path: PathLike, catalog: Catalog, *, location: str = "checkpoint",
                     max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Integrity (every tensor read with checksums), NaN/Inf values, graphs hidden in string tensors."""
    import numpy as np

    from ..checkpoint.loading import load_checkpoint, resolve_checkpoint
    from ..checkpoint.verify import verify_checkpoint
    from ..errors import TFFormatsError

    text = os.fspath(path)
    _, prefix = resolve_checkpoint(text)
    folder = text if os.path.isdir(text) else os.path.dirname(text) if os.path.basename(text) == "checkpoint" else ""
    if folder and not _inside(prefix, folder):
        # The state file names a checkpoint elsewhere; auditing must not open paths a file names.
        report.add("high", "state_file", f"the checkpoint state file names {prefix!r}, outside {folder!r}; "
                   "not opened", location)
        return
    checked = verify_checkpoint(prefix)
    if not checked.readable:
        detail = "; ".join(p.message for p in checked.problems[:3]) or "unreadable"
        raise FormatError(f"checkpoint cannot be read: {detail}", prefix)
    damaged = set()
    for i, problem in enumerate(checked.problems):
        damaged.add(problem.tensor)
        if i < MAX_INTEGRITY_FINDINGS:
            where = f"{location} > tensor '{problem.tensor}'" if problem.tensor else location
            report.add("high", "integrity", f"{problem.kind}: {problem.message}", where)
    if len(checked.problems) > MAX_INTEGRITY_FINDINGS:
        report.add("high", "integrity", f"{len(checked.problems) - MAX_INTEGRITY_FINDINGS} more integrity problems "
                   "not listed", location)
    for line in checked.diagnosis:
        report.add("info", "integrity", f"likely cause: {line}", location)
    program = Program(max_depth=max_depth)
    with load_checkpoint(prefix) as reader:
        infos = reader.tensor_infos()
        for name in sorted(infos):
            info = infos[name]
            report.variables.append({"name": name, "dtype": info.dtype.name, "shape": list(info.shape)})
            where = f"{location} > tensor '{name}'"
            if name in damaged:
                continue
            try:
                value = reader.get_tensor(name)
            except (TFFormatsError, FileNotFoundError) as exc:
                report.add("high", "integrity", f"tensor {name!r} cannot be read: {exc}", where)
                continue
            if value.dtype.kind in _FLOAT_KINDS or info.dtype.name in ("bfloat16", "half") or \
                    info.dtype.name.startswith("float8"):
                with np.errstate(invalid="ignore"):  # NaN of float8/float4 types warns when widened
                    as_float = value.astype(np.complex128 if value.dtype.kind == "c" else np.float64)
                nan = int(np.count_nonzero(np.isnan(as_float)))
                inf = int(np.count_nonzero(np.isinf(as_float)))
                if nan or inf:
                    report.add("low", "nan_inf", f"tensor {name!r} holds {nan} NaN and {inf} infinite values",
                               where)
            elif value.dtype == object:
                for i, item in enumerate(value.reshape(-1)):
                    if isinstance(item, bytes) and program.add_blob(item, (where, f"element {i}"), 1) is not None:
                        report.add("medium", "embedded_graph_data", f"string tensor {name!r} element {i} holds a "
                                   "serialized graph", where)
    program.notes = [n for n in program.notes if n.kind != "embedded_graph"]
    judge = Judge(program, EntryPoints(), catalog)
    report.sites.extend(program.sites)
    report.findings.extend(judge.findings())


__all__ = ["MAX_INTEGRITY_FINDINGS", "audit_checkpoint"]
