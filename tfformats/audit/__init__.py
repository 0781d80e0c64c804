"""Audit untrusted TensorFlow files: what would this model do if TensorFlow loaded it?

Walks GraphDefs, MetaGraphDefs, SavedModels and checkpoints without executing
or importing anything from them, lists every op (including those inside
functions and serialized graphs) and grades risky ones by severity.

Example:
    >>> from tfformats.audit import audit_path
    >>> report = audit_path("model.pb")
    >>> [(f.severity, f.message) for f in report.at_least("high")]
    []
"""

from __future__ import annotations

from .catalog import SEVERITIES, Catalog, default_catalog, severity_rank
from .report import Finding, Report, audit_path
from .scan import OpSite, Scanner

__all__ = ["Catalog", "Finding", "OpSite", "Report", "SEVERITIES", "Scanner", "audit_path", "default_catalog",
           "severity_rank"]
