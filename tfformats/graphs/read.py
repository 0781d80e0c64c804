"""Read and write GraphDef, MetaGraphDef and SavedModel files.

Binary and text format are told apart by the bytes, not the file name: a
binary message almost always holds control bytes (field tags such as 0x12),
which never occur in text format. Text is parsed strictly, so a text file
is never mistaken for a binary message that happened to parse.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Literal, Optional

from .._io import fs
from .._io.source import StorageOptions
from ..errors import FormatError, ModelNotFoundError, PathLike, UnsupportedError

Kind = Literal["graph", "meta", "saved_model"]

SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
SAVED_MODEL_CPB = "saved_model.cpb"

# Bytes that never occur in a text-format proto outside string escapes.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NODE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*\Z")
_FIRST_TEXT_FIELD = re.compile(rb"\s*(?:#[^\n]*\n\s*)*([A-Za-z_][A-Za-z0-9_]*)")

_TEXT_FIELDS: dict[str, Kind] = {
    "node": "graph", "library": "graph", "versions": "graph", "version": "graph", "debug_info": "graph",
    "meta_info_def": "meta", "graph_def": "meta", "saver_def": "meta", "collection_def": "meta",
    "signature_def": "meta", "asset_file_def": "meta", "object_graph_def": "meta",
    "saved_model_schema_version": "saved_model", "meta_graphs": "saved_model",
}


def is_text(data: bytes) -> bool:
    """True if ``data`` looks like text-format protobuf rather than binary wire format."""
    if _BINARY_BYTES.search(data[:1 << 20]):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_bytes(path: PathLike, storage_options: StorageOptions = None) -> bytes:
    return fs.read_bytes(path, storage_options=storage_options)  # a URL: one request for the whole file


def _message(kind: Kind) -> Any:
    from ..proto import GraphDef, MetaGraphDef, SavedModel

    return {"graph": GraphDef, "meta": MetaGraphDef, "saved_model": SavedModel}[kind]()


# Leading bytes of files users often take for a TensorFlow graph, and what to say about them.
# No GraphDef, MetaGraphDef or SavedModel starts like a zip or HDF5 file; TensorFlow Lite's
# tag sits at offset 4, where a graph may hold a node name, so it is only named once parsing failed.
_FOREIGN = (
    (0, b"PK\x03\x04", "a zip archive (a Keras .keras file?), not a TensorFlow graph; "
                        "write a SavedModel with model.export(DIR) and use DIR"),
    (0, b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5 weights or model?), not a TensorFlow graph; "
                             "write a SavedModel with model.export(DIR) and use DIR"),
    (4, b"TFL3", "a TensorFlow Lite flatbuffer, not a TensorFlow graph"),
)


def _foreign_format(data: bytes, parse_failed: bool) -> Optional[str]:
    for offset, magic, what in _FOREIGN:
        if (offset == 0 or parse_failed) and data[offset:offset + len(magic)] == magic:
            return what
    return None


def parse_message(data: bytes, kind: Kind, path: Optional[PathLike] = None) -> Any:
    """Parse ``data`` (binary or text) as the message ``kind`` names."""
    from ..proto import parse_text

    message = _message(kind)
    name = type(message).__name__
    if is_text(data):
        try:
            return parse_text(data.decode("utf-8"), message)
        except Exception as exc:  # text_format.ParseError, or a bad Any type URL
            raise FormatError(f"not a text-format {name}: {exc}", path) from None
    foreign = _foreign_format(data, parse_failed=False)
    if foreign is not None:
        raise FormatError(foreign, path, 0)
    try:
        message.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError
        foreign = _foreign_format(data, parse_failed=True)
        if foreign is not None:
            raise FormatError(foreign, path, 0) from None
        raise FormatError(f"not a binary {name}: {exc}", path) from None
    return message


def _plausible_graph(graph: Any) -> bool:
    return all(_NODE_NAME.match(n.name) and _NODE_NAME.match(n.op) for n in graph.node[:50])


def detect_kind(data: bytes, path: Optional[PathLike] = None) -> Kind:
    """Guess whether ``data`` holds a GraphDef, a MetaGraphDef or a SavedModel."""
    if is_text(data):
        m = _FIRST_TEXT_FIELD.match(data)
        if m is None:
            return "graph"  # empty text is an empty GraphDef
        field = m.group(1).decode("ascii")
        if field not in _TEXT_FIELDS:
            raise FormatError(f"text starts with field {field!r}, which no GraphDef, MetaGraphDef "
                              "or SavedModel has", path)
        return _TEXT_FIELDS[field]
    from ..proto import GraphDef, MetaGraphDef, SavedModel

    # Binary: field 1 varint (0x08) then field 2 is how a SavedModel starts.
    if data[:1] == b"\x08":
        saved = SavedModel()
        try:
            saved.ParseFromString(data)
            if saved.meta_graphs:
                return "saved_model"
        except Exception:
            pass
    if path is not None and os.fspath(path).endswith(".meta"):
        return "meta"
    graph = GraphDef()
    try:
        graph.ParseFromString(data)
        if graph.node and _plausible_graph(graph):
            return "graph"
    except Exception:
        pass
    meta = MetaGraphDef()
    try:
        meta.ParseFromString(data)
        if meta.graph_def.node and _plausible_graph(meta.graph_def):
            return "meta"
    except Exception:
        pass
    return "graph"


def read_message(path: PathLike, *, storage_options: StorageOptions = None) -> tuple[Kind, Any]:
    """Read any graph-holding file or a SavedModel folder (local or an fsspec URL): ``(kind, message)``."""
    text = os.fspath(path)
    if text.endswith("/") or fs.isdir(text, storage_options=storage_options):
        return "saved_model", read_saved_model(text, storage_options=storage_options)
    data = _read_bytes(text, storage_options)
    kind = detect_kind(data, text)
    return kind, parse_message(data, kind, text)


def read_graph_def(path: PathLike, *, storage_options: StorageOptions = None) -> Any:
    """Read a GraphDef from a binary ``.pb`` or text ``.pbtxt`` file (format found from the content).

    Example:
        >>> g = read_graph_def("frozen.pb")
        >>> len(g.node)
        42
    """
    return parse_message(_read_bytes(path, storage_options), "graph", path)


def read_meta_graph(path: PathLike, *, storage_options: StorageOptions = None) -> Any:
    """Read a MetaGraphDef (``.meta``), binary or text."""
    return parse_message(_read_bytes(path, storage_options), "meta", path)


def saved_model_file(dirpath: PathLike, *, storage_options: StorageOptions = None) -> str:
    """The file holding a SavedModel's graphs: ``saved_model.pb`` wins over ``.pbtxt``."""
    d = os.fspath(dirpath).rstrip("/") or "/"
    opts = storage_options
    for name in (SAVED_MODEL_PB, SAVED_MODEL_PBTXT):
        candidate = fs.join(d, name)
        if fs.isfile(candidate, storage_options=opts):
            return candidate
    if fs.isfile(fs.join(d, SAVED_MODEL_CPB), storage_options=opts):
        raise UnsupportedError("chunked SavedModel (saved_model.cpb) is not supported", d)
    if not fs.isdir(d, storage_options=opts):
        raise ModelNotFoundError("no such SavedModel folder", d)
    raise ModelNotFoundError(f"no {SAVED_MODEL_PB} or {SAVED_MODEL_PBTXT} in this folder", d)


