"""Where a node's input comes from: constants, feeds, the model's own assets, or run-time values.

The audit asks this of the inputs that decide whether an op is dangerous (the
file name of ``WriteFile``, the prefix of ``SaveV2``, the graph of
``DatasetFromGraph``). Inputs are followed through ops that only pass strings
along (``Identity``, ``StringJoin``, ``ShardedFilename`` ...) and from a
function's arguments to the inputs of every node calling it. The answer is a
set of leaves:

- ``("const", text)``: a constant string;
- ``("feed", gid, node)``: a ``Placeholder`` / ``PlaceholderWithDefault`` of a graph;
- ``("asset", filename)``: a file of the model's own ``assets/`` folder;
- ``("arg", function, name)``: an argument nothing in the file binds (a signature input);
- ``("computed", op)``: produced by any other op at run time.
"""

from __future__ import annotations

import os
import re
from typing import Any, Optional

from .program import Body, Program, node_of, short

Leaf = tuple[Any, ...]
_PASS = {"Identity", "IdentityN", "Snapshot", "StopGradient", "StringJoin", "ShardedFilename", "Enter", "Switch",
         "Merge", "RefIdentity", "Reshape", "ExpandDims", "Squeeze", "Pack", "ConcatV2", "AddV2", "Add",
         "StringStrip", "ZerosLike", "EnsureShape", "PreventGradient", "CheckNumerics"}
_FEEDS = {"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"}
# Datasets whose elements are their inputs' values, and datasets that pass their input's elements through.
_SOURCE_DATASETS = {"TensorSliceDataset", "TensorDataset"}
_PASS_DATASETS = {"SkipDataset", "TakeDataset", "RepeatDataset", "BatchDataset", "BatchDatasetV2", "PrefetchDataset",
                  "ShuffleDataset", "ShuffleDatasetV2", "ShuffleDatasetV3", "CacheDataset", "CacheDatasetV2",
                  "FilterDataset", "ShardDataset", "OptionsDataset", "ModelDataset", "PaddedBatchDatasetV2",
                  "UnbatchDataset", "ConcatenateDataset", "ZipDataset", "AssertCardinalityDataset",
                  "MaxIntraOpParallelismDataset", "PrivateThreadPoolDataset", "FinalizeDataset"}
_MAX_LEAVES = 32
_MAX_STEPS = 4096


class Origins:
    """Answers "where does this input come from?" for one program, with memoised answers."""

    def __init__(self, program: Program, *, assets: Optional[dict[tuple[int, str], str]] = None,
                 bound: Optional[dict[tuple[int, str, int], Leaf]] = None) -> None:
        self.program = program
        self.assets = assets or {}  # (gid, top-level node) -> asset file name
        self.bound = bound or {}  # (gid, function, argument index) -> leaf the object graph binds
        self._memo: dict[tuple[Body, str], frozenset[Leaf]] = {}
        self._assigns: dict[Body, dict[str, list[Any]]] = {}

    def of_input(self, body: Body, node: Any, index: int) -> frozenset[Leaf]:
        """Leaves of the ``index``-th data input of ``node`` (defined in ``body``)."""
        data = [i for i in node.input if not i.startswith("^")]
        if index >= len(data):
            return frozenset()
        return self._resolve(body, node_of(data[index]), 0)

    def _resolve(self, body: Body, name: str, depth: int) -> frozenset[Leaf]:
        key = (body, name)
        if key in self._memo:
            return self._memo[key]
        if depth > 64 or len(self._memo) > _MAX_STEPS * 16:
            return frozenset({("computed", "(too deep to follow)")})
        self._memo[key] = frozenset({("computed", "(cycle)")})
        result = self._compute(body, name, depth)
        if len(result) > _MAX_LEAVES:
            result = frozenset(sorted(result, key=repr)[:_MAX_LEAVES])
        self._memo[key] = result
        return result

    def _compute(self, body: Body, name: str, depth: int) -> frozenset[Leaf]:
        gid, fname = body
        if fname is None and (gid, name) in self.assets:
            return frozenset({("asset", self.assets[(gid, name)])})
        nodes = self.program.body_nodes(body)
        node = nodes.get(name)
        if node is None:
            if fname is not None:
                return self._argument(gid, fname, name, depth)
            return frozenset({("computed", "(missing node)")})
        if node.op == "Const":
            tensor = node.attr["value"].tensor if "value" in node.attr else None
            if tensor is None or tensor.dtype != 7:  # DT_STRING
                return frozenset()
            return frozenset(("const", short(s)) for s in list(tensor.string_val)[:8]) or frozenset({("const", "")})
        if node.op in _FEEDS:
            leaves = {("feed", gid, name)} if fname is None else {("computed", node.op)}
            if node.op == "PlaceholderWithDefault":
                leaves |= self._inputs(body, node, depth)
            return frozenset(leaves)
        if node.op in _PASS:
            return self._inputs(body, node, depth)
        if node.op == "ReadVariableOp" and fname is None:
            return self._variable(body, node, depth)
        if node.op in ("Select", "SelectV2"):  # the condition picks one of the values: follow the values
            return self._inputs(body, node, depth, skip=1)
        return frozenset({("computed", node.op)})

    def _inputs(self, body: Body, node: Any, depth: int, skip: int = 0) -> frozenset[Leaf]:
        out: set[Leaf] = set()
        for i in [i for i in node.input if not i.startswith("^")][skip:]:
            out |= self._resolve(body, node_of(i), depth + 1)
        return frozenset(out)

    def _elements(self, body: Body, node: Any, depth: int) -> frozenset[Leaf]:
        """Where the elements of the dataset feeding ``node`` (its first input) come from."""
        data = [i for i in node.input if not i.startswith("^")]
        nodes = self.program.body_nodes(body)
        source = nodes.get(node_of(data[0])) if data else None
        for _ in range(64):
            if source is None:
                return frozenset({("computed", "(unknown dataset)")})
            if source.op in _SOURCE_DATASETS:
                return self._inputs(body, source, depth)
            if source.op not in _PASS_DATASETS and source.op not in ("Identity",):
                return frozenset({("computed", source.op)})
            inputs = [i for i in source.input if not i.startswith("^")]
            source = nodes.get(node_of(inputs[0])) if inputs else None
        return frozenset({("computed", "(too deep to follow)")})

    def _variable(self, body: Body, node: Any, depth: int) -> frozenset[Leaf]:
        """A top-level variable read: what the graph assigns to it (TF2 keeps asset paths in variables)."""
        handle = node_of(node.input[0]) if node.input else ""
        assigns = self._assigns.get(body)
        if assigns is None:
            assigns = self._assigns[body] = {}
            for other in self.program.body_nodes(body).values():
                if other.op == "AssignVariableOp" and len(other.input) > 1:
                    assigns.setdefault(node_of(other.input[0]), []).append(other)
        writers = assigns.get(handle, [])
        if not writers:
            return frozenset({("computed", "ReadVariableOp")})
        out: set[Leaf] = set()
        for writer in writers:
            out |= self._resolve(body, node_of(writer.input[1]), depth + 1)
        return frozenset(out)

    def _argument(self, gid: int, fname: str, arg: str, depth: int) -> frozenset[Leaf]:
        fn = self.program.function(gid, fname)
        names = [a.name for a in fn.signature.input_arg] if fn is not None else []
        if arg not in names:
            return frozenset({("computed", "(missing node)")})
        index = names.index(arg)
        out: set[Leaf] = set()
        if (gid, fname, index) in self.bound:
            out.add(self.bound[(gid, fname, index)])
        for caller in self.program.callers.get((gid, fname), []):
            if caller.offset is None and caller.node.op.endswith("Dataset"):
                # A dataset function gets the input dataset's elements, then the node's other arguments.
                out |= self._elements(caller.body, caller.node, depth + 1)
                out |= self._inputs(caller.body, caller.node, depth, skip=1)
                continue
            if caller.offset is None:
                out.add(("computed", caller.node.op))
                continue
            data = [i for i in caller.node.input if not i.startswith("^")]
            position = caller.offset + index
            if position < len(data):
                out |= self._resolve(caller.body, node_of(data[position]), depth + 1)
        return frozenset(out) if out else frozenset({("arg", fname, arg)})


