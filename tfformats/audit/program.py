"""Everything a model file holds that TensorFlow could run, as one graph of bodies.

A *vertex* is a top-level node ``("n", gid, name)``, a library function
``("f", gid, name)`` or a whole serialized graph ``("g", gid)``; ``gid``
numbers the GraphDefs met (the model's own and every one found serialized in
a string). Edges point from what runs to what it makes run: a node to its
inputs, anything to the functions it calls (by op name or through function
attributes) and to the graphs serialized in its strings. Every node of every
function and graph is visited exactly once, so building is linear in the size
of the file; nesting of serialized graphs is limited by ``max_depth`` and the
total work by ``max_nodes`` and ``parse_budget``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

from .embedded import MIN_EMBEDDED, parse_embedded

Vertex = tuple[Any, ...]
Body = tuple[int, Optional[str]]  # (gid, function name or None for the top level)

DEFAULT_MAX_DEPTH = 32
DEFAULT_PARSE_BUDGET = 256 << 20
# The most nodes (top-level and in functions, over all graphs) one audit examines.
DEFAULT_MAX_NODES = 5_000_000
_MAX_DETAIL = 200
_BINARY = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Ops that call the function named in their "f" attribute with their inputs as its arguments.
_CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}
# Functional control flow: which inputs become the called functions' arguments.
_BRANCH_OPS = {"If": 1, "StatelessIf": 1, "Case": 1, "StatelessCase": 1, "While": 0, "StatelessWhile": 0}


def short(value: bytes | str) -> str:
    """A printable, shortened form of a string value."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    if _BINARY.search(text):
        return f"<{len(value)} bytes of binary data>"
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def node_of(input_name: str) -> str:
    """``^a`` / ``a:1`` / ``a:out:0`` -> ``a``."""
    return input_name.lstrip("^").split(":", 1)[0]


@dataclass(frozen=True)
class OpSite:
    """One node and where it is defined."""

    op: str
    node: str
    where: tuple[str, ...]  # containers from the outside in: graph, function, serialized graph ...
    vertex: Vertex = ()
    body: Body = (0, None)
    attrs: tuple[tuple[str, str], ...] = ()  # string attributes (shortened)
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

    kind: str  # "embedded_graph", "recursion", "depth_limit", "budget"
    message: str
    where: tuple[str, ...]

    @property
    def location(self) -> str:
        return " > ".join(self.where)


@dataclass
class GraphInfo:
    gid: int
    where: tuple[str, ...]
    label: str  # how a path names it: "graph", "serialized GraphDef" ...
    nodes: dict[str, Any]
    library: dict[str, Any]
    data: bool  # carried as data (serialized in a string or a checkpoint), not the model's own graph
    encoding: str = ""


@dataclass
class Caller:
    body: Body
    node: Any
    offset: Optional[int]  # index of the node input that becomes argument 0; None when unknown


