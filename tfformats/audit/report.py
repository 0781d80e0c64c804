"""The audit report: findings, op sites and what the model holds, as objects and as a versioned document.

The JSON document (:meth:`Report.to_dict`) is described by
``report.schema.json`` beside this module; ``SCHEMA_VERSION`` changes when a
field changes meaning or disappears (adding a field keeps it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from .catalog import SEVERITIES, severity_rank
from .judge import Finding
from .program import OpSite

SCHEMA_VERSION = 2


@dataclass
class Report:
    """What an audit found in one path."""

    path: str
    kind: str  # "graph", "meta", "saved_model" or "checkpoint"
    findings: list[Finding] = field(default_factory=list)
    sites: list[OpSite] = field(default_factory=list)
    site_when: dict[tuple[Any, ...], str] = field(default_factory=dict)  # site key -> when
    standard_ops_version: str = ""
    allowlist: str = ""
    signatures: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    variables: list[dict[str, Any]] = field(default_factory=list)
    entry_points: list[dict[str, Any]] = field(default_factory=list)

    def add(self, severity: str, category: str, message: str, location: str, op: str = "", node: str = "",
            when: str = "", loaders: tuple[str, ...] = ()) -> None:
        severity_rank(severity)
        self.findings.append(Finding(severity, category, message, location, op, node, when, loaders))

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

    def when_of(self, site: OpSite) -> str:
        return self.site_when.get(_key(site), "")

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(f.severity for f in self.findings)
        return {
            "schema_version": SCHEMA_VERSION,
            "path": self.path,
            "kind": self.kind,
            "max_severity": self.max_severity,
            "counts": {s: counts.get(s, 0) for s in SEVERITIES},
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "op_counts": self.op_counts(),
            "ops": [{"op": s.op, "node": s.node, "location": s.location, "when": self.when_of(s)}
                    for s in self.sites],
            "entry_points": self.entry_points,
            "signatures": self.signatures,
            "assets": self.assets,
            "variables": self.variables,
            "allowlist": self.allowlist,
            "standard_ops_from": f"TensorFlow {self.standard_ops_version}" if self.standard_ops_version else "",
        }


def _key(site: OpSite) -> tuple[Any, ...]:
    return (site.where, site.node)


def site_key(site: OpSite) -> tuple[Any, ...]:
    return _key(site)


def audit_path(*args: Any, **kwargs: Any) -> Report:
    """Audit a GraphDef, .meta, SavedModel folder or checkpoint (see :func:`tfformats.audit.front.audit_path`)."""
    from .front import audit_path as run

    return run(*args, **kwargs)


__all__ = ["Finding", "Report", "SCHEMA_VERSION", "audit_path", "site_key"]
