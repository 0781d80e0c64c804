"""The report as SARIF 2.1.0, the format GitHub code scanning and other CI tools read.

One result per finding. Its physical location is the file the finding is in
(the graph file of a SavedModel for op findings), its logical location the
node path inside the file. Rule ids (``TFA-<category>``) come from the
finding categories and stay the same across versions.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from .catalog import default_catalog
from .judge import rule_id
from .report import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "2.0", "info": "0.0"}


def _uri(path: str) -> str:
    text = path.replace(os.sep, "/")
    if os.path.isabs(path):
        return "file://" + urllib.parse.quote(text)
    return urllib.parse.quote(text)


def _graph_file(report: Report) -> str:
    """The file op findings are in: the report's path, or the SavedModel's graph file in its folder."""
    if report.kind == "saved_model" and os.path.isdir(report.path):
        for name in ("saved_model.pb", "saved_model.pbtxt", "saved_model.cpb"):
            candidate = os.path.join(report.path, name)
            if os.path.exists(candidate):
                return candidate
    return report.path


def to_sarif(report: Report) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run and one result per finding."""
    from .. import __version__

    catalog = default_catalog()
    categories = sorted(set(catalog.descriptions) | {f.category for f in report.findings})
    rules = []
    for category in categories:
        text = catalog.descriptions.get(category, category.replace("_", " "))
        rules.append({"id": rule_id(category), "name": category,
                      "shortDescription": {"text": text[:1].upper() + text[1:]},
                      "fullDescription": {"text": f"{category}: {text}"},
                      "help": {"text": "See docs/audit.md of tfformats for what this rule checks and when it runs."},
                      "properties": {"tags": ["security", "tensorflow"]}})
    index = {r["id"]: i for i, r in enumerate(rules)}
    graph_file = _graph_file(report)
    results = []
    for f in report.sorted_findings():
        in_graph = bool(f.op) and f.category not in ("keras_lambda",)
        file = graph_file if in_graph else (f.location if os.path.exists(f.location) else report.path)
        result: dict[str, Any] = {
            "ruleId": f.rule_id, "ruleIndex": index[f.rule_id], "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(file)}},
                           "logicalLocations": [{"fullyQualifiedName": f.location, "kind": "member"}]}],
            "partialFingerprints": {"tfformatsLocation/v1": f"{f.rule_id}:{f.location}"},
            "properties": {"severity": f.severity, "security-severity": _SCORE[f.severity], "when": f.when,
                           "loaders": list(f.loaders), "via": [" > ".join(p) for p in f.via], "op": f.op,
                           "node": f.node},
        }
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "tfformats audit", "version": __version__, "semanticVersion": __version__,
                                "rules": rules}},
            "artifacts": [{"location": {"uri": _uri(p)}} for p in sorted({report.path, graph_file})],
            "results": results,
            "properties": {"kind": report.kind, "max_severity": report.max_severity,
                           "allowlist": report.allowlist},
        }],
    }


__all__ = ["SARIF_SCHEMA", "rule_id", "to_sarif"]
