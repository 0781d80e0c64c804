"""Find the models in a folder tree (a model hub), local or behind an fsspec URL.

Rules, applied while walking a root folder:

- a folder holding ``saved_model.pb`` or ``saved_model.pbtxt`` is one SavedModel; nothing inside it is searched;
- every ``*.index`` file gives a checkpoint prefix, and a ``checkpoint`` state file adds the prefixes it
  names that exist in the same folder (legacy V1 files included);
- ``.pb`` and ``.pbtxt`` files are GraphDefs, ``.meta`` files MetaGraphDefs;
- hidden folders and files (a leading ``.``) are skipped; symbolic links are followed only while they
  stay inside the root;
- the result is sorted by path and has no duplicates.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, NamedTuple, Optional, Sequence

from ..errors import PathLike

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
STATE_FILE = "checkpoint"
GRAPH_SUFFIXES = (".pb", ".pbtxt")
META_SUFFIX = ".meta"
INDEX_SUFFIX = ".index"

# The kinds each task reads; a SavedModel counts for checkpoint tasks when it has variables.
TASK_KINDS: dict[str, frozenset[str]] = {
    "audit": frozenset({"saved_model", "checkpoint", "graph", "meta"}),
    "verify": frozenset({"saved_model", "checkpoint"}),
    "inspect": frozenset({"saved_model", "checkpoint"}),
    "graph": frozenset({"saved_model", "graph", "meta"}),
}

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")


class Model(NamedTuple):
    """One model found: the path to hand to a task, and what it is."""

    path: str
    kind: str  # "saved_model", "checkpoint", "graph" or "meta"


def is_url(path: str) -> bool:
    """True for ``s3://...``, ``memory://...``: anything fsspec serves (``file://`` included)."""
    return bool(_URL.match(path))


def is_saved_model_folder(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILES)


def _has_variables(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "variables", "variables.index"))


def _state_prefixes(folder: str, names: set[str]) -> list[str]:
    """Prefixes named by ``folder/checkpoint`` that exist beside it; a damaged state file names none."""
    from ..checkpoint import state as ckpt_state
    from ..errors import TFFormatsError

    try:
        recorded: Any = ckpt_state.read_state(os.path.join(folder, STATE_FILE))
    except (TFFormatsError, OSError, UnicodeDecodeError):
        return []
    found = []
    for entry in [recorded.model_checkpoint_path, *recorded.all_model_checkpoint_paths]:
        base = os.path.basename(entry) if entry else ""
        # Only files in this folder: a state file pointing elsewhere is not followed.
        if base and (base + INDEX_SUFFIX in names or base in names):
            found.append(os.path.join(folder, base))
    return found


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk_local(root: str) -> Iterable[Model]:
    real_root = os.path.realpath(root)
    seen_dirs: set[str] = set()
    stack = [root]
    linked: list[str] = []  # folders reached through a link: searched last, so real paths win duplicates
    while stack or linked:
        folder = stack.pop() if stack else linked.pop(0)
        real = os.path.realpath(folder)
        if real in seen_dirs or not _inside(real, real_root):
            continue
        seen_dirs.add(real)
        if is_saved_model_folder(folder):
            yield Model(folder, "saved_model")
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        names = {e.name for e in entries}
        subfolders: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() and not _inside(os.path.realpath(entry.path), real_root):
                continue
            if entry.is_dir():
                (linked if entry.is_symlink() else subfolders).append(entry.path)
            elif entry.name == STATE_FILE:
                yield from (Model(p, "checkpoint") for p in _state_prefixes(folder, names))
            elif entry.name.endswith(INDEX_SUFFIX):
                yield Model(entry.path[: -len(INDEX_SUFFIX)], "checkpoint")
            elif entry.name.endswith(GRAPH_SUFFIXES):
                yield Model(entry.path, "graph")
            elif entry.name.endswith(META_SUFFIX):
                yield Model(entry.path, "meta")
        stack.extend(reversed(subfolders))


