"""Path operations that work the same for local paths and fsspec URLs.

The front doors (finding a checkpoint, reading a graph file, the ``checkpoint`` state file) ask these functions
instead of ``os.path``. Local paths (and ``file://``) go straight to ``os`` and ``glob``; fsspec is imported only
for URLs. Missing objects are reported as missing (False, None, ``NotFoundError``); every other problem with a
URL (access refused, a server error) raises a tfformats error naming it.
"""

from __future__ import annotations

import glob as _glob
import os
import posixpath
from typing import Any, Optional

from ..errors import NotFoundError, PathLike
from .source import StorageOptions, is_url, local_path

# An HTTP "folder" is an HTML page (Content-Type text/html) listing links; a larger page is never taken for one.
_LISTING_MAX = 1 << 20


def _fs(url: str, storage_options: StorageOptions) -> tuple[Any, str]:
    from .remote import filesystem

    return filesystem(url, storage_options)


def _is_http(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("http", "https")


def require(url: str, *, storage_options: StorageOptions = None) -> None:
    """Raise the one-line error naming ``url`` when the file system it needs cannot be used (not installed)."""
    _fs(url, storage_options)


def join(base: PathLike, *parts: str) -> str:
    """``base`` and ``parts`` joined with the separator of ``base`` (``/`` for URLs)."""
    text = os.fspath(base)
    if not is_url(text):
        return os.path.join(text, *parts)
    out = text
    for part in parts:
        out = part if is_url(part) else (out.rstrip("/") + "/" + part.lstrip("/") if part else out)
    return out


def dirname(path: PathLike) -> str:
    """The folder of ``path`` (a URL keeps its scheme and bucket)."""
    text = os.fspath(path)
    if not is_url(text):
        return os.path.dirname(text)
    scheme, rest = text.split("://", 1)
    head = posixpath.dirname(rest.rstrip("/"))
    return f"{scheme}://{head}" if head else f"{scheme}://{rest}"


def basename(path: PathLike) -> str:
    text = os.fspath(path)
    return posixpath.basename(text.rstrip("/")) if is_url(text) else os.path.basename(text)


def info(path: PathLike, *, storage_options: StorageOptions = None) -> Optional[dict[str, Any]]:
    """``{"type": "file" | "directory", "size": int | None, ...}`` for ``path``, or None when nothing is there."""
    text = os.fspath(path)
    if not is_url(text):
        try:
            st = os.stat(local_path(text))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return {"type": "directory" if os.path.isdir(local_path(text)) else "file", "size": st.st_size}
    from .remote import call

    fs, key = _fs(text, storage_options)
    try:
        found: dict[str, Any] = call(text, fs.info, key)
    except NotFoundError:
        return None
    return found


def exists(path: PathLike, *, storage_options: StorageOptions = None) -> bool:
    text = os.fspath(path)
    if not is_url(text):
        return os.path.exists(local_path(text))
    return info(text, storage_options=storage_options) is not None


def isfile(path: PathLike, *, storage_options: StorageOptions = None) -> bool:
    text = os.fspath(path)
    if not is_url(text):
        return os.path.isfile(local_path(text))
    found = info(text, storage_options=storage_options)
    return found is not None and found.get("type") != "directory"


def isdir(path: PathLike, *, storage_options: StorageOptions = None) -> bool:
    """True for a folder; on HTTP, for a small HTML page whose links list files below it."""
    text = os.fspath(path)
    if not is_url(text):
        return os.path.isdir(local_path(text))
    found = info(text, storage_options=storage_options)
    if found is None:
        return False
    if found.get("type") == "directory":
        return True
    if _is_http(text) and found.get("mimetype") == "text/html" and (found.get("size") or 0) <= _LISTING_MAX:
        return bool(listdir(text, storage_options=storage_options))
    return False


def listdir(path: PathLike, *, storage_options: StorageOptions = None) -> list[str]:
    """Names of the entries of a folder (empty when it has none or is not a folder)."""
    text = os.fspath(path)
    if not is_url(text):
        try:
            return sorted(os.listdir(local_path(text)))
        except OSError:
            return []
    from .remote import call

    fs, key = _fs(text, storage_options)
    try:
        entries = call(text, fs.ls, key, detail=False)
    except NotFoundError:
        return []
    base = text.rstrip("/") + "/"
    names = set()
    for entry in entries:
        full = entry if is_url(entry) else fs.unstrip_protocol(entry)
        if full.rstrip("/").startswith(base) or _is_http(text):
            name = basename(full)
            if name and full.rstrip("/") != text.rstrip("/"):
                names.add(name)
    return sorted(names)


def glob(pattern: PathLike, *, storage_options: StorageOptions = None) -> list[str]:
    """Paths matching a glob ``pattern``, sorted (URLs keep their scheme)."""
    text = os.fspath(pattern)
    if not is_url(text):
        return sorted(_glob.glob(local_path(text)))
    from .remote import call

    fs, key = _fs(text, storage_options)
    try:
        found = call(text, fs.glob, key)
    except NotFoundError:
        return []
    return sorted(p if is_url(p) else fs.unstrip_protocol(p) for p in found)


def glob_escape(path: PathLike) -> str:
    return _glob.escape(os.fspath(path))


def read_bytes(path: PathLike, *, limit: Optional[int] = None, storage_options: StorageOptions = None) -> bytes:
    """The whole content of ``path`` in one read (one request for a URL), at most ``limit`` bytes.

    Raises NotFoundError (a FileNotFoundError) when ``path`` does not exist.
    """
    text = os.fspath(path)
    if not is_url(text):
        with open(local_path(text), "rb") as f:
            return f.read() if limit is None else f.read(limit)
    from .remote import RemoteFile

    source = RemoteFile(text, storage_options)
    size = source.size if limit is None else min(source.size, limit)
    return source.fetch(0, size) if size else b""


def write_bytes(url: str, data: bytes | bytearray | memoryview, *, storage_options: StorageOptions = None) -> None:
    """Store ``data`` as the object ``url`` in one upload (it appears whole or not at all)."""
    from .remote import call

    fs, key = _fs(url, storage_options)
    call(url, fs.pipe_file, key, bytes(data))


def upload(local: str, url: str, *, storage_options: StorageOptions = None) -> None:
    """Copy the local file ``local`` to the object ``url``."""
    from .remote import call

    fs, key = _fs(url, storage_options)
    call(url, fs.put_file, local, key)


def remove(path: PathLike, *, storage_options: StorageOptions = None) -> None:
    """Delete a file or object; nothing happens when it does not exist."""
    text = os.fspath(path)
    if not is_url(text):
        try:
            os.remove(local_path(text))
        except FileNotFoundError:
            pass
        return
    from .remote import call

    fs, key = _fs(text, storage_options)
    try:
        call(text, fs.rm_file, key)
    except NotFoundError:
        pass


__all__ = ["basename", "dirname", "exists", "glob", "glob_escape", "info", "isdir", "isfile", "join", "listdir",
           "read_bytes", "remove", "require", "upload", "write_bytes"]


def download(url: str, dest_dir: str, *, storage_options: StorageOptions = None) -> str:
    """Copy what ``url`` names into ``dest_dir``: a file, a folder (every file below it) or a checkpoint prefix
    (its ``.index``, ``.data-*`` and other files). Returns the local path that stands for ``url``.

    For work that needs every byte anyway (an audit checks every tensor); readers use byte ranges instead.
    """
    from .remote import call

    fs, key = _fs(url, storage_options)
    name = posixpath.basename(key.rstrip("/")) or "model"
    target = os.path.join(dest_dir, name)
    if isdir(url, storage_options=storage_options):
        root = key.rstrip("/")
        for remote_file in sorted(call(url, fs.find, root)):
            rel = posixpath.relpath(remote_file, root)
            if rel.startswith("..") or rel == ".":
                continue
            local = os.path.join(target, *rel.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            call(url, fs.get_file, remote_file, local)
        return target
    if isfile(url, storage_options=storage_options):
        call(url, fs.get_file, key, target)
        return target
    siblings = glob(glob_escape(url) + ".*", storage_options=storage_options)
    if not siblings:
        raise NotFoundError("nothing at this URL: no file, folder or checkpoint prefix", url)
    for sibling in siblings:
        _, sibling_key = _fs(sibling, storage_options)
        call(url, fs.get_file, sibling_key, os.path.join(dest_dir, posixpath.basename(sibling_key)))
    return target