# -- judging a path ------------------------------------------------------------------------------

_REMOTE = re.compile(r"^(gs|s3|hdfs|https?|grpc|ram|viewfs|az)://", re.I)
_SENSITIVE = re.compile(r"^(/etc/|/root(/|$)|/home/|/proc/|/sys/|/dev/|/var/|/usr/|/bin/|/boot/|~)|(^|/)\.ssh(/|$)|"
                        r"(^|/)\.aws(/|$)|(^|/)\.config(/|$)|(^|/)\.bash|id_rsa|/\.netrc", re.I)


def path_concern(path: str) -> Optional[str]:
    """Why a constant file path is suspicious, or None for a plain path relative to the working folder."""
    text = path[len("file://"):] if path.lower().startswith("file://") else path
    if _REMOTE.match(text):
        return f"a remote location ({text.split('://', 1)[0]}://)"
    if _SENSITIVE.search(text):
        return "a system file or another user's file"
    if os.path.isabs(text) or text.startswith("\\") or (len(text) > 1 and text[1] == ":"):
        return "an absolute path outside the model folder"
    if ".." in text.replace("\\", "/").split("/"):
        return "a path that climbs out of its folder with '..'"
    return None


def escapes(name: str) -> bool:
    """True for an asset file name that points outside the SavedModel's assets folder."""
    if not name or "\x00" in name or os.path.isabs(name) or name.startswith(("\\", "~")):
        return True
    parts = name.replace("\\", "/").split("/")
    return ".." in parts or (len(name) > 1 and name[1] == ":")


def sensitive(path: str) -> bool:
    text = path[len("file://"):] if path.lower().startswith("file://") else path
    return bool(_SENSITIVE.search(text))


def describe(leaves: frozenset[Leaf]) -> str:
    """One short phrase naming where a value comes from."""
    parts = []
    for leaf in sorted(leaves, key=repr)[:6]:
        if leaf[0] == "const":
            parts.append(repr(leaf[1]))
        elif leaf[0] == "feed":
            parts.append(f"fed tensor '{leaf[2]}'")
        elif leaf[0] == "asset":
            parts.append(f"asset {leaf[1]!r}")
        elif leaf[0] == "arg":
            parts.append(f"argument '{leaf[2]}' of '{leaf[1]}'")
        else:
            parts.append(f"computed by {leaf[1]}")
    return ", ".join(parts)


__all__ = ["Leaf", "Origins", "describe", "escapes", "path_concern", "sensitive"]