def read_saved_model(dirpath: PathLike, *, storage_options: StorageOptions = None) -> Any:
    """Read the SavedModel proto of a SavedModel folder (or of a saved_model.pb/.pbtxt file)."""
    text = os.fspath(dirpath)
    opts = storage_options
    is_file = fs.basename(text).startswith("saved_model.") and fs.isfile(text, storage_options=opts)
    path = text if is_file or (not text.endswith("/") and os.path.isfile(text)) else \
        saved_model_file(text, storage_options=opts)
    return parse_message(_read_bytes(path, opts), "saved_model", path)


def tag_sets(saved_model: Any) -> list[list[str]]:
    """The tag set of every meta graph, in file order."""
    return [list(m.meta_info_def.tags) for m in saved_model.meta_graphs]


def select_meta_graph(saved_model: Any, tags: Iterable[str] = ("serve",), path: Optional[PathLike] = None) -> Any:
    """The MetaGraphDef whose tag set equals ``tags`` (as TensorFlow's loader selects it)."""
    wanted = set(tags)
    for meta in saved_model.meta_graphs:
        if set(meta.meta_info_def.tags) == wanted:
            return meta
    available = "; ".join(",".join(sorted(t)) or "(no tags)" for t in tag_sets(saved_model)) or "none"
    raise FormatError(f"no meta graph with tags {','.join(sorted(wanted)) or '(none)'}; "
                      f"available tag sets: {available}", path)


def write_graph_def(graph_def: Any, path: PathLike, as_text: bool = False, *,
                    storage_options: StorageOptions = None) -> None:
    """Write a GraphDef (or any message) to ``path``, binary by default, like ``tf.io.write_graph``."""
    if as_text:
        from ..proto import format_text

        data = format_text(graph_def).encode("utf-8")
    else:
        data = graph_def.SerializeToString(deterministic=True)
    from .._io.atomic import write_bytes

    write_bytes(path, data, storage_options=storage_options)


__all__ = ["Kind", "detect_kind", "is_text", "parse_message", "read_graph_def", "read_message", "read_meta_graph",
           "read_saved_model", "saved_model_file", "select_meta_graph", "tag_sets", "write_graph_def"]
