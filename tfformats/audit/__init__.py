"""Audit untrusted TensorFlow files: what would this model do if TensorFlow loaded it, and when?

Walks GraphDefs, MetaGraphDefs, SavedModels and checkpoints without executing
or importing anything from them, lists every op (including those inside
functions and serialized graphs), finds when TensorFlow would run each one
(at load, when called, or never) and by which path, and grades risky ones by
severity. An allowlist (a shipped profile or a file) flags every other op.

Example:
    >>> from tfformats.audit import audit_path
    >>> report = audit_path("model.pb")
    >>> [(f.severity, f.when, f.message) for f in report.at_least("high")]
    []
"""

from __future__ import annotations

from .allow import Allowlist, load_allowlist, profile, profile_names
from .catalog import SEVERITIES, Catalog, default_catalog, severity_rank
from .front import audit_path
from .judge import Finding
from .program import OpSite, Program
from .report import SCHEMA_VERSION, Report

__all__ = ["Allowlist", "Catalog", "Finding", "OpSite", "Program", "Report", "SCHEMA_VERSION", "SEVERITIES",
           "audit_path", "default_catalog", "load_allowlist", "profile", "profile_names", "severity_rank"]
