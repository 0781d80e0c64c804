"""Allowlists: the ops a model may use, as a profile built from the bundled op registry or a file.

A file holds one op name per line (``#`` starts a comment); a line
``profile NAME`` adds a profile's ops. The profiles live in ``profiles.json``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import ArgumentError, NotFoundError


@dataclass(frozen=True)
class Allowlist:
    name: str
    ops: frozenset[str]


@functools.lru_cache(maxsize=1)
def _profiles_doc() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("profiles.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def profile_names() -> list[str]:
    return sorted(_profiles_doc()["profiles"])


@functools.lru_cache(maxsize=None)
def profile(name: str) -> Allowlist:
    """The ops of a shipped profile (``inference``, ``tf-data``)."""
    from ..graphs.registry import standard_op_names
    from .catalog import default_catalog

    spec = _profiles_doc()["profiles"].get(name)
    if spec is None:
        raise ArgumentError(f"unknown allowlist profile {name!r}; profiles: {', '.join(profile_names())}")
    catalog = default_catalog()
    banned = {op for op, rules in catalog.rules.items()
              if any(r.category in spec["exclude_categories"] for r in rules)}
    exclude = [re.compile(p) for p in spec["exclude"]]
    include = [re.compile(p) for p in spec["include"]]
    ops = set()
    for op in standard_op_names():
        if op in banned:
            continue
        if any(p.fullmatch(op) for p in include) or not any(p.fullmatch(op) for p in exclude):
            ops.add(op)
    return Allowlist(name, frozenset(ops))


def load_allowlist(source: "str | os.PathLike[str]") -> Allowlist:
    """A profile name or a file of op names."""
    text = os.fspath(source)
    if text in _profiles_doc()["profiles"]:
        return profile(text)
    if not os.path.isfile(text):
        raise NotFoundError(f"no allowlist file or profile of that name (profiles: {', '.join(profile_names())})",
                            text)
    ops: set[str] = set()
    with open(text, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("profile "):
                ops |= profile(line.split(None, 1)[1].strip()).ops
            elif re.fullmatch(r"[A-Za-z0-9_.>\-]+", line):
                ops.add(line)
            else:
                raise ArgumentError(f"{text}:{number}: not an op name: {line[:60]!r}")
    return Allowlist(os.path.basename(text), frozenset(ops))


__all__ = ["Allowlist", "load_allowlist", "profile", "profile_names"]
