"""The ``checkpoint`` state file: which checkpoint in a folder is the latest."""

from __future__ import annotations

import glob
import os
import time
from typing import Optional, Sequence

from .._io.atomic import write_bytes
from ..errors import FormatError, PathLike

STATE_FILENAME = "checkpoint"


def read_state(path: PathLike) -> object:
    """Parse a ``checkpoint`` file (or the folder holding one) into a CheckpointState."""
    from google.protobuf import text_format

    from ..proto import CheckpointState

    file = os.fspath(path)
    if os.path.isdir(file):
        file = os.path.join(file, STATE_FILENAME)
    with open(file, "rb") as f:
        raw = f.read(1 << 24)
    state = CheckpointState()
    try:
        text_format.Parse(raw.decode("utf-8"), state)
    except Exception as exc:
        raise FormatError(f"not a checkpoint state file: {exc}", file) from None
    return state


def resolve_state_path(state_file: PathLike, recorded: str) -> str:
    """Resolve a path recorded in a state file: relative ones against its folder.

    An absolute path that no longer exists (the folder was moved) falls back
    to the same base name beside the state file.
    """
    folder = os.path.dirname(os.fspath(state_file))
    if not os.path.isabs(recorded):
        return os.path.join(folder, recorded)
    if _checkpoint_exists(recorded):
        return recorded
    local = os.path.join(folder, os.path.basename(recorded))
    return local if _checkpoint_exists(local) else recorded


def _checkpoint_exists(prefix: str) -> bool:
    return os.path.exists(prefix + ".index") or bool(glob.glob(glob.escape(prefix)) or glob.glob(prefix))


def latest_checkpoint(directory: PathLike) -> Optional[str]:
    """Like ``tf.train.latest_checkpoint``: the newest prefix named by the state file, if it exists."""
    file = os.path.join(os.fspath(directory), STATE_FILENAME)
    if not os.path.isfile(file):
        return None
    state = read_state(file)
    recorded = state.model_checkpoint_path  # type: ignore[attr-defined]
    if not recorded:
        return None
    prefix = resolve_state_path(file, recorded)
    return prefix if _checkpoint_exists(prefix) else None


def write_state(
    directory: PathLike,
    latest: str,
    all_paths: Sequence[str] = (),
    timestamps: Sequence[float] = (),
) -> str:
    """Write a ``checkpoint`` file naming ``latest``; paths inside ``directory`` are stored relative."""
    from google.protobuf import text_format

    from ..proto import CheckpointState

    folder = os.fspath(directory)

    def rel(p: str) -> str:
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
    file = os.path.join(folder, STATE_FILENAME)
    write_bytes(file, text_format.MessageToString(state).encode("utf-8"))
    return file
