"""The variables a TF1 MetaGraphDef lists in its collections, as ``VariableDef`` messages."""

from __future__ import annotations

from typing import Any, Iterator

# Collections whose entries are serialized VariableDefs.
VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "local_variables", "model_variables",
                        "moving_average_variables")


def variable_defs(meta_graph: Any) -> Iterator[Any]:
    """Every ``VariableDef`` in the variable collections of ``meta_graph`` (ones that do not parse are skipped)."""
    from google.protobuf.message import DecodeError

    from ..proto import VariableDef

    for name in VARIABLE_COLLECTIONS:
        if name not in meta_graph.collection_def:
            continue
        for raw in meta_graph.collection_def[name].bytes_list.value:
            var = VariableDef()
            try:
                var.ParseFromString(raw)
            except DecodeError:
                continue
            yield var
