"""What the converter knows about one TensorFlow tensor once it has an ONNX form."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

Dim = Union[int, str, None]  # a size, a symbolic name, or unknown
Shape = Optional[tuple[Dim, ...]]  # None: unknown rank
Perm = tuple[int, ...]


class Value:
    """One TensorFlow tensor in the ONNX graph.

    ``shape`` is the TensorFlow (logical) shape. ``perm`` says how the ONNX tensor is laid out:
    ``onnx = transpose(tf, perm)``, None when both agree; a TF NHWC tensor kept as NCHW has
    ``perm == (0, 3, 1, 2)``. ``const`` holds the value when it is known at conversion time; such a
    value gets an ONNX initializer only when a node needs it. ``parts`` holds what is known of the
    elements of a 1-D integer tensor that is not constant (a shape computed from ``Shape``). ``forms``
    caches the ONNX names of the layouts already made: ``{perm or None: name}``.
    """

    __slots__ = ("dtype", "shape", "perm", "const", "forms", "parts", "source", "reserved", "role")

    def __init__(self, name: Optional[str], dtype: int, shape: Shape, perm: Optional[Perm] = None,
                 const: Optional[np.ndarray] = None) -> None:
        self.dtype = dtype
        self.shape = shape
        self.perm = None if perm is None or is_identity(perm) else tuple(perm)
        self.const = const
        self.forms: dict[Optional[Perm], str] = {}
        # elements of a small int vector (a shape being computed) that are known: ints, symbols or None
        self.parts: Optional[list[Dim]] = None
        # for a TensorList made by TensorListFromTensor and not changed since: that tensor
        self.source: Optional["Value"] = None
        self.reserved: Optional["Value"] = None  # num_elements of a list made by TensorListReserve
        self.role: Optional[str] = None  # "scan-slot" / "scan-written": a TensorList a Loop fills as a scan output
        if name is not None:
            self.forms[self.perm] = name

    def copy(self) -> "Value":
        """The same tensor for another graph scope (layouts made there must not leak back)."""
        v = Value(None, self.dtype, self.shape, self.perm, self.const)
        v.forms = dict(self.forms)
        v.parts = self.parts
        v.source, v.reserved, v.role = self.source, self.reserved, self.role
        return v

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    def __repr__(self) -> str:
        return f"Value({self.forms}, dtype={self.dtype}, shape={self.shape}, perm={self.perm})"


# dtype of a TensorList: SEQUENCE + the ONNX type of its elements (an ONNX sequence of tensors)
SEQUENCE = 1000


def is_identity(perm: Perm) -> bool:
    return all(i == p for i, p in enumerate(perm))


def inverse(perm: Perm) -> Perm:
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return tuple(out)


def channels_first(rank: int) -> Perm:
    """The permutation taking channels-last (N, ..., C) to channels-first (N, C, ...)."""
    return (0, rank - 1) + tuple(range(1, rank - 1))


def permute_shape(shape: Shape, perm: Optional[Perm]) -> Shape:
    if shape is None or perm is None:
        return shape
    return tuple(shape[p] for p in perm)


def broadcast_shapes(a: Shape, b: Shape) -> Shape:
    """numpy broadcasting of two possibly partly known shapes."""
    if a is None or b is None:
        return None
    n = max(len(a), len(b))
    a2 = (1,) * (n - len(a)) + tuple(a)
    b2 = (1,) * (n - len(b)) + tuple(b)
    out: list[Dim] = []
    for x, y in zip(a2, b2):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif isinstance(x, int) and not isinstance(y, int):
            out.append(x)
        elif isinstance(y, int) and not isinstance(x, int):
            out.append(y)
        else:
            out.append(None)
    return tuple(out)


def shape_of_array(array: np.ndarray) -> tuple[int, ...]:
    return tuple(int(d) for d in array.shape)
