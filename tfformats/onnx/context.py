"""Conversion state: the ONNX nodes being built and the TensorFlow tensors they stand for.

One :class:`Model` holds what the whole ONNX model shares (unique names, initializers, opset);
one :class:`Context` per ONNX graph (the main graph, each If branch, each Loop body) maps
TensorFlow tensor names to :class:`~tfformats.onnx.values.Value` and collects that graph's nodes.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..errors import GraphError, UnsupportedError
from . import dtypes as odt
from .values import Perm, Shape, Value, inverse, shape_of_array

# Constants up to this many elements are folded at conversion time; larger ones stay ONNX nodes.
FOLD_LIMIT = 1 << 20


class Model:
    """What every graph of one ONNX model shares."""

    def __init__(self, onnx: Any, opset: int, functions: Mapping[str, Any]) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.functions = functions
        self.frames: dict[str, Any] = {}  # TF1 while frames by loop node name (v1_loops.collapse)
        self.arrays: dict[str, np.ndarray] = {}  # initializer values by name
        # the model is built in place; initializers stay numpy arrays until write_initializers, so that
        # weights replaced by later passes are never serialized
        self.proto = onnx.ModelProto()
        self.graph = self.proto.graph
        self._names: set[str] = set()
        self._counter = 0
        self._small_consts: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def unique(self, hint: str) -> str:
        name = hint
        while name in self._names:
            self._counter += 1
            name = f"{hint}__{self._counter}"
        self._names.add(name)
        return name

    def used(self, name: str) -> bool:
        return name in self._names

    def release(self, name: str) -> None:
        self._names.discard(name)

    def reserve(self, name: str) -> None:
        if name in self._names:
            raise GraphError(f"ONNX name {name!r} is used twice")
        self._names.add(name)

    def write_initializers(self, names: set[str]) -> None:
        """Put the arrays named in ``names`` into the graph as initializers (bytes copied once)."""
        from .dtypes import from_numpy

        for name, array in self.arrays.items():
            if name not in names:
                continue
            tensor = self.graph.initializer.add()
            tensor.name = name
            if array.dtype == object:
                tensor.CopyFrom(self.onnx.numpy_helper.from_array(array, name))
                continue
            tensor.data_type = from_numpy(array.dtype)
            tensor.dims.extend(int(d) for d in array.shape)
            tensor.raw_data = contiguous(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()

    def initializer(self, array: np.ndarray, hint: str) -> str:
        """Add ``array`` as an initializer (small equal arrays are shared) and return its name."""
        array = np.asarray(array)
        key = None
        if array.size <= 16 and array.dtype != object:
            key = (array.dtype.str, array.tobytes(), array.shape)
            found = self._small_consts.get(key)
            if found is not None:
                return found
        name = self.unique(hint)
        self.arrays[name] = array
        if key is not None:
            self._small_consts[key] = name
        return name


class Context:
    """The ONNX nodes of one graph and the TensorFlow tensors they compute."""

    def __init__(self, model: Model, parent: Optional["Context"] = None, nodes: Optional[list[Any]] = None) -> None:
        self.model = model
        self.parent = parent
        self.nodes: list[Any] = [] if nodes is None else nodes
        self.values: dict[str, Value] = {}
        self.where = "graph"
        # tf.cond branches each tensor was computed under (see handlers/v1.py)
        self.conds: dict[str, frozenset[Any]] = {}
        self.node_conds: frozenset[Any] = frozenset()
        self.out_conds: Optional[dict[int, frozenset[Any]]] = None

    @property
    def opset(self) -> int:
        return self.model.opset

    # -- values --------------------------------------------------------------------------------

    def lookup(self, tensor: str) -> Value:
        """The value of TF tensor ``node:index`` in this graph or an enclosing one."""
        found = self.values.get(tensor)
        if found is not None:
            return found
        cx = self.parent
        while cx is not None:
            found = cx.values.get(tensor)
            if found is not None:
                local = found.copy()  # layouts made inside this graph stay inside it
                self.values[tensor] = local
                return local
            cx = cx.parent
        raise GraphError(f"{self.where}: tensor {tensor!r} is used before it is computed")

    def constant(self, array: Any, dtype: Optional[int] = None) -> Value:
        """A value known at conversion time; it becomes an initializer only when used."""
        arr = np.asarray(array)
        return Value(None, odt.from_numpy(arr.dtype) if dtype is None else dtype, shape_of_array(arr), None, arr)

    def output(self, name: str, dtype: int, shape: Shape = None, perm: Optional[Perm] = None) -> Value:
        return Value(name, dtype, shape, perm)

    def plain(self, v: Value) -> str:
        """ONNX name of ``v`` in TensorFlow's own layout."""
        return self.form(v, None)

    def form(self, v: Value, perm: Optional[Perm]) -> str:
        """ONNX name of ``transpose(v, perm)`` (``perm`` None: as TensorFlow has it), made once."""
        if perm is not None and all(i == p for i, p in enumerate(perm)):
            perm = None
        found = v.forms.get(perm)
        if found is not None:
            return found
        if not v.forms and v.source is not None and v.const is None:
            # a TensorList known only as the tensor it stacks to: make the sequence now
            name = self.emit1("SplitToSequence", [self.plain(v.source)], hint="list", axis=0, keepdims=0)
            v.forms[None] = name
            return name
        if v.const is not None:
            arr = v.const if perm is None else np.transpose(v.const, perm)
            name = self.model.initializer(arr, "const")
        else:
            src_perm = v.perm
            src = v.forms[src_perm]
            inv_src = inverse(src_perm) if src_perm is not None else tuple(range(len(perm or ())))
            rank = len(src_perm or perm or ())
            target = perm if perm is not None else tuple(range(rank))
            # onnx_src = transpose(tf, src_perm); want transpose(tf, target) = transpose(onnx_src, q)
            q = tuple(inv_src[t] for t in target)
            name = self._transpose_or_reshape(src, q, v)
        v.forms[perm] = name
        return name

    def _transpose_or_reshape(self, src: str, q: Perm, v: Value) -> str:
        """Transpose ``src`` by ``q``; a Reshape when only size-1 axes move."""
        onnx_shape = None
        if v.shape is not None:
            p = v.perm or tuple(range(len(v.shape)))
            onnx_shape = [v.shape[i] for i in p]
        if onnx_shape is not None:
            moving = [i for i in q if onnx_shape[i] != 1]
            out_shape = [onnx_shape[i] for i in q]
            if moving == sorted(moving) and 0 not in out_shape:
                target: list[int] = []
                for i, d in enumerate(out_shape):
                    if isinstance(d, int):
                        target.append(d)
                    elif d is not None and onnx_shape[i] == d:
                        target.append(0)  # Reshape's 0 copies the input's dim at the same position
                    else:
                        target.append(-1)
                if target.count(-1) <= 1:
                    shape = self.int64s(target, "shape")
                    return self.emit1("Reshape", [src, shape], hint=src + "/reshaped")
        return self.emit("Transpose", [src], hint=src + "/transposed", perm=list(q))[0]

    # -- nodes ---------------------------------------------------------------------------------

    def emit(self, op: str, inputs: Sequence[str], *, outputs: int = 1, hint: Optional[str] = None,
             domain: Optional[str] = None, **attrs: Any) -> list[str]:
        """Add one ONNX node; returns its output names."""
        base = _clean(hint or op)
        names = [self.model.unique(base if i == 0 else f"{base}:{i}") for i in range(outputs)]
        node = self.model.helper.make_node(op, list(inputs), names, name=self.model.unique("n/" + base),
                                           domain=domain, **{k: v for k, v in attrs.items() if v is not None})
        self.nodes.append(node)
        return names

    def emit1(self, op: str, inputs: Sequence[str], *, hint: Optional[str] = None, **attrs: Any) -> str:
        return self.emit(op, inputs, hint=hint, **attrs)[0]

    def init(self, array: Any, dtype: Optional[np.dtype] = None, hint: str = "const") -> str:
        arr = np.asarray(array, dtype=dtype)
        return self.model.initializer(arr, hint)

    def int64s(self, values: Sequence[int], hint: str = "const") -> str:
        return self.init(np.array(list(values), np.int64), hint=hint)

    def cast(self, name: str, to: int, hint: Optional[str] = None) -> str:
        return self.emit1("Cast", [name], hint=hint or name + "/cast", to=to)

    def unsupported(self, node: Any, why: str) -> UnsupportedError:
        return UnsupportedError(f"{self.where}: node {node.name!r} ({node.op}): {why}")


def contiguous(array: np.ndarray) -> np.ndarray:
    """A C-ordered copy of ``array`` when it is not one already (``np.ascontiguousarray`` adds a dim to
    scalars)."""
    return array if array.flags.c_contiguous else np.ascontiguousarray(array).reshape(array.shape)


_BAD = re.compile(r"[^A-Za-z0-9_./:\-]")


def _clean(name: str) -> str:
    return _BAD.sub("_", name)
