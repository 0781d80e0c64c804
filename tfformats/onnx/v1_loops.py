"""TF1 ``tf.while_loop`` frames (Enter, Merge, Switch, LoopCond, NextIteration, Exit) as single loop nodes.

Before conversion each frame is cut out of the graph and replaced by one node of the private op
:data:`LOOP_OP`, whose inputs are the tensors entering the frame and whose outputs are the loop
variables' final values; the Exit nodes become Identities reading them. The graph is then acyclic,
and ``handlers/v1.py`` turns each such node into an ONNX Loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import UnsupportedError
from ..graphs.names import parse_input

LOOP_OP = "_TFFormatsV1Loop"
FRAME_OPS = frozenset({"Enter", "RefEnter"})


@dataclass
class LoopVar:
    enter: str
    merge: str
    switch: str = ""
    next_iteration: str = ""
    exit: Optional[str] = None


@dataclass
class Frame:
    name: str
    nodes: dict[str, Any] = field(default_factory=dict)
    variables: list[LoopVar] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)  # Enter nodes with is_constant
    loop_cond: str = ""

    @property
    def entered(self) -> list[str]:
        """Enter nodes in the order of the loop node's inputs: variables first, then invariants."""
        return [v.enter for v in self.variables] + self.invariants


def _frame_name(node: Any) -> str:
    return str(node.attr["frame_name"].s.decode("utf-8", "replace"))


def _consumers(nodes: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for n in nodes:
        for i in n.input:
            out.setdefault(parse_input(i).node, []).append(n)
    return out


def find_frames(nodes: list[Any]) -> list[Frame]:
    """Every while-loop frame of a graph, with the nodes inside it."""
    enters: dict[str, list[Any]] = {}
    for n in nodes:
        if n.op in FRAME_OPS:
            enters.setdefault(_frame_name(n), []).append(n)
    if not enters:
        return []
    consumers = _consumers(nodes)
    frames = []
    for name, entry in enters.items():
        frame = Frame(name)
        todo = list(entry)
        while todo:
            n = todo.pop()
            if n.name in frame.nodes:
                continue
            if n.op in FRAME_OPS and _frame_name(n) != name:
                raise UnsupportedError(f"TF1 while loop {name!r} holds another loop ({_frame_name(n)!r}); "
                                       "nested TF1 loops are not converted")
            frame.nodes[n.name] = n
            if n.op in ("Exit", "RefExit"):
                continue
            todo.extend(consumers.get(n.name, []))
        _describe(frame, consumers)
        frames.append(frame)
    return frames


def _describe(frame: Frame, consumers: dict[str, list[Any]]) -> None:
    merges = {}
    for n in frame.nodes.values():
        if n.op in FRAME_OPS:
            if n.attr["is_constant"].b:
                frame.invariants.append(n.name)
        elif n.op == "LoopCond":
            frame.loop_cond = n.name
        elif n.op in ("Merge", "RefMerge"):
            merges[n.name] = n
    for m in merges.values():
        refs = [parse_input(i).node for i in m.input if not i.startswith("^")]
        enter = next((r for r in refs if r in frame.nodes and frame.nodes[r].op in FRAME_OPS), None)
        nxt = next((r for r in refs if r in frame.nodes and frame.nodes[r].op in ("NextIteration",
                                                                                  "RefNextIteration")), None)
        if enter is None or nxt is None:
            continue  # a tf.cond Merge inside the body
        var = LoopVar(enter, m.name, next_iteration=nxt)
        for c in consumers.get(m.name, []):
            if c.op in ("Switch", "RefSwitch") and parse_input(c.input[1]).node == frame.loop_cond:
                var.switch = c.name
        for c in consumers.get(var.switch, []):
            if c.op in ("Exit", "RefExit"):
                var.exit = c.name
        frame.variables.append(var)
    if not frame.loop_cond or any(not v.switch for v in frame.variables):
        raise UnsupportedError(f"TF1 while loop {frame.name!r} does not have the Enter/Merge/Switch/LoopCond "
                               "shape tf.while_loop builds")
    # Enter nodes of variables, in the order of the Merge nodes (stable: graph order)
    frame.variables.sort(key=lambda v: list(frame.nodes).index(v.merge))


def collapse(graph_def: Any) -> tuple[list[Any], dict[str, Frame]]:
    """The graph's nodes with each while frame replaced by a loop node; and the frames by loop node name."""
    nodes = list(graph_def.node)
    frames = find_frames(nodes)
    if not frames:
        return nodes, {}
    from ..proto import NodeDef

    inside = {name for f in frames for name in f.nodes}
    out = [n for n in nodes if n.name not in inside]
    by_loop: dict[str, Frame] = {}
    for i, frame in enumerate(frames):
        loop = NodeDef(name=f"{frame.name}/__loop__{i}" if frame.name else f"__loop__{i}", op=LOOP_OP)
        loop.input.extend(frame.nodes[e].input[0] for e in frame.entered)
        out.append(loop)
        by_loop[loop.name] = frame
        for k, var in enumerate(frame.variables):
            if var.exit is not None:
                exit_node = NodeDef(name=var.exit, op="Identity")
                exit_node.input.append(f"{loop.name}:{k}" if k else loop.name)
                out.append(exit_node)
    return out, by_loop