def _walk_remote(root: str, storage_options: Optional[dict[str, object]] = None) -> Iterable[Model]:
    """The same rules over the file listing of an fsspec URL (state files are not read remotely)."""
    from .._io.remote import filesystem

    fs, base = filesystem(root, storage_options)
    protocol = root.split("://", 1)[0]
    files = sorted(str(f) for f in fs.find(base))
    strip = base.rstrip("/")

    def url(key: str) -> str:
        return f"{protocol}://{key}" if not key.startswith(f"{protocol}://") else key

    def rel_parts(key: str) -> list[str]:
        return key[len(strip):].lstrip("/").split("/")

    saved = sorted({f.rsplit("/", 1)[0] for f in files if f.rsplit("/", 1)[-1] in SAVED_MODEL_FILES})
    for folder in saved:
        if not any(_inside_key(folder, other) for other in saved if other != folder):
            yield Model(url(folder), "saved_model")
    for key in files:
        name = key.rsplit("/", 1)[-1]
        if any(p.startswith(".") for p in rel_parts(key)) or any(_inside_key(key, s) for s in saved):
            continue
        if name.endswith(INDEX_SUFFIX):
            yield Model(url(key[: -len(INDEX_SUFFIX)]), "checkpoint")
        elif name.endswith(GRAPH_SUFFIXES):
            yield Model(url(key), "graph")
        elif name.endswith(META_SUFFIX):
            yield Model(url(key), "meta")


def _inside_key(key: str, folder: str) -> bool:
    return key.startswith(folder.rstrip("/") + "/")


def discover(root: PathLike, *, task: Optional[str] = None,
             storage_options: Optional[dict[str, object]] = None) -> list[Model]:
    """Every model under ``root`` (sorted, no duplicates); with ``task``, only the kinds it reads.

    Example:
        >>> [m.kind for m in discover("hub", task="graph")]
        ['saved_model', 'graph', 'meta']
    """
    text = os.fspath(root)
    found = _walk_remote(text, storage_options) if is_url(text) else _walk_local(os.path.normpath(text))
    return select(found, task)


def select(models: Iterable[Model], task: Optional[str]) -> list[Model]:
    """Sorted, deduplicated models of the kinds ``task`` reads (every kind when ``task`` is None)."""
    kinds = TASK_KINDS.get(task or "audit", TASK_KINDS["audit"])
    unique: dict[str, Model] = {}
    # Of two names for one model (a link inside the root), the one without a link wins, else the first.
    for model in sorted(models, key=lambda m: (_through_link(m.path), m.path)):
        if model.kind not in kinds:
            continue
        if model.kind == "saved_model" and task in ("verify", "inspect") and not is_url(model.path) \
                and not _has_variables(model.path):
            continue
        key = model.path if is_url(model.path) else os.path.realpath(model.path)
        unique.setdefault(key, model)
    return sorted(unique.values(), key=lambda m: m.path)


def _through_link(path: str) -> bool:
    return not is_url(path) and os.path.realpath(path) != os.path.abspath(path)


def read_list(path: PathLike) -> list[str]:
    """Paths or URLs of a list file: one a line; blank lines and ``#`` comments are skipped."""
    with open(os.fspath(path), encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    return [line for line in lines if line and not line.startswith("#")]


def is_single_model_folder(path: str, task: str) -> bool:
    """True when a folder is itself one model for ``task`` (as the single-model command reads it)."""
    if is_saved_model_folder(path):
        return True
    if task in ("graph",):
        return False
    # verify, inspect and audit read a folder holding a state file or checkpoint files as that checkpoint.
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return STATE_FILE in names or any(n.endswith(INDEX_SUFFIX) for n in names)


def expand(inputs: Sequence[str], task: str, *, search_folders: bool = True,
           storage_options: Optional[dict[str, object]] = None) -> list[Model]:
    """Turn command-line inputs into models: folders that are not one model are searched."""
    found: list[Model] = []
    for item in inputs:
        if search_folders and is_url(item) and _remote_is_search_root(item, storage_options):
            found.extend(discover(item, task=task, storage_options=storage_options))
        elif search_folders and not is_url(item) and os.path.isdir(item) and not is_single_model_folder(item, task):
            found.extend(discover(item, task=task))
        else:
            found.append(Model(item, _kind_of(item)))
    unique: dict[str, Model] = {}
    for model in found:  # named inputs keep their order; duplicates are dropped
        unique.setdefault(model.path if is_url(model.path) else os.path.realpath(model.path), model)
    return list(unique.values())


def _remote_is_search_root(url: str, storage_options: Optional[dict[str, object]]) -> bool:
    from .._io.remote import filesystem
    from ..errors import TFFormatsError

    try:
        fs, key = filesystem(url, storage_options)
        if not fs.isdir(key):
            return False
        return not any(fs.exists(f"{key.rstrip('/')}/{name}") for name in SAVED_MODEL_FILES)
    except (OSError, ValueError, TFFormatsError):  # an unreachable URL is left for the task to report
        return False


def _kind_of(path: str) -> str:
    if not is_url(path) and os.path.isdir(path):
        return "saved_model" if is_saved_model_folder(path) else "checkpoint"
    if path.endswith(GRAPH_SUFFIXES):
        return "graph"
    if path.endswith(META_SUFFIX):
        return "meta"
    return "checkpoint"
