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

    @property
    def refuse(self) -> Optional[str]:
        """Regex of the error freezing must raise, for cases whose outputs cannot be frozen."""
        return self.doc.get("refuse")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.doc.get("tags") or ("serve",))

    def freeze_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.doc.get("variable_map"):
            options["variable_map"] = self.doc["variable_map"]
        if self.doc.get("use_ema"):
            options["use_ema"] = True
        return options


def _docs() -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(GRAPHS_DIR.iterdir()):
        if (p / "case.json").is_file():
            doc = json.loads((p / "case.json").read_text(encoding="utf-8"))
            if "outputs" in doc:
                out[p.name] = doc
    if not out:
        raise FileNotFoundError(f"no graph fixtures under {GRAPHS_DIR}; run tools/make_fixtures.py graphs")
    return out


def case_names(*, refused: bool = False) -> list[str]:
    """Cases that freeze (default), or with ``refused=True`` the ones freezing must refuse."""
    return [name for name, doc in _docs().items() if bool(doc.get("refuse")) == refused]


def load_case(name: str) -> GraphCase:
    d = GRAPHS_DIR / name
    doc = json.loads((d / "case.json").read_text(encoding="utf-8"))
    with np.load(d / "case.npz", allow_pickle=False) as arrays:
        feeds = {tensor: arrays[key] for tensor, key in doc.get("feeds", {}).items()}
        expected = [arrays[f"out_{i}"] for i in range(len(doc.get("fetches", [])))]
    return GraphCase(name, d, doc, feeds, expected)


def freeze_case_report(case: GraphCase) -> Any:
    """Freeze a case the way a user would (SavedModel, or .meta + checkpoint); the FreezeResult."""
    import tfformats.freezing as fz

    if case.saved_model is not None:
        return fz.freeze_saved_model_report(case.saved_model, case.tags, case.doc.get("signature", "serving_default"))
    return fz.freeze_graph_def(str(case.meta), str(case.checkpoint), case.outputs, warn=False,
                               **case.freeze_options())


def freeze_case(case: GraphCase) -> Any:
    """The frozen GraphDef of :func:`freeze_case_report`."""
    return freeze_case_report(case).graph_def


def cli_freeze_args(case: GraphCase, output: Any) -> list[str]:
    """The ``tfformats freeze`` command line that freezes ``case`` like :func:`freeze_case_report`."""
    if case.saved_model is not None:
        return ["freeze", str(case.saved_model), "--tag", ",".join(case.tags), "-o", str(output)]
    args = ["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", ",".join(case.outputs),
            "-o", str(output)]
    if case.doc.get("use_ema"):
        args.append("--use-ema")
    for name, key in (case.doc.get("variable_map") or {}).items():
        args += ["--variable-map", f"{name}={key}"]
    return args
