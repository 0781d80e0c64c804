"""GraphDefs, MetaGraphDefs and SavedModels: reading, names, pruning and summaries."""

from __future__ import annotations

from .read import (read_graph_def, read_message, read_meta_graph, read_saved_model, select_meta_graph,
                   write_graph_def)

__all__ = ["read_graph_def", "read_message", "read_meta_graph", "read_saved_model", "select_meta_graph",
           "write_graph_def"]
