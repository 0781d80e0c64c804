"""Find every op a graph would run, wherever it hides.

The walk covers the nodes of a GraphDef, the functions of its library (in
the order callers reach them, so each op is reported with the chain of calls
leading to it), functions named in attributes, and GraphDefs or FunctionDefs
serialized into string attributes or string constants (``DatasetFromGraph``
takes its graph that way). Nested graphs are walked recursively. Every
function body is expanded once per saver context, recursion is detected, and
nesting deeper than ``max_depth`` stops the walk with a note, so the scan ends
on any input.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

# TensorFlow's rule for node and op names; used to tell a real serialized
# graph from bytes that happen to parse as one.
_NAME = re.compile(r"[A-Za-z0-9.>_][A-Za-z0-9_.\-/>]*\Z")
# The conventional scope of a TF1 saver in a bare GraphDef: save/, save_1/, model/save/ ...
SAVER_SCOPE = re.compile(r"(?:.*/)?save(?:_\d+)?/")

DEFAULT_MAX_DEPTH = 32
# Strings shorter than this cannot hold a useful graph; longer ones than the
# budget are not parsed (the budget bounds the total work on one file).
_MIN_EMBEDDED = 8
DEFAULT_PARSE_BUDGET = 256 << 20
_MAX_DETAIL = 200

SaverTags = frozenset[str]
_NO_TAGS: SaverTags = frozenset()


@dataclass(frozen=True)
class OpSite:
    """One node and where it was found."""

    op: str
    node: str
    where: tuple[str, ...]  # containers from the outside in: graph, function, serialized graph ...
    saver: SaverTags = _NO_TAGS  # "save" / "restore" when inside the saver subgraph
    attrs: tuple[tuple[str, str], ...] = ()  # string attributes (shortened)
    const_inputs: tuple[str, ...] = ()  # string values of Const nodes feeding this node
    call: bool = False  # the op names a function of the library (a call, not a kernel)

    @property
    def location(self) -> str:
        return " > ".join(self.where + (f"node '{self.node}'",))

    def attr(self, name: str) -> Optional[str]:
        for key, value in self.attrs:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Note:
    """Something about the structure of the graph worth reporting (not an op)."""

    kind: str  # "embedded_graph", "recursion", "depth_limit", "missing_function", "budget"
    message: str
    where: tuple[str, ...]

    @property
    def location(self) -> str:
        return " > ".join(self.where)


@dataclass
class ScanResult:
    sites: list[OpSite] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def extend(self, other: "ScanResult") -> None:
        self.sites.extend(other.sites)
        self.notes.extend(other.notes)


_BINARY = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _short(value: bytes | str) -> str:
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    if _BINARY.search(text):
        return f"<{len(value)} bytes of binary data>"
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def _node_of(input_name: str) -> str:
    """``^a`` / ``a:1`` / ``a:out:0`` -> ``a``."""
    return input_name.lstrip("^").split(":", 1)[0]


def plausible_graph(graph: Any) -> bool:
    """True if a parsed GraphDef looks like a real graph, not noise that happened to parse."""
    if not graph.node and not graph.library.function:
        return False
    return all(_NAME.match(n.name) and _NAME.match(n.op) for n in graph.node) and all(
        _plausible_function(f) for f in graph.library.function)


def _plausible_function(fn: Any) -> bool:
    return bool(_NAME.match(fn.signature.name)) and all(_NAME.match(n.op) for n in fn.node_def)


def parse_embedded(data: bytes) -> tuple[str, Any] | None:
    """Return ``("GraphDef" | "FunctionDef", message)`` if ``data`` is a serialized graph or function."""
    from ..proto import FunctionDef, GraphDef, parse_text

    if len(data) < _MIN_EMBEDDED:
        return None
    head = data.lstrip()[:16]
    if head.startswith((b"node", b"library", b"versions")):
        try:
            graph = parse_text(data.decode("utf-8"), GraphDef())
        except Exception:  # text_format errors, bad UTF-8, deep nesting
            graph = None
        if graph is not None and plausible_graph(graph):
            return "GraphDef", graph
        return None
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


class Scanner:
    """Walks graphs; collects op sites and structural notes in ``result``.

    Args:
        max_depth: deepest nesting of function calls and serialized graphs followed.
        parse_budget: total bytes of strings tried as serialized graphs.
    """

    def __init__(self, *, max_depth: int = DEFAULT_MAX_DEPTH, parse_budget: int = DEFAULT_PARSE_BUDGET) -> None:
        self.max_depth = max_depth
        self.parse_budget = parse_budget
        self.result = ScanResult()
        self._seen_blobs: set[bytes] = set()
        self._budget_noted = False

    # -- graphs ---------------------------------------------------------------------

    def scan_graph(self, graph: Any, where: tuple[str, ...], *,
                   saver: Optional[dict[str, SaverTags]] = None, depth: int = 0) -> None:
        """Walk a GraphDef: its nodes, the functions they reach, then unreached library functions.

        ``saver`` maps node names to saver tags; None means "use the conventional save/ scope".
        """
        library = {f.signature.name: f for f in graph.library.function}
        tags = saver if saver is not None else conventional_saver_tags(graph)
        expanded: set[tuple[str, SaverTags]] = set()
        self._scan_nodes(graph.node, where, library, expanded, (), depth, tags)
        for name in library:
            if not any(done == name for done, _ in expanded):
                self._enter_function(name, where + ("library",), library, expanded, (), depth, _NO_TAGS)

    def scan_function_def(self, fn: Any, where: tuple[str, ...], depth: int = 0) -> None:
        """Walk a lone FunctionDef (one found serialized in a string)."""
        library = {fn.signature.name: fn}
        self._enter_function(fn.signature.name, where, library, set(), (), depth, _NO_TAGS)

    def _scan_nodes(self, nodes: Iterable[Any], where: tuple[str, ...], library: dict[str, Any],
                    expanded: set[tuple[str, SaverTags]], stack: tuple[str, ...], depth: int,
                    tags: dict[str, SaverTags] | SaverTags) -> None:
        nodes = list(nodes)
        by_name = {n.name: n for n in nodes}
        for node in nodes:
            node_tags = tags.get(node.name, _NO_TAGS) if isinstance(tags, dict) else tags
            self.result.sites.append(OpSite(node.op, node.name, where, node_tags, _string_attrs(node),
                                            _const_inputs(node, by_name), node.op in library))
            here = where + (f"node '{node.name}'",)
            for callee in _called_functions(node, library):
                self._enter_function(callee, here, library, expanded, stack, depth + 1, node_tags)
            for attr_name, blob in _string_blobs(node):
                self.scan_blob(blob, here + (f"attr '{attr_name}'",), depth + 1)

    def _enter_function(self, name: str, where: tuple[str, ...], library: dict[str, Any],
                        expanded: set[tuple[str, SaverTags]], stack: tuple[str, ...], depth: int,
                        tags: SaverTags) -> None:
        fn = library.get(name)
        if fn is None:
            return
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            self.result.notes.append(Note("recursion", f"function '{name}' calls itself ({cycle})", where))
            return
        if (name, tags) in expanded:
            return
        if depth > self.max_depth:
            self.result.notes.append(Note("depth_limit", f"nesting deeper than {self.max_depth} levels; "
                                          f"function '{name}' was not examined", where))
            return
        expanded.add((name, tags))
        self._scan_nodes(fn.node_def, where + (f"function '{name}'",), library, expanded, stack + (name,),
                         depth, tags)

    # -- serialized graphs in strings -----------------------------------------------------

    def scan_blob(self, blob: bytes, where: tuple[str, ...], depth: int) -> bool:
        """Walk ``blob`` if it is a serialized GraphDef or FunctionDef; return True if it was one."""
        if len(blob) < _MIN_EMBEDDED:
            return False
        digest = hashlib.sha1(blob).digest()
        if digest in self._seen_blobs:
            return False
        self._seen_blobs.add(digest)
        if len(blob) > self.parse_budget:
            if not self._budget_noted:
                self._budget_noted = True
                self.result.notes.append(Note("budget", "stopped looking for serialized graphs in strings: "
                                              "the parse budget is spent", where))
            return False
        self.parse_budget -= len(blob)
        found = parse_embedded(blob)
        if found is None:
            return False
        kind, message = found
        if depth > self.max_depth:
            self.result.notes.append(Note("depth_limit", f"serialized {kind} nested deeper than "
                                          f"{self.max_depth} levels was not examined", where))
            return True
        self.result.notes.append(Note("embedded_graph", f"holds a serialized {kind} ({len(blob)} bytes)", where))
        inner = where + (f"serialized {kind}",)
        if kind == "GraphDef":
            # A graph carried as data has no saver: its Save/Restore ops are never exempt.
            self.scan_graph(message, inner, saver={}, depth=depth)
        else:
            self.scan_function_def(message, inner, depth)
        return True


# -- node helpers -----------------------------------------------------------------------

def _called_functions(node: Any, library: dict[str, Any]) -> list[str]:
    """Functions a node calls: by op name, or through ``func`` attributes."""
    out = [node.op] if node.op in library else []
    for key in sorted(node.attr):
        value = node.attr[key]
        kind = value.WhichOneof("value")
        if kind == "func":
            out.append(value.func.name)
            out.extend(_nested_funcs(value.func))
        elif kind == "list":
            for f in value.list.func:
                out.append(f.name)
                out.extend(_nested_funcs(f))
    return out


def _nested_funcs(func: Any) -> list[str]:
    """Function names inside the attrs of a NameAttrList (e.g. a function passed to a function)."""
    out = []
    for key in sorted(func.attr):
        value = func.attr[key]
        kind = value.WhichOneof("value")
        if kind == "func":
            out.append(value.func.name)
        elif kind == "list":
            out.extend(f.name for f in value.list.func)
    return out


def _string_blobs(node: Any) -> list[tuple[str, bytes]]:
    """Every string carried in a node's attributes (plain, listed, or inside tensors)."""
    out: list[tuple[str, bytes]] = []
    for key in sorted(node.attr):
        value = node.attr[key]
        kind = value.WhichOneof("value")
        if kind == "s":
            out.append((key, value.s))
        elif kind == "tensor":
            out.extend((key, s) for s in value.tensor.string_val)
        elif kind == "list":
            out.extend((key, s) for s in value.list.s)
            for t in value.list.tensor:
                out.extend((key, s) for s in t.string_val)
    return out


