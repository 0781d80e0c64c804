"""The op catalogue: categories of risky ops (``ops.json``) and the standard op list.

``ops.json`` ships inside the package; the standard ops are those of the
bundled TensorFlow op registry (:mod:`tfformats.graphs.registry`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional

from .program import OpSite

SEVERITIES = ("info", "low", "medium", "high", "critical")
_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in ``info < low < medium < high < critical``."""
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}") from None


@functools.lru_cache(maxsize=4096)
def attr_default(op: str, attr: str) -> Optional[str]:
    """The registry's default for a string attribute (TensorFlow leaves defaults out of saved graphs)."""
    from ..graphs.registry import op_def

    definition = op_def(op)
    if definition is None:
        return None
    for a in definition.attr:
        if a.name == attr and a.HasField("default_value") and a.default_value.WhichOneof("value") == "s":
            return str(a.default_value.s.decode("utf-8", "backslashreplace"))
    return None


def attr_value(site: OpSite, attr: str) -> Optional[str]:
    """A string attribute of a site, or its registry default when the graph leaves it out."""
    value = site.attr(attr)
    return value if value is not None else attr_default(site.op, attr)


@dataclass(frozen=True)
class Rule:
    """How one op is judged in one category."""

    category: str
    severity: str
    description: str
    saver: Optional[str]  # "save" / "restore": info when the node is on that side of the saver
    when_attr: tuple[tuple[str, re.Pattern[str]], ...]
    note: str
    path_inputs: tuple[int, ...] = ()  # inputs holding the file name or URL the op uses
    path_attrs: tuple[str, ...] = ()  # attributes holding it

    def applies(self, site: OpSite) -> bool:
        for attr, pattern in self.when_attr:
            value = attr_value(site, attr)
            if value is None or not pattern.search(value):
                return False
        return True


@dataclass(frozen=True)
class Catalog:
    rules: dict[str, tuple[Rule, ...]]  # op name -> rules
    standard_ops: frozenset[str]
    custom_op_severity: str
    tf_version: str
    descriptions: dict[str, str]  # category -> what it means (op categories and the others)

    def rules_for(self, site: OpSite) -> list[Rule]:
        return [r for r in self.rules.get(site.op, ()) if r.applies(site)]

    def is_standard(self, op: str) -> bool:
        return op in self.standard_ops


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def build_catalog(doc: dict[str, Any], standard: frozenset[str], version: str) -> Catalog:
    rules: dict[str, list[Rule]] = {}
    for cat_name, category in doc["categories"].items():
        default = category["severity"]
        severity_rank(default)
        for op, entry in category["ops"].items():
            severity = entry.get("severity", default)
            severity_rank(severity)
            when = tuple((k, re.compile(v)) for k, v in sorted(entry.get("when_attr", {}).items()))
            rules.setdefault(op, []).append(Rule(cat_name, severity, category["description"], entry.get("saver"),
                                                 when, entry.get("note", ""), tuple(entry.get("path_inputs", ())),
                                                 tuple(entry.get("path_attrs", ()))))
    descriptions = {name: c["description"] for name, c in doc["categories"].items()}
    descriptions.update(doc.get("other_findings", {}))
    severity_rank(doc.get("custom_op_severity", "high"))
    return Catalog({k: tuple(v) for k, v in rules.items()}, standard, doc.get("custom_op_severity", "high"),
                   version, descriptions)


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalogue shipped with tfformats."""
    from ..graphs.registry import registry_version, standard_op_names

    return build_catalog(json.loads(_read("ops.json")), standard_op_names(), registry_version())


__all__ = ["Catalog", "Rule", "attr_default", "attr_value", "SEVERITIES", "build_catalog", "default_catalog", "severity_rank"]
