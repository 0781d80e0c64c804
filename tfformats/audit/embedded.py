"""Recognise GraphDefs and FunctionDefs serialized into strings, also when trivially encoded.

A string holds a graph when it parses as a ``GraphDef`` (binary or text) or a
``FunctionDef`` whose names all follow TensorFlow's naming rule, so random
bytes that happen to parse are not taken for a graph. Before parsing, a
string that looks like base64, hex, zlib or gzip is decoded (once), since
public proofs of concept hide payload graphs that way.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from typing import Any, NamedTuple, Optional

# TensorFlow's rule for node and op names.
_NAME = re.compile(r"[A-Za-z0-9.>_][A-Za-z0-9_.\-/>]*\Z")
MIN_EMBEDDED = 8
_BASE64 = re.compile(rb"[A-Za-z0-9+/=_\-\s]+\Z")
_HEX = re.compile(rb"(?:[0-9a-fA-F]{2})+\Z")


class Embedded(NamedTuple):
    kind: str  # "GraphDef" or "FunctionDef"
    message: Any
    encoding: str  # "", "base64", "hex", "zlib", "gzip"


def plausible_graph(graph: Any) -> bool:
    """True if a parsed GraphDef looks like a real graph, not noise that happened to parse."""
    if not graph.node and not graph.library.function:
        return False
    return all(_NAME.match(n.name) and _NAME.match(n.op) for n in graph.node) and all(
        _plausible_function(f) for f in graph.library.function)


def _plausible_function(fn: Any) -> bool:
    return bool(_NAME.match(fn.signature.name)) and all(_NAME.match(n.op) for n in fn.node_def)


def _parse_plain(data: bytes) -> Optional[tuple[str, Any]]:
    from ..proto import FunctionDef, GraphDef, parse_text

    head = data.lstrip()[:16]
    if head.startswith((b"node", b"library", b"versions")):
        try:
            graph = parse_text(data.decode("utf-8"), GraphDef())
        except Exception:  # text_format errors, bad UTF-8, deep nesting
            return None
        return ("GraphDef", graph) if plausible_graph(graph) else None
    graph = GraphDef()
    try:
        graph.ParseFromString(data)
    except Exception:  # DecodeError and friends: not a GraphDef
        graph = None
    if graph is not None and plausible_graph(graph):
        return "GraphDef", graph
    fn = FunctionDef()
    try:
        fn.ParseFromString(data)
    except Exception:
        return None
    if fn.signature.name and fn.node_def and _plausible_function(fn):
        return "FunctionDef", fn
    return None


def decodings(data: bytes, limit: int) -> list[tuple[str, bytes]]:
    """Candidate decoded forms of ``data`` (at most ``limit`` bytes each), the plain form first."""
    out: list[tuple[str, bytes]] = [("", data)]
    stripped = data.strip()
    if len(stripped) >= 16 and _HEX.match(stripped):
        out.append(("hex", binascii.unhexlify(stripped)))
    elif len(stripped) >= 16 and _BASE64.match(stripped):
        compact = re.sub(rb"\s+", b"", stripped)
        for name, alt in (("base64", b"+/"), ("base64", b"-_")):
            try:
                out.append((name, base64.b64decode(compact + b"=" * (-len(compact) % 4), altchars=alt,
                                                   validate=True)))
                break
            except (binascii.Error, ValueError):
                continue
    if data[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda") or data[:2] == b"\x1f\x8b":
        kind = "gzip" if data[:2] == b"\x1f\x8b" else "zlib"
        try:
            inflater = zlib.decompressobj(47 if kind == "gzip" else 15)
            out.append((kind, inflater.decompress(data, max(limit, 0))))
        except zlib.error:
            pass
    return out


def parse_embedded(data: bytes, limit: int = 64 << 20) -> Optional[Embedded]:
    """The graph or function ``data`` holds, plain or trivially encoded, else None."""
    if len(data) < MIN_EMBEDDED:
        return None
    for encoding, candidate in decodings(data, limit):
        if len(candidate) < MIN_EMBEDDED:
            continue
        found = _parse_plain(candidate)
        if found is not None:
            return Embedded(found[0], found[1], encoding)
    return None


__all__ = ["Embedded", "MIN_EMBEDDED", "decodings", "parse_embedded", "plausible_graph"]
