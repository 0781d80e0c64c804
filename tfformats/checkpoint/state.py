"""The ``checkpoint`` state file: which checkpoint in a folder is the latest."""

from __future__ import annotations

import os
import time
from typing import Optional, Sequence

from .._io import fs
from .._io.atomic import write_bytes
from .._io.source import StorageOptions, is_url
from ..errors import FormatError, PathLike

STATE_FILENAME = "checkpoint"
# A state file is a few lines of text; anything larger is not one.
_MAX_STATE_BYTES = 1 << 24


def read_state(path: PathLike, *, storage_options: StorageOptions = None) -> object:
    """Parse a ``checkpoint`` file (or the folder holding one) into a CheckpointState."""
    from google.protobuf import text_format

    from ..proto import CheckpointState

    file = os.fspath(path)
    if (not is_url(file) or fs.basename(file) != STATE_FILENAME) and fs.isdir(file, storage_options=storage_options):
        file = fs.join(file, STATE_FILENAME)
    raw = fs.read_bytes(file, limit=_MAX_STATE_BYTES, storage_options=storage_options)
    state = CheckpointState()
    try:
        text_format.Parse(raw.decode("utf-8"), state)
    except Exception as exc:
        raise FormatError(f"not a checkpoint state file: {exc}", file) from None
    return state


def resolve_state_path(state_file: PathLike, recorded: str, *, storage_options: StorageOptions = None) -> str:
    """Resolve a path recorded in a state file: relative ones against its folder (a URL's folder for a URL).

    An absolute path that no longer exists (the folder was moved, or uploaded to a bucket) falls back
    to the same base name beside the state file.
    """
    opts = storage_options
    folder = fs.dirname(os.fspath(state_file))
    if not (os.path.isabs(recorded) or is_url(recorded)):
        return fs.join(folder, recorded)
    if _checkpoint_exists(recorded, opts):
        return recorded
    local = fs.join(folder, fs.basename(recorded))
    return local if _checkpoint_exists(local, opts) else recorded


def _checkpoint_exists(prefix: str, storage_options: StorageOptions = None) -> bool:
    opts = storage_options
    if fs.exists(prefix + ".index", storage_options=opts):
        return True
    if is_url(prefix):  # a V1 table file, or the glob of a sharded V1 save
        if fs.isfile(prefix, storage_options=opts):
            return True
        return any(c in prefix for c in "*?[") and bool(fs.glob(prefix, storage_options=opts))
    return bool(fs.glob(fs.glob_escape(prefix)) or fs.glob(prefix))


def latest_checkpoint(directory: PathLike, *, storage_options: StorageOptions = None) -> Optional[str]:
    """Like ``tf.train.latest_checkpoint``: the newest prefix named by the state file, if it exists."""
    opts = storage_options
    file = fs.join(os.fspath(directory), STATE_FILENAME)
    if not fs.isfile(file, storage_options=opts):
        return None
    state = read_state(file, storage_options=opts)
    recorded = state.model_checkpoint_path  # type: ignore[attr-defined]
    if not recorded:
        return None
    prefix = resolve_state_path(file, recorded, storage_options=opts)
    return prefix if _checkpoint_exists(prefix, opts) else None


def write_state(
    directory: PathLike,
    latest: str,
    all_paths: Sequence[str] = (),
    timestamps: Sequence[float] = (),
    *,
    storage_options: StorageOptions = None,
) -> str:
    """Write a ``checkpoint`` file naming ``latest``; paths inside ``directory`` are stored relative."""
    from google.protobuf import text_format

    from ..proto import CheckpointState

    folder = os.fspath(directory)
    remote = is_url(folder)

    def rel(p: str) -> str:
        if remote:
            return fs.basename(p) if fs.dirname(p).rstrip("/") == folder.rstrip("/") else p
        if os.path.isabs(p) and os.path.dirname(os.path.abspath(p)) == os.path.abspath(folder):
            return os.path.basename(p)
        return p

    state = CheckpointState()
    state.model_checkpoint_path = rel(latest)
    paths = list(all_paths) or [latest]
    state.all_model_checkpoint_paths.extend(rel(p) for p in paths)
    stamps = list(timestamps) or [time.time()] * len(paths)
    state.all_model_checkpoint_timestamps.extend(stamps)
    state.last_preserved_timestamp = min(stamps) if stamps else 0.0
    file = fs.join(folder, STATE_FILENAME)
    write_bytes(file, text_format.MessageToString(state).encode("utf-8"), storage_options=storage_options)
    return file