def _string_attrs(node: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for key in sorted(node.attr):
        value = node.attr[key]
        kind = value.WhichOneof("value")
        if kind == "s":
            out.append((key, _short(value.s)))
        elif kind == "list" and value.list.s:
            out.append((key, ", ".join(_short(s) for s in value.list.s[:8])))
    return tuple(out)


def _const_inputs(node: Any, by_name: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for name in node.input:
        if name.startswith("^"):
            continue
        src = by_name.get(_node_of(name))
        if src is None or src.op != "Const" or "value" not in src.attr:
            continue
        out.extend(_short(s) for s in src.attr["value"].tensor.string_val[:4])
    return tuple(out)


# -- the saver subgraph ---------------------------------------------------------------------

def conventional_saver_tags(graph: Any) -> dict[str, SaverTags]:
    """In a bare GraphDef, nodes under a ``save/`` scope belong to the saver (both sides)."""
    both: SaverTags = frozenset(("save", "restore"))
    return {n.name: both for n in graph.node if SAVER_SCOPE.match(n.name)}


def saver_tags(graph: Any, saver_def: Any) -> dict[str, SaverTags]:
    """Tag the nodes the SaverDef's save tensor and restore op depend on."""
    nodes = {n.name: n for n in graph.node}
    tags: dict[str, set[str]] = {}
    for side, start in (("save", saver_def.save_tensor_name), ("restore", saver_def.restore_op_name)):
        if not start:
            continue
        todo = [_node_of(start)]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in nodes:
                continue
            seen.add(name)
            tags.setdefault(name, set()).add(side)
            todo.extend(_node_of(i) for i in nodes[name].input)
    return {k: frozenset(v) for k, v in tags.items()}


def all_saver_tags(graph: Any, saver_def: Any) -> dict[str, SaverTags]:
    """Saver tags of the SaverDef's saver and of every other TF1 saver the graph holds.

    Each ``tf.compat.v1.train.Saver`` adds its own ``save*/`` subgraph, but a
    MetaGraphDef records only one SaverDef (``simple_save`` after a training
    Saver leaves ``save/`` unrecorded next to the recorded ``save_1/``). A scope
    counts as a saver when it has the ``restore_all`` op and a save tensor
    (``Identity`` when sharded, ``control_dependency`` otherwise); its nodes
    are found from those roots like the SaverDef's.
    """
    merged: dict[str, set[str]] = {k: set(v) for k, v in saver_tags(graph, saver_def).items()}
    names = {n.name for n in graph.node}
    scopes = {n.name[: -len("restore_all")] for n in graph.node if n.op == "NoOp" and n.name.endswith("/restore_all")}
    for scope in sorted(s for s in scopes if SAVER_SCOPE.fullmatch(s)):
        for save_root in (scope + "Identity", scope + "control_dependency"):
            if save_root not in names:
                continue
            other = type(saver_def)(save_tensor_name=save_root + ":0", restore_op_name=scope + "restore_all")
            for name, sides in saver_tags(graph, other).items():
                merged.setdefault(name, set()).update(sides)
            break
    return {k: frozenset(v) for k, v in merged.items()}


__all__ = ["DEFAULT_MAX_DEPTH", "Note", "OpSite", "SAVER_SCOPE", "ScanResult", "Scanner", "conventional_saver_tags",
           "parse_embedded", "plausible_graph", "saver_tags", "all_saver_tags"]
