"""Front door for checkpoints: find one from a path, open it, list and load tensors."""

from __future__ import annotations

import os

import numpy as np

from .._io import fs
from .._io.source import StorageOptions, is_url, local_path, open_source
from ..bundle import naming
from ..bundle.reader import BundleReader
from ..errors import CheckpointNotFoundError, FormatError, PathLike
from . import state
from .interface import CheckpointReader
from .v1 import V1Reader

_TABLE_MAGIC_TAIL = bytes.fromhex("57fb808b247547db")


def is_table_file(path: str, storage_options: StorageOptions = None) -> bool:
    if is_url(path):
        with open_source(path, storage_options=storage_options) as source:
            return source.size >= 48 and source.read(source.size - 8, 8) == _TABLE_MAGIC_TAIL
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() < 48:
                return False
            f.seek(-8, os.SEEK_END)
            return f.read(8) == _TABLE_MAGIC_TAIL
    except OSError:
        return False


def _resolve_folder(text: str, storage_options: StorageOptions) -> tuple[str, str]:
    opts = storage_options
    latest = state.latest_checkpoint(text, storage_options=opts)
    if latest is not None:
        return resolve_checkpoint(latest, storage_options=opts)
    saved_model_vars = fs.join(text, "variables", "variables")
    if fs.exists(naming.index_path(saved_model_vars), storage_options=opts):
        return "V2", saved_model_vars
    if fs.isfile(fs.join(text, state.STATE_FILENAME), storage_options=opts):
        raise CheckpointNotFoundError("the checkpoint state file names a checkpoint that does not exist", text)
    indexes = fs.glob(fs.join(fs.glob_escape(text), "*.index"), storage_options=opts)
    if len(indexes) == 1:
        return "V2", indexes[0][: -len(naming.INDEX_SUFFIX)]
    if indexes:
        raise CheckpointNotFoundError(f"holds {len(indexes)} checkpoints and no 'checkpoint' state file; "
                                      "name one prefix", text)
    raise CheckpointNotFoundError("no checkpoint found in this folder", text)


def resolve_checkpoint(path: PathLike, *, storage_options: StorageOptions = None) -> tuple[str, str]:
    """Return ``(format, prefix)`` for anything that names a checkpoint.

    Accepts a prefix (``dir/model.ckpt-1000``), an ``.index`` or ``.data-*``
    file, a ``checkpoint`` state file, a folder holding one, a SavedModel
    folder (its ``variables/variables`` bundle) and legacy V1 files or globs,
    each also as an fsspec URL (``s3://bucket/run/``).
    """
    text = os.fspath(path)
    opts = storage_options
    remote = is_url(text)
    if not remote:
        text = local_path(text)
    else:
        fs.require(text, storage_options=opts)  # a missing backend is named against the URL given
    # For a URL, each check is a request: a trailing "/" names a folder, and the likeliest case (a V2 prefix)
    # is tried before anything that would list a folder.
    if remote and text.endswith("/"):
        return _resolve_folder(text.rstrip("/"), opts)
    if remote and fs.exists(naming.index_path(text), storage_options=opts):
        return "V2", text
    if not remote and fs.isdir(text):
        return _resolve_folder(text, opts)
    if fs.basename(text) == state.STATE_FILENAME and fs.isfile(text, storage_options=opts):
        recorded = state.read_state(text, storage_options=opts).model_checkpoint_path  # type: ignore[attr-defined]
        if not recorded:
            raise FormatError("checkpoint state file names no checkpoint", text)
        return resolve_checkpoint(state.resolve_state_path(text, recorded, storage_options=opts),
                                  storage_options=opts)
    if not remote and fs.exists(naming.index_path(text)):
        return "V2", text
    prefix = naming.prefix_of(text)
    if prefix is not None and fs.exists(naming.index_path(prefix), storage_options=opts):
        return "V2", prefix
    if prefix is not None and text.endswith(naming.INDEX_SUFFIX):
        raise CheckpointNotFoundError("no such file", text)
    found = fs.info(text, storage_options=opts) if remote else None
    if remote and found is not None and found.get("type") == "directory":
        return _resolve_folder(text, opts)
    if (found is not None and found.get("type") != "directory") if remote else os.path.isfile(text):
        if is_table_file(text, opts):
            return "V1", text
        if remote and fs.isdir(text, storage_options=opts):
            return _resolve_folder(text, opts)
        raise FormatError("not a checkpoint: neither a V2 prefix (no .index beside it) nor a V1 table", text)
    if fs.glob(text, storage_options=opts):
        return "V1", text
    if prefix is not None:
        raise CheckpointNotFoundError("the .index file of this checkpoint is missing "
                                      f"({naming.index_path(prefix)})", text)
    raise CheckpointNotFoundError(f"no checkpoint at this path (looked for {text}.index and {text})", text)


def load_checkpoint(path: PathLike, *, verify_checksums: bool = True,
                    storage_options: StorageOptions = None) -> CheckpointReader:
    """Open a checkpoint for reading, like ``tf.train.load_checkpoint``.

    ``path`` may be an fsspec URL (``s3://``, ``gs://``, ``https://``, ``hf://`` ...): only the byte ranges
    needed are read; ``storage_options`` (credentials, endpoints) are passed to fsspec.

    Example:
        >>> r = load_checkpoint("train/model.ckpt-1000")
        >>> r.get_tensor("dense/kernel").shape
        (784, 10)
    """
    fmt, prefix = resolve_checkpoint(path, storage_options=storage_options)
    if fmt == "V2":
        return BundleReader(prefix, verify_checksums=verify_checksums, storage_options=storage_options)
    return V1Reader(prefix, verify_checksums=verify_checksums, storage_options=storage_options)


def list_variables(path: PathLike, *, storage_options: StorageOptions = None) -> list[tuple[str, list[int]]]:
    """Sorted ``(name, shape)`` pairs, like ``tf.train.list_variables`` (reads only the ``.index``)."""
    with load_checkpoint(path, storage_options=storage_options) as reader:
        return sorted(reader.get_variable_to_shape_map().items())


def load_variable(path: PathLike, name: str, *, storage_options: StorageOptions = None) -> np.ndarray:
    """The value of one tensor, like ``tf.train.load_variable`` (reads only that tensor's bytes)."""
    if name.endswith(":0"):
        name = name[:-2]
    with load_checkpoint(path, storage_options=storage_options) as reader:
        return reader.get_tensor(name)


def latest_checkpoint(directory: PathLike, *, storage_options: StorageOptions = None) -> str | None:
    """The newest checkpoint prefix named by ``directory/checkpoint``, like ``tf.train.latest_checkpoint``.

    For a URL, relative paths in the state file resolve against the URL's folder.
    """
    return state.latest_checkpoint(directory, storage_options=storage_options)
