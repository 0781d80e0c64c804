"""Which entry points reach each vertex, and by which paths.

One breadth-first walk per loader and one for calls; each vertex keeps up to
``keep`` parents, so the work is linear in the number of edges and every site
gets a few distinct paths from an entry point to it (``via``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .entries import LOADERS, Entry
from .program import Program, Vertex

Parent = tuple[Optional[Vertex], str]  # (parent vertex or None for an entry, entry label)
_KEEP = 4
_MAX_HOPS = 256


def walk(program: Program, entries: Iterable[Entry], keep: int = _KEEP) -> dict[Vertex, list[Parent]]:
    """Breadth-first walk from the roots of ``entries``; vertex -> up to ``keep`` parents."""
    parents: dict[Vertex, list[Parent]] = {}
    entries = list(entries)
    for group in ([e for e in entries if not e.secondary], [e for e in entries if e.secondary]):
        queue: deque[Vertex] = deque()
        for entry in group:
            for root in entry.roots:
                known = parents.get(root)
                if known is None:
                    parents[root] = [(None, entry.label)]
                    queue.append(root)
                elif len(known) < keep and not group[0].secondary:
                    known.append((None, entry.label))
        _spread(program, parents, queue, keep)
    return parents


def _spread(program: Program, parents: dict[Vertex, list[Parent]], queue: deque[Vertex], keep: int) -> None:
    while queue:
        vertex = queue.popleft()
        for target in program.edges.get(vertex, ()):
            known = parents.get(target)
            if known is None:
                parents[target] = [(vertex, "")]
                queue.append(target)
            elif len(known) < keep and all(p[0] != vertex for p in known):
                known.append((vertex, ""))


@dataclass
class Reach:
    program: Program
    passes: dict[str, dict[Vertex, list[Parent]]] = field(default_factory=dict)

    @classmethod
    def of(cls, program: Program, entries: list[Entry]) -> "Reach":
        reach = cls(program)
        for loader in LOADERS:
            chosen = [e for e in entries if e.when == "load" and loader in e.loaders]
            if chosen:
                reach.passes[loader] = walk(program, chosen)
        reach.passes["call"] = walk(program, [e for e in entries if e.when == "call"])
        return reach

    def when(self, vertex: Vertex) -> tuple[str, list[str]]:
        loaders = [name for name in LOADERS if vertex in self.passes.get(name, {})]
        if loaders:
            return "load", loaders
        if vertex in self.passes["call"]:
            return "call", []
        return "never", []

    def paths(self, vertex: Vertex, tail: str = "", limit: int = 8) -> list[list[str]]:
        """Distinct paths (entry label first) from the entries that decide ``when`` to ``vertex``."""
        when, loaders = self.when(vertex)
        names = loaders if when == "load" else ["call"] if when == "call" else []
        out: list[list[str]] = []
        for name in names:
            parents = self.passes[name]
            for first in parents.get(vertex, [])[:_KEEP]:
                path = self._chain(parents, vertex, first)
                if tail:
                    path.append(tail)
                if path not in out:
                    out.append(path)
                if len(out) >= limit:
                    return out
        return out

    def _chain(self, parents: dict[Vertex, list[Parent]], vertex: Vertex, first: Parent) -> list[str]:
        hops = [vertex]
        parent = first
        label = "(path shortened)"
        for _ in range(_MAX_HOPS):
            up, entry = parent
            if up is None:
                label = entry
                break
            hops.append(up)
            parent = parents[up][0]
        hops.reverse()
        out = [label] if label else []
        for i, hop in enumerate(hops):
            following = hops[i + 1] if i + 1 < len(hops) else None
            # Keep a top-level node only where the path leaves the top level or ends.
            if hop[0] == "n" and following is not None and following[0] == "n" and i > 0:
                continue
            out.append(self.program.label(hop))
        return out


__all__ = ["Reach", "walk"]
