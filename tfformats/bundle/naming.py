"""File names of a checkpoint: ``<prefix>.index`` and ``<prefix>.data-KKKKK-of-NNNNN``."""

from __future__ import annotations

import os
import re

from ..errors import PathLike

INDEX_SUFFIX = ".index"
_DATA_RE = re.compile(r"\.data-(\d{5,})-of-(\d{5,})$")


def index_path(prefix: PathLike) -> str:
    return os.fspath(prefix) + INDEX_SUFFIX


def data_path(prefix: PathLike, shard_id: int, num_shards: int) -> str:
    return f"{os.fspath(prefix)}.data-{shard_id:05d}-of-{num_shards:05d}"


def prefix_of(path: PathLike) -> str | None:
    """The prefix of an ``.index`` or ``.data-*`` file name, or None."""
    text = os.fspath(path)
    if text.endswith(INDEX_SUFFIX):
        return text[: -len(INDEX_SUFFIX)]
    match = _DATA_RE.search(text)
    if match:
        return text[: match.start()]
    return None


def data_shards(prefix: PathLike) -> list[str]:
    """Existing ``.data-*`` files of ``prefix`` (for diagnostics)."""
    text = os.fspath(prefix)
    folder = os.path.dirname(text) or "."
    base = os.path.basename(text)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.join(folder, n) for n in names
                  if n.startswith(base + ".data-") and _DATA_RE.search(n))


def parse_data_path(path: PathLike) -> tuple[int, int] | None:
    """``(shard_id, num_shards)`` of a ``.data-KKKKK-of-NNNNN`` file name, or None."""
    match = _DATA_RE.search(os.fspath(path))
    return (int(match.group(1)), int(match.group(2))) if match else None
