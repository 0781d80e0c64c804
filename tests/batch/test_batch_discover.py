"""Finding the models of a hub: which files and folders count, and which task reads which kind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tfformats.batch.discover import discover, expand, is_single_model_folder, read_list

ALL = [
    ("damaged/sample-1", "checkpoint"),
    ("graphs/mlp.pb", "graph"),
    ("graphs/network.pb", "graph"),
    ("graphs/seed_add.pbtxt", "graph"),
    ("saved/keras_mlp", "saved_model"),
    ("saved/tf1", "saved_model"),
    ("train/sample/sample-1", "checkpoint"),
    ("train/tf1_saver/model.ckpt-1", "checkpoint"),
    ("train/tf1_saver/model.ckpt-1.meta", "meta"),
    ("train/tf1_saver/model.ckpt-2", "checkpoint"),
    ("train/tf1_saver/model.ckpt-2.meta", "meta"),
    ("train/v1_legacy/model.ckpt", "checkpoint"),
    ("train/v1_legacy/model.ckpt.meta", "meta"),
]


def _relative(hub: Path, models: list) -> list[tuple[str, str]]:
    return [(os.path.relpath(m.path, hub), m.kind) for m in models]


def test_discover_finds_every_kind_sorted_and_skips_hidden_folders(hub: Path) -> None:
    assert _relative(hub, discover(hub)) == ALL


def test_saved_model_folder_is_one_model_and_its_variables_are_not_listed(hub: Path) -> None:
    paths = [m.path for m in discover(hub)]
    assert not any(os.sep + "variables" in p for p in paths)
    assert os.path.join(str(hub), "saved", "keras_mlp") in paths


def test_each_task_gets_the_kinds_it_reads(hub: Path) -> None:
    by_kind = {kind for _, kind in ALL}
    assert {m.kind for m in discover(hub, task="audit")} == by_kind
    assert {m.kind for m in discover(hub, task="graph")} == {"graph", "meta", "saved_model"}
    verify = _relative(hub, discover(hub, task="verify"))
    assert verify == [(p, k) for p, k in ALL if k in ("checkpoint", "saved_model")]
    assert _relative(hub, discover(hub, task="inspect")) == verify


def test_saved_model_without_variables_is_left_out_of_checkpoint_tasks(hub: Path) -> None:
    shutil.rmtree(hub / "saved" / "tf1" / "variables")
    paths = [os.path.relpath(m.path, hub) for m in discover(hub, task="verify")]
    assert "saved/tf1" not in paths
    assert "saved/tf1" in [os.path.relpath(m.path, hub) for m in discover(hub, task="graph")]


def test_links_inside_the_root_are_deduplicated_and_links_out_of_it_ignored(hub: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy2(hub / "graphs" / "mlp.pb", outside / "foreign.pb")
    os.symlink(outside, hub / "out_link")
    os.symlink(hub / "graphs", hub / "zz_graphs_again")
    os.symlink(hub, hub / "graphs" / "loop")
    assert _relative(hub, discover(hub)) == ALL


def test_state_file_naming_a_missing_checkpoint_adds_nothing(hub: Path) -> None:
    folder = hub / "train" / "sample"
    for name in os.listdir(folder):
        if name != "checkpoint":
            os.remove(folder / name)
    assert "train/sample/sample-1" not in [p for p, _ in _relative(hub, discover(hub))]


def test_single_model_folders_follow_what_the_single_command_reads(hub: Path) -> None:
    assert is_single_model_folder(str(hub / "saved" / "keras_mlp"), "graph")
    assert is_single_model_folder(str(hub / "train" / "tf1_saver"), "verify")
    assert is_single_model_folder(str(hub / "damaged"), "audit")  # holds an .index
    assert not is_single_model_folder(str(hub / "train" / "tf1_saver"), "graph")
    assert not is_single_model_folder(str(hub), "audit")


def test_expand_searches_folders_keeps_named_paths_and_drops_duplicates(hub: Path) -> None:
    named = str(hub / "graphs" / "mlp.pb")
    models = expand([named, str(hub / "graphs"), str(hub / "saved" / "keras_mlp")], "graph")
    assert [os.path.relpath(m.path, hub) for m in models] == [
        "graphs/mlp.pb", "graphs/network.pb", "graphs/seed_add.pbtxt", "saved/keras_mlp"]
    assert [m.kind for m in models] == ["graph", "graph", "graph", "saved_model"]


def test_read_list_skips_blank_lines_and_comments(tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    listing.write_text("# models to check\n\na/model.ckpt\n  s3://bucket/export/1  \n", encoding="utf-8")
    assert read_list(listing) == ["a/model.ckpt", "s3://bucket/export/1"]


def test_a_url_folder_is_searched_through_fsspec_with_the_same_rules(hub: Path) -> None:
    fsspec = __import__("pytest").importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = "/batch-discover-hub"
    try:
        for path in sorted(hub.rglob("*")):
            if path.is_file() and not path.is_symlink():
                fs.pipe(f"{root}/{path.relative_to(hub).as_posix()}", path.read_bytes())
        found = [(m.path.split(root + "/", 1)[1], m.kind) for m in discover(f"memory://{root}")]
        # State files are not read remotely: checkpoints come from their .index files.
        assert found == [(p, k) for p, k in ALL if p != "train/v1_legacy/model.ckpt"]
        assert all(m.path.startswith("memory://") for m in discover(f"memory://{root}"))
        assert expand([f"memory://{root}/graphs"], "graph") == discover(f"memory://{root}/graphs", task="graph")
    finally:
        fs.rm(root, recursive=True)
