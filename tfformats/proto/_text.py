"""Text-format parsing and printing that resolve ``google.protobuf.Any`` in our private pool."""

from __future__ import annotations

from typing import TypeVar, cast

from google.protobuf import descriptor_pool
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def parse_text(text: str | bytes, message: M, pool: descriptor_pool.DescriptorPool) -> M:
    """Merge text-format ``text`` into ``message`` and return it.

    Expanded ``Any`` values (``[type.googleapis.com/tensorflow.X] { ... }``)
    are looked up in ``pool``, not in protobuf's default pool.
    """
    from google.protobuf import text_format

    return cast(M, text_format.Parse(text, message, descriptor_pool=pool))


def format_text(message: Message, pool: descriptor_pool.DescriptorPool) -> str:
    """Return ``message`` in text format, expanding ``Any`` values found in ``pool``."""
    from google.protobuf import text_format

    return cast(str, text_format.MessageToString(message, descriptor_pool=pool))
