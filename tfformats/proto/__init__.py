"""TensorFlow's protobuf messages, built without TensorFlow.

Every top-level message and enum of the ``tensorflow`` package is exported
under its TensorFlow name (``GraphDef``, ``TensorProto``, ``BundleEntryProto``,
``DataType``, ...); nested types are attributes of their parents
(``TensorShapeProto.Dim``). Enum values are exported as ints (``DT_FLOAT``).
The classes come from a private descriptor pool, ``pool``, so they never
clash with TensorFlow's own classes in the same process.

Use ``parse_text``/``format_text`` rather than bare ``text_format`` when the
text holds expanded ``google.protobuf.Any`` values: ``text_format`` looks
those types up in protobuf's default pool, which does not hold ours.

Example:
    >>> from tfformats.proto import GraphDef, parse_text
    >>> graph = parse_text('node { name: "x" op: "Placeholder" }', GraphDef())
    >>> graph.node[0].op
    'Placeholder'
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message

from tfformats.proto import _pool, _text

M = TypeVar("M", bound=Message)

_PACKAGE = "tensorflow"

pool, _files = _pool.build_pool(_pool.read_descriptor_set())
_symbols = _pool.top_level_symbols(_files, _PACKAGE, __name__)
globals().update(_symbols)


def message_class(full_name: str) -> type[Message]:
    """Return the class for any message in the pool, e.g. ``"google.protobuf.Any"``."""
    return _pool.message_class(pool.FindMessageTypeByName(full_name))


def parse_text(text: str | bytes, message: M) -> M:
    """Merge text-format ``text`` into ``message`` (resolving ``Any`` in ``pool``)."""
    return _text.parse_text(text, message, pool)


def format_text(message: Message) -> str:
    """Return ``message`` in text format (expanding ``Any`` found in ``pool``)."""
    return _text.format_text(message, pool)


__all__ = sorted(_symbols) + ["format_text", "message_class", "parse_text", "pool"]


def __getattr__(name: str) -> Any:
    # Only reached for names not exported above. Declaring it tells type
    # checkers that the generated classes exist even though they are built
    # at import time.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
