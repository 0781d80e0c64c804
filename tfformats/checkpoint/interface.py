"""The interface shared by every checkpoint reader (V2 bundles and legacy V1 tables)."""

from __future__ import annotations

import abc
from typing import Any, Iterator, NamedTuple, Optional

import numpy as np

from .. import dtypes
from ..dtypes import DType
from ..shapes import num_elements

from .object_graph import OBJECT_GRAPH_KEY


class TensorInfo(NamedTuple):
    """What a checkpoint says about one tensor, without reading its values."""

    name: str
    dtype: DType
    shape: tuple[int, ...]
    nbytes: int  # bytes the tensor takes in the data files (all slices together)
    num_slices: int  # 0 for a tensor stored whole

    @property
    def size(self) -> int:
        """Number of elements."""
        return num_elements(self.shape)


class CheckpointReader(abc.ABC):
    """Lazy, read-only access to the tensors of one checkpoint.

    Mirrors ``tf.train.load_checkpoint``'s reader: ``keys()``, ``has_tensor``,
    ``get_tensor``, ``get_variable_to_shape_map``, ``get_variable_to_dtype_map``.
    Use it as a context manager (or call :meth:`close`) to release file handles.
    """

    #: "V2" for TensorBundle checkpoints, "V1" for legacy single-table ones.
    format: str = ""
    #: the checkpoint prefix (V2) or table file path (V1)
    prefix: str = ""

    @abc.abstractmethod
    def tensor_infos(self) -> dict[str, TensorInfo]:
        """Every listed tensor by name (slices of partitioned tensors are folded in)."""

    @abc.abstractmethod
    def get_tensor(self, name: str, *, copy: bool = True) -> np.ndarray:
        """Return the full value of tensor ``name``.

        With ``copy=True`` the array is new and owned by the caller; with
        ``copy=False`` a reader may return a read-only view of file memory.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release open files."""

    @property
    def num_shards(self) -> int:
        """How many data files the checkpoint spreads its tensors over."""
        return 1

    # -- derived views ------------------------------------------------------------------

    def keys(self) -> list[str]:
        return sorted(self.tensor_infos())

    def __contains__(self, name: object) -> bool:
        return name in self.tensor_infos()

    def __len__(self) -> int:
        return len(self.tensor_infos())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def has_tensor(self, name: str) -> bool:
        return name in self.tensor_infos()

    def info(self, name: str) -> TensorInfo:
        """Metadata of one tensor; KeyError if absent."""
        try:
            return self.tensor_infos()[name]
        except KeyError:
            raise KeyError(f"{name!r} is not in checkpoint {self.prefix}") from None

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {name: list(info.shape) for name, info in self.tensor_infos().items()}

    def get_variable_to_dtype_map(self) -> dict[str, np.dtype]:
        return {name: info.dtype.numpy if info.dtype.numpy is not None else np.dtype(object)
                for name, info in self.tensor_infos().items()}

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, value)`` for every tensor in name order, one at a time."""
        for name in self.keys():
            yield name, self.get_tensor(name)

    @property
    def object_graph(self) -> Optional[Any]:
        """The parsed ``TrackableObjectGraph`` of a TF2 object-based checkpoint, else None."""
        if OBJECT_GRAPH_KEY not in self:
            return None
        from ..proto import TrackableObjectGraph

        value = self.get_tensor(OBJECT_GRAPH_KEY)
        graph = TrackableObjectGraph()
        try:
            graph.ParseFromString(bytes(value.reshape(-1)[0]) if value.size else b"")
        except Exception as exc:
            from ..errors import FormatError

            raise FormatError(f"{OBJECT_GRAPH_KEY} does not hold a TrackableObjectGraph: {exc}",
                              self.prefix) from None
        return graph

    @property
    def kind(self) -> str:
        """``V1``, ``V2`` or ``TF2-object`` (a V2 bundle with an object graph)."""
        if self.format == "V2" and OBJECT_GRAPH_KEY in self:
            return "TF2-object"
        return self.format

    def __enter__(self) -> "CheckpointReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.prefix!r} ({self.format})>"


def nelements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


__all__ = ["CheckpointReader", "TensorInfo", "OBJECT_GRAPH_KEY", "nelements", "dtypes"]
