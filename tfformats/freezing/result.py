"""What freezing returns: the frozen GraphDef and what happened to each variable and table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .tables import TableInit
from .variables import VariableSource


class FreezeWarning(UserWarning):
    """Freezing finished but the result is probably not what was wanted."""


@dataclass(frozen=True)
class FreezeResult:
    """A frozen GraphDef and a report of how it was made.

    ``initializer`` names the NoOp to run once before the outputs when the graph keeps lookup
    tables (as ``freeze_graph.py --initializer_nodes`` expects); None when there are none.
    """

    graph_def: Any
    frozen: list[str]  # variable nodes turned into Const
    kept: list[str]  # variable nodes the outputs need that were left as variables (keep/skip)
    sources: dict[str, VariableSource]  # checkpoint source of every frozen variable
    variables_in_graph: int  # variable nodes in the whole input graph
    inputs: dict[str, str] = field(default_factory=dict)  # signature input key -> tensor to feed
    outputs: dict[str, str] = field(default_factory=dict)  # signature output key -> tensor to fetch
    initializer: Optional[str] = None
    tables: list[TableInit] = field(default_factory=list)
    functions_inlined: int = 0


__all__ = ["FreezeResult", "FreezeWarning"]
