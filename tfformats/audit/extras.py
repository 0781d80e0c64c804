"""What a SavedModel folder holds besides its graphs: asset files and Keras metadata.

Nothing here opens a path the model names: asset files are listed (symbolic
links reported, not followed) and ``keras_metadata.pb`` is read only when it
is a regular file of the folder.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from ..errors import FormatError
from .entries import KERAS_LOADER
from .report import Report

KERAS_METADATA = "keras_metadata.pb"


def escapes(name: str) -> bool:
    """True for an asset name that points outside the assets folder."""
    if not name or "\x00" in name or os.path.isabs(name) or name.startswith(("\\", "~")):
        return True
    parts = name.replace("\\", "/").split("/")
    return ".." in parts or (len(name) > 1 and name[1] == ":")


def judge_asset_name(report: Report, filename: str, tensor: str, location: str) -> None:
    entry = {"file": filename, "tensor": tensor, "outside": escapes(filename)}
    if entry not in report.assets:
        report.assets.append(entry)
    if escapes(filename):
        report.add("high", "asset", f"asset path {filename!r} (fed to {tensor!r}) points outside the assets "
                   "folder; TensorFlow would read that file", location, when="load")
    else:
        report.add("info", "asset", f"asset file {filename!r} is fed to {tensor!r}", location, when="load")


def audit_asset_folder(report: Report, folder: str) -> None:
    for sub in ("assets", "assets.extra"):
        root = os.path.join(folder, sub)
        if os.path.islink(root):
            report.add("high", "asset", f"{sub}/ is a symbolic link to {os.readlink(root)!r}", root)
            continue
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, folder)
                if os.path.islink(full):
                    report.add("high", "asset", f"{rel} is a symbolic link to {os.readlink(full)!r}; "
                               "loading the model reads whatever it points to", full)
                elif name in filenames:
                    report.add("info", "asset", f"asset file {rel} ({os.lstat(full).st_size} bytes)", full)


def _iter_wire(buf: bytes, path: str) -> Iterable[tuple[int, int, Any]]:
    """Yield ``(field, wire_type, value)`` of a protobuf message without a schema."""
    from ..table.layout import decode_varint

    pos, end = 0, len(buf)
    value: int | bytes
    while pos < end:
        key, pos = decode_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = decode_varint(buf, pos)
        elif wire == 2:
            length, pos = decode_varint(buf, pos)
            if pos + length > end:
                raise FormatError("length-delimited field runs past the end of the message", path, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise FormatError(f"unsupported wire type {wire}", path, pos)
        if pos > end:
            raise FormatError("field runs past the end of the message", path, pos)
        yield number, wire, value


def audit_keras_metadata(report: Report, file: str) -> None:
    """``keras_metadata.pb`` (tf.keras SavedModels): JSON metadata of every layer."""
    with open(file, "rb") as f:
        data = f.read()
    try:
        for number, wire, value in _iter_wire(data, file):
            if number != 1 or wire != 2:
                continue
            node_path, metadata = "", b""
            for inner_number, inner_wire, inner in _iter_wire(value, file):
                if inner_number == 3 and inner_wire == 2:
                    node_path = inner.decode("utf-8", "replace")
                elif inner_number == 5 and inner_wire == 2:
                    metadata = inner
            if metadata:
                judge_keras_json(report, metadata.decode("utf-8", "replace"), f"{file} > {node_path or 'node'}")
    except FormatError as exc:
        raise FormatError(f"keras metadata: {exc.detail}", file, exc.offset) from None


def judge_keras_json(report: Report, text: str, location: str) -> None:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        report.add("low", "keras", "Keras metadata is not valid JSON", location)
        return
    for layer in _iter_layers(doc):
        config = layer.get("config")
        name = config.get("name", "") if isinstance(config, dict) else ""
        report.add("high", "keras_lambda", f"Keras Lambda layer {name!r}: its Python code runs when Keras "
                   "loads the model", location, op="Lambda", node=str(name), when="load", loaders=(KERAS_LOADER,))


def _iter_layers(doc: Any, depth: int = 0) -> Iterable[dict[str, Any]]:
    """Every dict in a Keras config whose class_name is Lambda (bounded depth)."""
    if depth > 64:
        return
    if isinstance(doc, dict):
        if doc.get("class_name") == "Lambda":
            yield doc
        for value in doc.values():
            yield from _iter_layers(value, depth + 1)
    elif isinstance(doc, list):
        for value in doc:
            yield from _iter_layers(value, depth + 1)


__all__ = ["KERAS_METADATA", "audit_asset_folder", "audit_keras_metadata", "escapes", "judge_asset_name",
           "judge_keras_json"]
