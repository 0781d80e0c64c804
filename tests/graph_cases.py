"""Load the graph/freezing fixtures written by ``tools/fixtures/graphs.py`` (pure Python, no TensorFlow)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

GRAPHS_DIR = Path(__file__).parent / "fixtures" / "graphs"


@dataclass(frozen=True)
class GraphCase:
    """One TF-built model: its files, feeds and the outputs TensorFlow computed."""

    name: str
    dir: Path
    doc: dict[str, Any]
    feeds: dict[str, np.ndarray]  # tensor name -> value
    expected: list[np.ndarray]  # one per fetch

    @property
    def outputs(self) -> list[str]:
        return list(self.doc["outputs"])

    @property
    def fetches(self) -> list[str]:
        return list(self.doc["fetches"])

    @property
    def meta(self) -> Optional[Path]:
        return self.dir / self.doc["meta"] if self.doc.get("meta") else None

    @property
    def checkpoint(self) -> Optional[Path]:
        return self.dir / self.doc["checkpoint"] if self.doc.get("checkpoint") else None

    @property
    def graph(self) -> Path:
        return self.dir / self.doc["graph"]

    @property
    def saved_model(self) -> Optional[Path]:
        return self.dir / self.doc["saved_model"] if self.doc.get("saved_model") else None

    @property
    def tf_frozen(self) -> dict[str, Any]:
        return dict(self.doc.get("tf_frozen") or {})

    def freeze_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.doc.get("variable_map"):
            options["variable_map"] = self.doc["variable_map"]
        if self.doc.get("use_ema"):
            options["use_ema"] = True
        return options


def case_names() -> list[str]:
    return sorted(p.name for p in GRAPHS_DIR.iterdir()
                  if (p / "case.json").is_file() and "outputs" in json.loads((p / "case.json").read_text()))


def load_case(name: str) -> GraphCase:
    d = GRAPHS_DIR / name
    doc = json.loads((d / "case.json").read_text(encoding="utf-8"))
    with np.load(d / "case.npz", allow_pickle=False) as arrays:
        feeds = {tensor: arrays[key] for tensor, key in doc.get("feeds", {}).items()}
        expected = [arrays[f"out_{i}"] for i in range(len(doc.get("fetches", [])))]
    return GraphCase(name, d, doc, feeds, expected)


def freeze_case(case: GraphCase) -> Any:
    """Freeze a case the way a user would: from the SavedModel, or .meta + checkpoint."""
    import tfformats.freezing as fz

    if case.saved_model is not None:
        return fz.freeze_saved_model(case.saved_model, ("serve",), case.doc.get("signature", "serving_default"))
    return fz.freeze(str(case.meta), str(case.checkpoint), case.outputs, **case.freeze_options())
