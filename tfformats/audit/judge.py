"""Turn op sites into findings: which rule, how severe, when TensorFlow would run it, and by which paths.

The severity of a rule is refined by what the op's inputs and attributes say
(a constant path outside the model, the model's own asset, the checkpoint
saver's own file name) and by when the op would run: one step up when a
loader runs it (``load``); code of the model's own graph that nothing runs
(``never``) drops to low (medium when it names a suspicious path). Graphs
carried as data (serialized into strings or checkpoints) keep their rule's
severity, since whatever passes them to TensorFlow may be computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .catalog import SEVERITIES, Catalog, Rule, attr_value, severity_rank
from .entries import EntryPoints
from .program import Note, OpSite, Program, node_of
from .reach import Reach, walk
from .values import Origins, describe, escapes, path_concern, sensitive

SAVE_OPS = {"Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints"}
RESTORE_OPS = {"Restore", "RestoreV2", "RestoreSlice"}
_READ_CATEGORIES = {"file_read", "memory_mapping"}
_NOTE_SEVERITY = {"embedded_graph": "low", "recursion": "medium", "budget": "high", "depth_limit": "high"}
_PASS_TO_CONST = {"Identity", "Snapshot", "StopGradient"}


def rule_id(category: str) -> str:
    """The stable rule id of a finding category (``file_write`` -> ``TFA-file-write``)."""
    return f"TFA-{category.replace('_', '-')}"


@dataclass(frozen=True)
class Finding:
    severity: str
    category: str
    message: str
    location: str
    op: str = ""
    node: str = ""
    when: str = ""  # "load", "call", "never" ("" when not about code)
    loaders: tuple[str, ...] = ()
    via: tuple[tuple[str, ...], ...] = ()

    @property
    def rule_id(self) -> str:
        return rule_id(self.category)

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "severity": self.severity, "category": self.category,
                "message": self.message, "location": self.location, "op": self.op, "node": self.node,
                "when": self.when, "loaders": list(self.loaders), "via": [list(p) for p in self.via]}


def raise_one(severity: str) -> str:
    return SEVERITIES[min(severity_rank(severity) + 1, len(SEVERITIES) - 1)]


def at_least(severity: str, floor: str) -> str:
    return severity if severity_rank(severity) >= severity_rank(floor) else floor


@dataclass
class Verdict:
    """What the inputs and attributes of one site say."""

    severity: str
    category: str
    detail: str = ""
    concern: bool = False
    exempt: str = ""  # "saver" / "asset" / "memory": a structurally harmless use


class Judge:
    """Judges every site of one program against a catalogue, given its entry points."""

    def __init__(self, program: Program, points: EntryPoints, catalog: Catalog, *,
                 allow: Optional[frozenset[str]] = None, allow_name: str = "") -> None:
        self.program = program
        self.points = points
        self.catalog = catalog
        self.allow = allow
        self.allow_name = allow_name
        self.reach = Reach.of(program, points.entries)
        self.origins = Origins(program, assets=points.assets, bound=points.bound)
        self.save_side = walk(program, [e for e in points.entries if e.role == "save"])
        self.restore_side = walk(program, [e for e in points.entries if e.role == "restore"])
        self.elsewhere = walk(program, [e for e in points.entries if not e.role])
        self.filenames = {("feed",) + s.filename for s in points.savers}

    # -- one site --------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for site in self.program.sites:
            out.extend(self.site_findings(site))
        for note in self.program.notes:
            out.append(Finding(_NOTE_SEVERITY.get(note.kind, "medium"), note.kind, note.message, note.location))
        return out

    def site_findings(self, site: OpSite) -> list[Finding]:
        verdicts = [self.verdict(site, rule) for rule in self.catalog.rules_for(site)]
        if not site.call and not self.catalog.is_standard(site.op):
            verdicts.append(Verdict(self.catalog.custom_op_severity, "custom_op", self._custom_detail(site)))
        exempt = any(v.exempt for v in verdicts)
        if self.allow is not None and not site.call and site.op not in self.allow and not exempt:
            verdicts.append(Verdict("high", "not_allowed", f"{site.op} is not in the allowlist {self.allow_name}"))
        if not verdicts:
            return []
        when, loaders = self.reach.when(site.vertex)
        tail = f"node '{site.node}'" if site.vertex[0] != "n" else ""
        via = tuple(tuple(p) for p in self.reach.paths(site.vertex, tail))
        data = self.program.graphs[site.body[0]].data
        out = []
        for v in verdicts:
            severity = v.severity
            if severity != "info" and not v.exempt:
                if when == "load":
                    severity = raise_one(severity)
                elif when == "never" and not data:
                    severity = "medium" if v.concern and severity_rank(severity) >= severity_rank("medium") \
                        else min(severity, "low", key=severity_rank)
            out.append(Finding(severity, v.category, v.detail, site.location, site.op, site.node, when,
                               tuple(loaders), via))
        return out

    def verdict(self, site: OpSite, rule: Rule) -> Verdict:
        message = f"{site.op}: {rule.description}"
        if site.op == "DatasetFromGraph":
            return self._dataset_from_graph(site, rule)
        values: list[str] = []
        for attr in rule.path_attrs:
            value = attr_value(site, attr)
            if value:
                values.extend(v.strip() for v in value.split(", ") if v.strip())
        leaves: frozenset[Any] = frozenset()
        node = self.program.nodedefs.get((site.body, site.node))
        if node is not None:
            for index in rule.path_inputs:
                leaves |= self.origins.of_input(site.body, node, index)
        severity, category = rule.severity, rule.category
        if rule.saver and self._saver_own(site, rule.saver, leaves):
            return Verdict("info", category, f"{message} (file name fed by the saver) [part of the checkpoint saver]",
                           exempt="saver")
        if leaves and all(leaf[0] == "asset" and not escapes(leaf[1]) for leaf in leaves):
            return Verdict("info", category, f"{message}: reads the model's own asset {describe(leaves)}",
                           exempt="asset")
        constants = [leaf[1] for leaf in leaves if leaf[0] in ("const", "asset")] + values
        if site.op in ("CacheDataset", "CacheDatasetV2") and leaves and all(
                leaf[0] == "const" and leaf[1] == "" for leaf in leaves):
            return Verdict("info", category, f"{message}: caches in memory (empty file name)", exempt="memory")
        concerns = [(c, path_concern(c)) for c in constants]
        concerns = [(c, why) for c, why in concerns if why]
        if site.op.startswith("Debug") and values:
            if any(v.lower().startswith("file://") for v in values):
                category, severity = "file_write", "critical"
            elif any("://" in v for v in values):
                category, severity = "network", "critical"
        if concerns:
            if category in _READ_CATEGORIES and any(sensitive(c) for c, _ in concerns):
                severity = at_least(severity, "critical")
            severity = at_least(severity, "high")
        parts = []
        if values:
            parts.append(", ".join(f"{a}={attr_value(site, a)!r}" for a in rule.path_attrs if attr_value(site, a)))
        if leaves:
            parts.append(f"file name from {describe(leaves)}")
        for c, why in concerns[:3]:
            parts.append(f"{c!r} is {why}")
        detail = f"{message} ({'; '.join(parts)})" if parts else message
        return Verdict(severity, category, detail, concern=bool(concerns))

    def _saver_own(self, site: OpSite, side: str, leaves: frozenset[Any]) -> bool:
        """A Save/Restore op belongs to the checkpoint saver only by structure, never by name."""
        if not self.filenames or not (leaves & self.filenames):
            return False
        if any(leaf[0] == "const" and path_concern(leaf[1]) for leaf in leaves):
            return False
        if any(leaf[0] == "computed" for leaf in leaves):
            return False
        vertex = site.vertex
        if side == "save":
            return vertex in self.save_side and vertex not in self.restore_side and vertex not in self.elsewhere
        return vertex in self.restore_side and vertex not in self.elsewhere

    def _dataset_from_graph(self, site: OpSite, rule: Rule) -> Verdict:
        node = self.program.nodedefs.get((site.body, site.node))
        source = _const_source(self.program, site.body, node) if node is not None else None
        if source is not None and (site.body, source) in self.program.blob_graphs:
            return Verdict(rule.severity, rule.category, f"DatasetFromGraph: runs the GraphDef serialized in "
                           f"constant '{source}' (its ops are audited with it)")
        leaves = self.origins.of_input(site.body, node, 0) if node is not None else frozenset()
        origin = describe(leaves) if leaves else "an unknown value"
        return Verdict("high", "runtime_graph", f"DatasetFromGraph runs a graph built at run time (from {origin}) "
                       "that nobody inspected", concern=True)

    def _custom_detail(self, site: OpSite) -> str:
        node = self.program.nodedefs.get((site.body, site.node))
        attrs = ", ".join(f"{k}={v!r}" for k, v in site.attrs)
        names = sorted(node.attr) if node is not None else []
        extra = f"; attributes: {attrs}" if attrs else (f"; attributes: {', '.join(names)}" if names else "")
        return (f"{site.op or '(empty op name)'} is not a TensorFlow op: running it loads a native kernel library "
                f"someone supplied{extra}")


def _const_source(program: Program, body: Any, node: Any) -> Optional[str]:
    """The Const node feeding input 0 of ``node`` directly or through Identity ops."""
    nodes = program.body_nodes(body)
    data = [i for i in node.input if not i.startswith("^")]
    name = node_of(data[0]) if data else ""
    for _ in range(16):
        src = nodes.get(name)
        if src is None:
            return None
        if src.op == "Const":
            return name
        if src.op not in _PASS_TO_CONST:
            return None
        inputs = [i for i in src.input if not i.startswith("^")]
        if not inputs:
            return None
        name = node_of(inputs[0])
    return None


__all__ = ["Finding", "Judge", "Note", "RESTORE_OPS", "SAVE_OPS", "at_least", "raise_one", "rule_id"]
