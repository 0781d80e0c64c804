"""Freeze graphs: replace variables with Const nodes holding their checkpoint values."""

from __future__ import annotations

from .freezer import freeze, freeze_graph_def, freeze_saved_model, freeze_saved_model_report
from .result import FreezeResult, FreezeWarning

__all__ = ["FreezeResult", "FreezeWarning", "freeze", "freeze_graph_def", "freeze_saved_model",
           "freeze_saved_model_report"]
