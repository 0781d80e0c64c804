"""OpDefs of TensorFlow's standard ops, and a resolver that prefers a graph's own.

A MetaGraphDef's ``stripped_op_list`` should list every op its graph uses,
but older writers (TF 2.3-era Keras SavedModels) recorded only the ops of the
top-level graph and none of those inside functions. TensorFlow does not
mind, since it knows every standard op from its own registry; tfformats ships
that registry too: ``standard_ops.bin`` beside this module holds the OpDefs
of a stock TensorFlow install, without their documentation, and is generated
by ``tools/build_op_registry.py``. It is read on first use.

Example:
    >>> from tfformats.graphs.registry import OpResolver, op_def
    >>> op_def("MatMul").output_arg[0].name
    'product'
    >>> ops = OpResolver(meta_graph)          # the graph's stripped_op_list first
    >>> ops.require("MatMul", "function f")   # GraphError naming the op if neither knows it
"""

from __future__ import annotations

import functools
import zlib
from importlib import resources
from typing import Any, Iterator, Mapping, NamedTuple, Optional

from ..errors import FormatError, GraphError

DATA_FILE = "standard_ops.bin"
# Bound on the decompressed registry: a damaged data file must not inflate without limit.
MAX_REGISTRY_BYTES = 64 << 20


class Registry(NamedTuple):
    """The bundled registry: OpDefs by name and the TensorFlow version they come from."""

    ops: Mapping[str, Any]
    tensorflow_version: str


def parse_registry(data: bytes, source: str = DATA_FILE) -> Registry:
    """Decode ``tensorflow <version>\\n`` + zlib(serialized OpList)."""
    from ..proto import OpList

    header, sep, body = data.partition(b"\n")
    if not sep or not header.startswith(b"tensorflow "):
        raise FormatError("not an op registry file (no 'tensorflow <version>' header)", source)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(body, MAX_REGISTRY_BYTES)
    except zlib.error as exc:
        raise FormatError(f"op registry is damaged: {exc}", source) from exc
    if inflater.unconsumed_tail:
        raise FormatError(f"op registry inflates to more than {MAX_REGISTRY_BYTES} bytes", source)
    op_list = OpList()
    try:
        op_list.ParseFromString(raw)
    except Exception as exc:  # protobuf raises its DecodeError, not a ValueError subclass we can name
        raise FormatError(f"op registry is not a serialized OpList: {exc}", source) from exc
    version = header[len(b"tensorflow "):].decode("ascii", "replace").strip()
    return Registry({op.name: op for op in op_list.op}, version)


@functools.lru_cache(maxsize=1)
def bundled_registry() -> Registry:
    """The registry shipped with tfformats, read once."""
    data = resources.files(__package__).joinpath(DATA_FILE).read_bytes()
    return parse_registry(data)


def op_def(name: str) -> Optional[Any]:
    """The standard OpDef of op ``name``, or None for an op TensorFlow does not register (a custom op)."""
    return bundled_registry().ops.get(name)


@functools.lru_cache(maxsize=1)
def standard_op_names() -> frozenset[str]:
    """Names of every op a stock TensorFlow install registers."""
    return frozenset(bundled_registry().ops)


def registry_version() -> str:
    """The TensorFlow version the bundled registry was generated from (e.g. ``2.21.0``)."""
    return bundled_registry().tensorflow_version


def _own_ops(source: Any) -> dict[str, Any]:
    """``{name: OpDef}`` from a MetaGraphDef, an OpList, a mapping, or None."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    full_name = type(source).DESCRIPTOR.full_name
    if full_name == "tensorflow.MetaGraphDef":
        source = source.meta_info_def.stripped_op_list
    elif full_name != "tensorflow.OpList":
        raise TypeError(f"expected a MetaGraphDef, an OpList or a mapping, not {full_name}")
    return {op.name: op for op in source.op}


class OpResolver(Mapping[str, Any]):
    """OpDefs by op name: the graph's own ``stripped_op_list`` first, the bundled registry second.

    Being a mapping, it can be passed wherever ``{op name: OpDef}`` is expected; iterating
    lists the graph's own ops, then the standard ones it does not override.
    """

    def __init__(self, source: Any = None, *, use_registry: bool = True) -> None:
        self.own = _own_ops(source)
        self.use_registry = use_registry

    def get(self, op_type: str, default: Any = None) -> Any:
        found = self.own.get(op_type)
        if found is None and self.use_registry:
            found = op_def(op_type)
        return default if found is None else found

    def __getitem__(self, op_type: str) -> Any:
        found = self.get(op_type)
        if found is None:
            raise KeyError(op_type)
        return found

    def __contains__(self, op_type: object) -> bool:
        return isinstance(op_type, str) and self.get(op_type) is not None

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        if self.use_registry:
            yield from (name for name in bundled_registry().ops if name not in self.own)

    def __len__(self) -> int:
        if not self.use_registry:
            return len(self.own)
        return len(self.own) + sum(1 for name in bundled_registry().ops if name not in self.own)

    def is_standard(self, op_type: str) -> bool:
        """True when a stock TensorFlow registers ``op_type``."""
        return op_type in standard_op_names()

    def require(self, op_type: str, where: str = "") -> Any:
        """The OpDef of ``op_type``; GraphError naming it when neither the graph nor TensorFlow defines it."""
        found = self.get(op_type)
        if found is None:
            prefix = f"{where}: " if where else ""
            raise GraphError(f"{prefix}op {op_type!r} is neither in the graph's stripped_op_list nor a standard "
                             f"TensorFlow {registry_version()} op (a custom op?); its OpDef is needed")
        return found


__all__ = ["OpResolver", "Registry", "bundled_registry", "op_def", "parse_registry", "registry_version",
           "standard_op_names"]
