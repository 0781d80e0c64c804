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
from .values import escapes

KERAS_METADATA = "keras_metadata.pb"


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


def audit_keras_metadata(report: Report, file: str) -> None:
    """``keras_metadata.pb`` (tf.keras SavedModels): JSON metadata of every layer."""
    from .._wire import LENGTH, iter_fields

    with open(file, "rb") as f:
        data = f.read()
    try:
        for number, wire, value in iter_fields(data):
            if number != 1 or wire != LENGTH or not isinstance(value, bytes):
                continue
            node_path, metadata = "", b""
            for inner_number, inner_wire, inner in iter_fields(value):
                if inner_number == 3 and inner_wire == LENGTH and isinstance(inner, bytes):
                    node_path = inner.decode("utf-8", "replace")
                elif inner_number == 5 and inner_wire == LENGTH and isinstance(inner, bytes):
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
