"""A small model hub built from the committed fixtures, and fault files for the isolation tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_MODEL_FILES = (".index", ".meta", ".pb", ".pbtxt", "checkpoint")


def _copy_model_files(src: Path, dst: Path) -> None:
    """Copy the files of a fixture folder that make up models (not the expected values beside them)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name.endswith((".expected.json", ".expected.npz", ".object_graph.pbtxt")):
            continue
        if item.is_file():
            shutil.copy2(item, dst / item.name)


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    """A folder of models of every kind, one damaged checkpoint and a hidden folder."""
    root = tmp_path / "hub"
    shutil.copytree(FIXTURES / "saved_models" / "keras_mlp" / "model", root / "saved" / "keras_mlp")
    shutil.copytree(FIXTURES / "graphs" / "tf1_saved_model" / "saved_model", root / "saved" / "tf1")
    _copy_model_files(FIXTURES / "ckpt" / "tf1_saver", root / "train" / "tf1_saver")
    _copy_model_files(FIXTURES / "ckpt" / "sample", root / "train" / "sample")
    _copy_model_files(FIXTURES / "ckpt" / "v1_legacy", root / "train" / "v1_legacy")
    (root / "graphs").mkdir()
    shutil.copy2(FIXTURES / "graphs" / "mlp" / "graph.pb", root / "graphs" / "mlp.pb")
    shutil.copy2(FIXTURES / "graphs" / "seed_add" / "graph.pbtxt", root / "graphs" / "seed_add.pbtxt")
    shutil.copy2(FIXTURES / "audit" / "network__top.pb", root / "graphs" / "network.pb")
    # A checkpoint whose .index was cut short: a real damaged file.
    _copy_model_files(FIXTURES / "ckpt" / "sample", root / "damaged")
    os.remove(root / "damaged" / "checkpoint")
    index = root / "damaged" / "sample-1.index"
    index.write_bytes(index.read_bytes()[:40])
    (root / ".cache").mkdir()
    shutil.copy2(FIXTURES / "graphs" / "mlp" / "graph.pb", root / ".cache" / "hidden.pb")
    return root


@pytest.fixture
def make_faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], dict[str, str]]:
    """Write fault files (name -> instruction) and enable the test task; returns name -> path."""
    monkeypatch.setenv("TFFORMATS_BATCH_TEST_TASKS", "1")
    folder = tmp_path / "faults"
    folder.mkdir(exist_ok=True)

    def make(instructions: dict[str, str]) -> dict[str, str]:
        paths = {}
        for name, text in instructions.items():
            path = folder / f"{name}.fault"
            path.write_text(text + "\n", encoding="utf-8")
            paths[name] = str(path)
        return paths

    return make
