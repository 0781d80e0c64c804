"""inspect's summary, edit --strip-optimizer and the freezer share one idea of what an optimizer is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tfformats as tff
from fixture_data import CKPT_DIR
from tfformats.checkpoint import object_graph
from tfformats.checkpoint.interface import OBJECT_GRAPH_KEY
from tfformats.cli import main
from tfformats.proto import TrackableObjectGraph

TF2_OBJECT = CKPT_DIR / "tf2_object"


def _with_optimizer_called(name: str, dst: Path) -> Path:
    """A copy of the TF2 fixture whose optimizer hangs off the root as ``name`` instead of ``optimizer``."""
    prefix = dst / "ckpt-1"
    with tff.load_checkpoint(TF2_OBJECT) as reader:
        graph = TrackableObjectGraph()
        graph.CopyFrom(reader.object_graph)
        for child in graph.nodes[0].children:
            if child.local_name == "optimizer":
                child.local_name = name
        for node in graph.nodes:
            for attr in node.attributes:
                if attr.checkpoint_key.startswith("optimizer/"):
                    attr.checkpoint_key = name + attr.checkpoint_key[len("optimizer"):]
        with tff.BundleWriter(prefix) as writer:
            for key in reader.keys():
                if key == OBJECT_GRAPH_KEY:
                    writer.add(key, graph.SerializeToString())
                else:
                    new = name + key[len("optimizer"):] if key.startswith("optimizer/") else key
                    writer.add(new, reader.get_tensor(key))
    return prefix


def test_an_optimizer_under_another_attribute_is_an_optimizer_for_inspect_and_edit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = _with_optimizer_called("trainer", tmp_path)
    assert main(["inspect", str(prefix), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["object_graph"]
    assert summary["optimizers"] == ["trainer"]
    with tff.load_checkpoint(prefix) as reader:
        plan = tff.plan_edit(reader, strip_optimizer=True)
        graph = reader.object_graph
    stripped = [n for n in plan.dropped if n.startswith("trainer/")]
    assert stripped, plan.dropped
    removed, _ = object_graph.strip_optimizer_keys(graph)
    assert set(plan.dropped) == removed
    # The optimizer's own state (counter and its variables) is what inspect counts as optimizer variables.
    assert summary["optimizer_variables"] == len([k for k in removed if "/_variables/" in k or "_iterations" in k
                                                  or "_learning_rate" in k])


def test_the_summary_of_the_fixture_agrees_with_the_strip(capsys: pytest.CaptureFixture[str]) -> None:
    with tff.load_checkpoint(TF2_OBJECT) as reader:
        summary = object_graph.summarize(reader.object_graph)
        removed, rekey = object_graph.strip_optimizer_keys(reader.object_graph)
    assert summary["optimizers"] == ["optimizer"]
    assert all(k.startswith("optimizer/") for k in removed)
    # Keras 3 keys model weights under the optimizer; stripping re-keys them instead of dropping them.
    assert all(k.startswith("optimizer/_trainable_variables/") for k in rekey)
