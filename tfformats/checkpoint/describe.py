"""What a checkpoint holds, as one JSON-ready document (what ``tfformats inspect --json`` prints)."""

from __future__ import annotations

from typing import Any

from . import object_graph
from .interface import CheckpointReader, TensorInfo


def tensor_doc(info: TensorInfo) -> dict[str, Any]:
    return {"name": info.name, "dtype": info.dtype.tf_name, "shape": list(info.shape), "elements": info.size,
            "bytes": info.nbytes, "slices": info.num_slices}


def describe(reader: CheckpointReader, path: str) -> dict[str, Any]:
    """Format, shards, totals, every tensor (sorted by name) and the object-graph summary; no values."""
    infos = reader.tensor_infos()
    ordered = [infos[name] for name in sorted(infos)]
    return {
        "path": path,
        "prefix": reader.prefix,
        "format": reader.kind,
        "num_shards": reader.num_shards,
        "num_tensors": len(ordered),
        "num_parameters": sum(i.size for i in ordered if i.dtype.itemsize),
        "total_bytes": sum(i.nbytes for i in ordered),
        "tensors": [tensor_doc(i) for i in ordered],
        "object_graph": object_graph.summary_of(reader),
    }