@dataclass
class Program:
    max_depth: int = DEFAULT_MAX_DEPTH
    parse_budget: int = DEFAULT_PARSE_BUDGET
    max_nodes: int = DEFAULT_MAX_NODES
    graphs: list[GraphInfo] = field(default_factory=list)
    sites: list[OpSite] = field(default_factory=list)
    nodedefs: dict[tuple[Body, str], Any] = field(default_factory=dict)
    edges: dict[Vertex, list[Vertex]] = field(default_factory=dict)
    callers: dict[tuple[int, str], list[Caller]] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    blob_graphs: dict[tuple[Body, str], int] = field(default_factory=dict)  # Const holding a parsed graph -> gid
    _digests: dict[bytes, int] = field(default_factory=dict)
    _fn_nodes: dict[Body, dict[str, Any]] = field(default_factory=dict)
    _budget_noted: bool = False
    _nodes_seen: int = 0

    # -- building ---------------------------------------------------------------------------

    def add_graph(self, graph: Any, where: tuple[str, ...], *, label: str = "graph", data: bool = False,
                  depth: int = 0, encoding: str = "") -> int:
        gid = len(self.graphs)
        library = {f.signature.name: f for f in graph.library.function}
        nodes = {n.name: n for n in graph.node}
        info = GraphInfo(gid, where, label, nodes, library, data, encoding)
        self.graphs.append(info)
        whole = ("g", gid)
        self.edges[whole] = [("n", gid, name) for name in nodes]
        for node in graph.node:
            if not self._count():
                break
            vertex = ("n", gid, node.name)
            targets = self.edges.setdefault(vertex, [])
            targets.extend(("n", gid, node_of(i)) for i in node.input if node_of(i) in nodes)
            self._add_node(node, where, vertex, (gid, None), info, targets, depth)
        for gradient in graph.library.gradient:  # a gradient function runs when its function is differentiated
            if gradient.function_name in library and gradient.gradient_func in library:
                self.edges.setdefault(("f", gid, gradient.function_name), []).append(
                    ("f", gid, gradient.gradient_func))
        for name, fn in library.items():
            vertex = ("f", gid, name)
            targets = self.edges.setdefault(vertex, [])
            here = where + (f"function '{name}'",)
            for node in fn.node_def:
                if not self._count():
                    break
                self._add_node(node, here, vertex, (gid, name), info, targets, depth)
        return gid

    def add_function(self, fn: Any, where: tuple[str, ...], *, depth: int, encoding: str = "") -> int:
        """A lone FunctionDef (found serialized in a string): a graph whose library is that function."""
        from ..proto import GraphDef

        graph = GraphDef()
        graph.library.function.add().CopyFrom(fn)
        gid = self.add_graph(graph, where, label="serialized FunctionDef", data=True, depth=depth, encoding=encoding)
        self.edges[("g", gid)] = [("f", gid, fn.signature.name)]
        return gid

    def _count(self) -> bool:
        self._nodes_seen += 1
        if self._nodes_seen <= self.max_nodes:
            return True
        if self._nodes_seen == self.max_nodes + 1:
            self.notes.append(Note("budget", f"stopped after {self.max_nodes} nodes: the rest of the file was "
                                   "not examined", ()))
        return False

    def _add_node(self, node: Any, where: tuple[str, ...], vertex: Vertex, body: Body, info: GraphInfo,
                  targets: list[Vertex], depth: int) -> None:
        library = info.library
        attrs = _attrs(node)
        self.sites.append(OpSite(node.op, node.name, where, vertex, body, _string_attrs(attrs), node.op in library))
        self.nodedefs[(body, node.name)] = node
        for callee, offset in _called_functions(node, attrs, library):
            targets.append(("f", info.gid, callee))
            self.callers.setdefault((info.gid, callee), []).append(Caller(body, node, offset))
        here = where + (f"node '{node.name}'",)
        for attr_name, blob in _string_blobs(attrs):
            gid = self.add_blob(blob, here + (f"attr '{attr_name}'",), depth + 1)
            if gid is not None:
                targets.append(("g", gid))
                if node.op == "Const":
                    self.blob_graphs[(body, node.name)] = gid

    def add_blob(self, blob: bytes, where: tuple[str, ...], depth: int) -> Optional[int]:
        """The gid of the graph ``blob`` holds (parsed once per distinct blob), or None."""
        if len(blob) < MIN_EMBEDDED:
            return None
        digest = hashlib.sha1(blob).digest()
        if digest in self._digests:
            gid = self._digests[digest]
            return gid if gid >= 0 else None
        self._digests[digest] = -1
        if len(blob) > self.parse_budget:
            if not self._budget_noted:
                self._budget_noted = True
                self.notes.append(Note("budget", "stopped looking for serialized graphs in strings: the parse "
                                       "budget is spent", where))
            return None
        self.parse_budget -= len(blob)
        found = parse_embedded(blob, self.parse_budget)
        if found is None:
            return None
        if depth > self.max_depth:
            self.notes.append(Note("depth_limit", f"serialized {found.kind} nested deeper than {self.max_depth} "
                                   "levels was not examined", where))
            return None
        how = f", {found.encoding}-encoded" if found.encoding else ""
        self.notes.append(Note("embedded_graph", f"holds a serialized {found.kind} ({len(blob)} bytes{how})",
                               where))
        inner = where + (f"serialized {found.kind}" + (f" ({found.encoding})" if found.encoding else ""),)
        if found.kind == "GraphDef":
            gid = self.add_graph(found.message, inner, label=f"serialized GraphDef", data=True, depth=depth,
                                 encoding=found.encoding)
        else:
            gid = self.add_function(found.message, inner, depth=depth, encoding=found.encoding)
        self._digests[digest] = gid
        return gid

    # -- questions ----------------------------------------------------------------------------

    def label(self, vertex: Vertex) -> str:
        if vertex[0] == "n":
            return f"node '{vertex[2]}'"
        if vertex[0] == "f":
            return f"function '{vertex[2]}'"
        return self.graphs[vertex[1]].label

    def function(self, gid: int, name: str) -> Optional[Any]:
        return self.graphs[gid].library.get(name)

    def body_nodes(self, body: Body) -> dict[str, Any]:
        gid, fname = body
        if fname is None:
            return self.graphs[gid].nodes
        cached = self._fn_nodes.get(body)
        if cached is None:
            cached = self._fn_nodes[body] = {n.name: n for n in self.graphs[gid].library[fname].node_def}
        return cached

    def recursion_notes(self) -> None:
        """Note every cycle of function calls (found by one iterative depth-first walk)."""
        color: dict[Vertex, int] = {}
        for start in [v for v in self.edges if v[0] == "f"]:
            if start in color:
                continue
            stack: list[tuple[Vertex, Iterator[Vertex]]] = [(start, iter(self._calls(start)))]
            path = [start]
            color[start] = 1
            while stack:
                vertex, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    path.pop()
                    color[vertex] = 2
                    continue
                state = color.get(child, 0)
                if state == 1:
                    cycle = [v[2] for v in path[path.index(child):]] + [child[2]]
                    graph = self.graphs[child[1]]
                    self.notes.append(Note("recursion", f"function '{child[2]}' calls itself "
                                           f"({' -> '.join(cycle)})", graph.where))
                elif state == 0:
                    color[child] = 1
                    path.append(child)
                    stack.append((child, iter(self._calls(child))))

    def _calls(self, vertex: Vertex) -> list[Vertex]:
        return [v for v in self.edges.get(vertex, ()) if v[0] == "f" and v in self.edges]


