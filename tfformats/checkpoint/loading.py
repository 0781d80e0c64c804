"""Front door for checkpoints: find one from a path, open it, list and load tensors."""

from __future__ import annotations

import glob
import os

import numpy as np

from ..bundle import naming
from ..bundle.reader import BundleReader
from ..errors import CheckpointNotFoundError, FormatError, PathLike
from . import state
from .interface import CheckpointReader
from .v1 import V1Reader

_TABLE_MAGIC_TAIL = bytes.fromhex("57fb808b247547db")


def _is_table(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() < 48:
                return False
            f.seek(-8, os.SEEK_END)
            return f.read(8) == _TABLE_MAGIC_TAIL
    except OSError:
        return False


def resolve_checkpoint(path: PathLike) -> tuple[str, str]:
    """Return ``(format, prefix)`` for anything that names a checkpoint.

    Accepts a prefix (``dir/model.ckpt-1000``), an ``.index`` or ``.data-*``
    file, a ``checkpoint`` state file, a folder holding one, a SavedModel
    folder (its ``variables/variables`` bundle) and legacy V1 files or globs.
    """
    text = os.fspath(path)
    if os.path.isdir(text):
        latest = state.latest_checkpoint(text)
        if latest is not None:
            return resolve_checkpoint(latest)
        saved_model_vars = os.path.join(text, "variables", "variables")
        if os.path.exists(naming.index_path(saved_model_vars)):
            return "V2", saved_model_vars
        if os.path.isfile(os.path.join(text, state.STATE_FILENAME)):
            raise CheckpointNotFoundError("the checkpoint state file names a checkpoint that does not exist", text)
        indexes = glob.glob(os.path.join(glob.escape(text), "*.index"))
        if len(indexes) == 1:
            return "V2", indexes[0][: -len(naming.INDEX_SUFFIX)]
        if indexes:
            raise CheckpointNotFoundError(f"holds {len(indexes)} checkpoints and no 'checkpoint' state file; "
                                    "name one prefix", text)
        raise CheckpointNotFoundError("no checkpoint found in this folder", text)
    if os.path.basename(text) == state.STATE_FILENAME and os.path.isfile(text):
        recorded = state.read_state(text).model_checkpoint_path  # type: ignore[attr-defined]
        if not recorded:
            raise FormatError("checkpoint state file names no checkpoint", text)
        return resolve_checkpoint(state.resolve_state_path(text, recorded))
    if os.path.exists(naming.index_path(text)):
        return "V2", text
    prefix = naming.prefix_of(text)
    if prefix is not None and os.path.exists(naming.index_path(prefix)):
        return "V2", prefix
    if prefix is not None and text.endswith(naming.INDEX_SUFFIX):
        raise CheckpointNotFoundError("no such file", text)
    if os.path.isfile(text):
        if _is_table(text):
            return "V1", text
        raise FormatError("not a checkpoint: neither a V2 prefix (no .index beside it) nor a V1 table", text)
    if glob.glob(text):
        return "V1", text
    if prefix is not None:
        raise CheckpointNotFoundError("the .index file of this checkpoint is missing "
                                f"({naming.index_path(prefix)})", text)
    raise CheckpointNotFoundError(f"no checkpoint at this path (looked for {text}.index and {text})", text)


def load_checkpoint(path: PathLike, *, verify_checksums: bool = True) -> CheckpointReader:
    """Open a checkpoint for reading, like ``tf.train.load_checkpoint``.

    Example:
        >>> r = load_checkpoint("train/model.ckpt-1000")
        >>> r.get_tensor("dense/kernel").shape
        (784, 10)
    """
    fmt, prefix = resolve_checkpoint(path)
    if fmt == "V2":
        return BundleReader(prefix, verify_checksums=verify_checksums)
    return V1Reader(prefix, verify_checksums=verify_checksums)


def list_variables(path: PathLike) -> list[tuple[str, list[int]]]:
    """Sorted ``(name, shape)`` pairs, like ``tf.train.list_variables``."""
    with load_checkpoint(path) as reader:
        return sorted(reader.get_variable_to_shape_map().items())


def load_variable(path: PathLike, name: str) -> np.ndarray:
    """The value of one tensor, like ``tf.train.load_variable``."""
    if name.endswith(":0"):
        name = name[:-2]
    with load_checkpoint(path) as reader:
        return reader.get_tensor(name)


def latest_checkpoint(directory: PathLike) -> str | None:
    """The newest checkpoint prefix named by ``directory/checkpoint``, like ``tf.train.latest_checkpoint``."""
    return state.latest_checkpoint(directory)
