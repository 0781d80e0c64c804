"""Exceptions raised by tfformats.

Every problem with the *content* of a file is a :class:`FormatError` (a
``ValueError``) that names the file and, where it helps, the byte offset.
"""

from __future__ import annotations

import os
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


class TFFormatsError(Exception):
    """Base class of every exception tfformats raises on purpose."""


class FormatError(TFFormatsError, ValueError):
    """A file is truncated, damaged, or not the format it was opened as.

    Attributes:
        path: the file the problem was found in (may be None for in-memory data).
        offset: byte offset of the problem inside ``path``, when known.
        detail: the message without the path and offset prefix.
    """

    def __init__(
        self,
        detail: str,
        path: Optional[PathLike] = None,
        offset: Optional[int] = None,
    ) -> None:
        self.detail = detail
        self.path = os.fspath(path) if path is not None else None
        self.offset = offset
        where = self.path or "<bytes>"
        if offset is not None:
            where = f"{where} at offset {offset}"
        super().__init__(f"{where}: {detail}")

    def with_path(self, path: PathLike) -> "FormatError":
        """Return a copy of this error attributed to ``path`` (keeps the subclass)."""
        err = type(self).__new__(type(self))
        FormatError.__init__(err, self.detail, path, self.offset)
        for key, value in self.__dict__.items():
            if key not in ("detail", "path", "offset"):
                setattr(err, key, value)
        return err


class ChecksumError(FormatError):
    """Stored crc32c does not match the bytes: the file is damaged."""


class UnsupportedError(FormatError):
    """The file is valid TensorFlow data that tfformats does not handle (yet)."""


class MissingShardError(FormatError, FileNotFoundError):
    """A data shard the index refers to does not exist."""


class GraphError(TFFormatsError, ValueError):
    """A graph cannot be processed as asked (unknown node, cycle, unsupported op)."""