# -- node helpers -----------------------------------------------------------------------

Attrs = list[tuple[str, Any, Optional[str]]]  # (name, AttrValue, which value it holds)


def _attrs(node: Any) -> Attrs:
    """A node's attributes in name order, each with the kind of value it holds (read once per node)."""
    if not node.attr:
        return []
    return [(key, value, value.WhichOneof("value")) for key, value in sorted(node.attr.items())]


def called_functions(node: Any, library: dict[str, Any]) -> list[tuple[str, Optional[int]]]:
    """Functions a node calls, with the input index that becomes their first argument."""
    return _called_functions(node, _attrs(node), library)


def _called_functions(node: Any, attrs: Attrs, library: dict[str, Any]) -> list[tuple[str, Optional[int]]]:
    out: list[tuple[str, Optional[int]]] = [(node.op, 0)] if node.op in library else []
    for key, value, kind in attrs:
        if kind != "func" and kind != "list":
            continue
        offset: Optional[int] = None
        if node.op in _CALL_OPS and key == "f":
            offset = 0
        elif node.op in _BRANCH_OPS and key in ("then_branch", "else_branch", "branches", "cond", "body"):
            offset = _BRANCH_OPS[node.op]
        if kind == "func":
            out.append((value.func.name, offset))
            out.extend((name, None) for name in _nested_funcs(value.func))
        else:
            for f in value.list.func:
                out.append((f.name, offset))
                out.extend((name, None) for name in _nested_funcs(f))
    return [(name, offset) for name, offset in out if name in library]


def _nested_funcs(func: Any) -> list[str]:
    """Function names inside the attrs of a NameAttrList (a function passed to a function)."""
    out = []
    for key in sorted(func.attr):
        value = func.attr[key]
        kind = value.WhichOneof("value")
        if kind == "func":
            out.append(value.func.name)
        elif kind == "list":
            out.extend(f.name for f in value.list.func)
    return out


def string_blobs(node: Any) -> list[tuple[str, bytes]]:
    """Every string carried in a node's attributes (plain, listed, or inside tensors)."""
    return _string_blobs(_attrs(node))


def _string_blobs(attrs: Attrs) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for key, value, kind in attrs:
        if kind == "s":
            out.append((key, value.s))
        elif kind == "tensor":
            out.extend((key, s) for s in value.tensor.string_val)
        elif kind == "list":
            out.extend((key, s) for s in value.list.s)
            for t in value.list.tensor:
                out.extend((key, s) for s in t.string_val)
    return out


def string_attrs(node: Any) -> tuple[tuple[str, str], ...]:
    """The string attributes of a node, shortened for display."""
    return _string_attrs(_attrs(node))


def _string_attrs(attrs: Attrs) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value, kind in attrs:
        if kind == "s":
            out.append((key, short(value.s)))
        elif kind == "list" and value.list.s:
            out.append((key, ", ".join(short(s) for s in value.list.s[:8])))
    return tuple(out)


__all__ = ["Body", "Caller", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_NODES", "DEFAULT_PARSE_BUDGET", "GraphInfo", "Note",
           "OpSite", "Program", "Vertex", "called_functions", "node_of", "short", "string_attrs", "string_blobs"]
