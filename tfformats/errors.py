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


class TruncatedError(FormatError):
    """A file ends before the data its own structure promises (a cut download, a full disk)."""


class WrongFormatError(FormatError):
    """A file is some other kind of file than the one it was opened as (wrong magic, wrong message).

    ``actual`` names what the file is when that is known (``"V1"`` for a legacy V1 checkpoint, ``"V2-index"`` for
    a TensorBundle index), so that callers can say what to do instead.
    """

    def __init__(self, detail: str, path: Optional[PathLike] = None, offset: Optional[int] = None,
                 actual: Optional[str] = None) -> None:
        super().__init__(detail, path, offset)
        self.actual = actual


class ChecksumError(FormatError):
    """Stored crc32c does not match the bytes: the file is damaged."""


class UnsupportedError(FormatError):
    """The file is valid TensorFlow data that tfformats does not handle (yet)."""


class MissingShardError(FormatError, FileNotFoundError):
    """A data shard the index refers to does not exist."""


class GraphError(TFFormatsError, ValueError):
    """A graph cannot be processed as asked (unknown node, cycle, unsupported op)."""


class PathError(TFFormatsError, OSError):
    """A problem with a path itself rather than with a file's content; ``path`` is the path concerned.

    Also an ``OSError`` with ``filename`` and ``strerror`` set, so code written for ``open()`` errors keeps working.
    """

    def __init__(self, detail: str, path: PathLike) -> None:
        self.detail = detail
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {detail}")
        self.filename = self.path
        self.strerror = detail

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


class NotFoundError(PathError, FileNotFoundError):
    """A path names nothing tfformats can open."""


class CheckpointNotFoundError(NotFoundError):
    """Nothing that names a checkpoint exists at a path."""


class ModelNotFoundError(NotFoundError):
    """No graph, MetaGraph or SavedModel exists at a path."""


class OutputError(PathError):
    """An output file cannot be written where it was asked for (missing folder, a file in the way, no space)."""


class ArgumentError(TFFormatsError, ValueError):
    """A call names something the file does not have (a tag set, a signature, a tensor); the file itself is fine."""


class TensorNotFoundError(ArgumentError, KeyError):
    """A checkpoint has no tensor of the asked-for name (the checkpoint itself is fine)."""

    def __init__(self, detail: str, path: Optional[PathLike] = None) -> None:
        self.detail = detail
        self.path = os.fspath(path) if path is not None else None
        super().__init__(f"{self.path}: {detail}" if self.path else detail)

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}" if self.path else self.detail
