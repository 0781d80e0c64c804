"""Choosing and renaming tensors: the patterns, renames and collision checks ``edit`` and ``convert`` share."""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

from ..errors import ArgumentError

Rename = tuple[str, str]


def compile_patterns(patterns: Sequence[str], what: str) -> list[re.Pattern[str]]:
    """Compile regular expressions given for option ``what`` (``only``, ``keep``, ``drop``)."""
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise ArgumentError(f"{what} pattern {p!r} is not a valid regular expression: {exc}") from None
    return out


def matches_any(name: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(p.search(name) for p in patterns)


def select(names: Iterable[str], *, keep: Sequence[str] = (), drop: Sequence[str] = (),
           keep_option: str = "keep") -> list[str]:
    """Names that match a ``keep`` pattern (all when none is given) and no ``drop`` pattern (``re.search``)."""
    keep_res, drop_res = compile_patterns(keep, keep_option), compile_patterns(drop, "drop")
    return [n for n in names if (not keep_res or matches_any(n, keep_res)) and not matches_any(n, drop_res)]


def parse_rename(text: str) -> Rename:
    """``PATTERN=REPLACEMENT`` split at the first ``=``; the pattern is checked here."""
    if "=" not in text:
        raise ArgumentError(f"rename {text!r} needs the form PATTERN=REPLACEMENT")
    pattern, replacement = text.split("=", 1)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ArgumentError(f"rename pattern {pattern!r} is not a valid regular expression: {exc}") from None
    return pattern, replacement


def compile_renames(rename: Sequence[Rename | str]) -> list[tuple[re.Pattern[str], str]]:
    rules = [parse_rename(r) if isinstance(r, str) else r for r in rename]
    out = []
    for pattern, repl in rules:
        try:
            compiled = re.compile(pattern)
            compiled.sub(repl, "")  # parses the replacement: a bad group reference fails here, not mid-way
        except re.error as exc:
            raise ArgumentError(f"rename {pattern!r}={repl!r} is not valid: {exc}") from None
        out.append((compiled, repl))
    return out


def apply_renames(name: str, rules: Sequence[tuple[re.Pattern[str], str]]) -> str:
    """``name`` after every rule in order (``re.sub``); a replacement that cannot apply is an ArgumentError."""
    new = name
    for pattern, repl in rules:
        try:
            new = pattern.sub(repl, new)
        except (re.error, IndexError) as exc:
            raise ArgumentError(f"rename {pattern.pattern!r}={repl!r} fails on {name!r}: {exc}") from None
    if not new:
        raise ArgumentError(f"renaming {name!r} gives an empty name")
    return new


def rename_all(names: Iterable[str], rename: Sequence[Rename | str], *, start: Mapping[str, str] | None = None,
               reserved: Iterable[str] = ()) -> dict[str, str]:
    """Old name -> new name for every name, refusing two names that end up the same or a reserved one.

    ``start`` gives a name to begin from instead of the old one (re-keying done before the renames).
    """
    rules = compile_renames(rename)
    forbidden = set(reserved)
    final: dict[str, str] = {}
    taken: dict[str, str] = {}
    for n in names:
        new = apply_renames((start or {}).get(n, n), rules)
        if new in forbidden:
            raise ArgumentError(f"renaming {n!r} to {new!r} collides with a reserved name")
        if new in taken:
            raise ArgumentError(f"renaming makes {taken[new]!r} and {n!r} both {new!r}")
        taken[new] = n
        final[n] = new
    return final
