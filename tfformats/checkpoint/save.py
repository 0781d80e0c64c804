"""Save a mapping of arrays as a TensorFlow V2 checkpoint."""

from __future__ import annotations

import os
from typing import Mapping, Optional

from . import state
from .._io import fs
from .._io.source import StorageOptions
from ..bundle.writer import BundleWriter
from ..dtypes import DTypeLike
from ..errors import PathLike


def save_checkpoint(
    prefix: PathLike,
    tensors: Mapping[str, object],
    num_shards: int = 1,
    *,
    update_state: bool = False,
    dtypes: Optional[Mapping[str, DTypeLike]] = None,
    storage_options: StorageOptions = None,
) -> str:
    """Write ``tensors`` as a checkpoint TensorFlow reads with ``tf.train.load_checkpoint``.

    Tensors go into the data files in the mapping's order and are spread over
    ``num_shards`` shards by size. Nothing appears at ``prefix`` until every
    file is complete. With ``update_state=True`` the folder's ``checkpoint``
    file is rewritten to name this checkpoint as the latest.

    ``prefix`` may be an fsspec URL: the data files are uploaded first, the
    ``.index`` last and the state file after it, so a failed save leaves no
    ``.index`` at the URL.

    Args:
        tensors: name -> array (numpy or anything ``np.asarray`` accepts; bytes/str
            arrays become DT_STRING).
        dtypes: optional name -> stored dtype for values numpy cannot name, e.g. ``"qint8"``.

    Returns:
        The prefix written.

    Example:
        >>> save_checkpoint("out/model.ckpt", {"w": np.zeros((2, 3), np.float32)}, update_state=True)
        'out/model.ckpt'
    """
    path = os.fspath(prefix)
    chosen = dtypes or {}
    with BundleWriter(path, num_shards=num_shards, storage_options=storage_options) as writer:
        for name, value in tensors.items():
            writer.add(name, value, dtype=chosen.get(name))
        path = writer.prefix
    if update_state:
        record_latest(path, storage_options=storage_options)
    return path


def record_latest(prefix: PathLike, *, storage_options: StorageOptions = None) -> str:
    """Write the ``checkpoint`` file in ``prefix``'s folder naming ``prefix`` as the latest (relative path)."""
    import time

    path = os.fspath(prefix)
    folder = fs.dirname(path) or "."
    latest = fs.basename(path)
    paths: list[str] = []
    stamps: list[float] = []
    # Keep the history of a state file already in the folder (e.g. a CheckpointManager's), newest last.
    try:
        old = state.read_state(fs.join(folder, state.STATE_FILENAME), storage_options=storage_options)
        old_paths = list(old.all_model_checkpoint_paths)  # type: ignore[attr-defined]
        old_stamps = list(old.all_model_checkpoint_timestamps)  # type: ignore[attr-defined]
        if len(old_stamps) != len(old_paths):
            old_stamps = [0.0] * len(old_paths)
        for p, t in zip(old_paths, old_stamps):
            if p not in (latest, path):
                paths.append(p)
                stamps.append(t)
    except (OSError, ValueError):
        pass
    paths.append(latest)
    stamps.append(time.time())
    return state.write_state(folder, latest, paths, stamps, storage_options=storage_options)
