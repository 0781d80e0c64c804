"""edit_checkpoint and `tfformats edit`: selection, optimizer stripping, EMA, rename, cast, atomic output."""

from __future__ import annotations

import os
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from fixture_data import CKPT_DIR
from tfformats.checkpoint import interface as checkpoint_reader
from tfformats.bundle import naming
from tfformats.checkpoint.loading import load_checkpoint
from tfformats.cli import main
from tfformats.rewrite.edit import edit_checkpoint, plan_edit, tf1_optimizer_keys
from tfformats.checkpoint.save import save_checkpoint

OG = checkpoint_reader.OBJECT_GRAPH_KEY


def _fixture(case: str, prefix: str = "") -> str:
    path = CKPT_DIR / case / prefix if prefix else CKPT_DIR / case
    if not path.exists() and not os.path.exists(naming.index_path(path)):
        pytest.fail(f"fixture {case} not generated" + " (tools/make_fixtures.py writes it)")
    return str(path)


def _values(prefix: str | Path) -> dict[str, np.ndarray]:
    with load_checkpoint(prefix) as reader:
        return {k: reader.get_tensor(k) for k in reader.keys()}


def _graph_keys(prefix: str | Path) -> set[str]:
    with load_checkpoint(prefix) as reader:
        graph = reader.object_graph
        return {a.checkpoint_key for n in graph.nodes for a in n.attributes}  # type: ignore[attr-defined]


def _element(x: object) -> bytes:
    while isinstance(x, np.ndarray):
        x = x[()]
    return bytes(x)  # type: ignore[arg-type]


def _bits(a: np.ndarray) -> bytes | list[bytes]:
    return [_element(x) for x in a.ravel()] if a.dtype == object else a.tobytes()


def test_untouched_tensors_are_copied_bit_for_bit(tmp_path: Path) -> None:
    src = _fixture("all_dtypes", "all_dtypes")
    edit_checkpoint(src, tmp_path / "out", update_state=False)
    before, after = _values(src), _values(tmp_path / "out")
    assert sorted(before) == sorted(after)
    for name in before:
        assert _bits(before[name]) == _bits(after[name]), name


def test_strip_optimizer_tf1_removes_slots_and_accumulators_only(tmp_path: Path) -> None:
    src = _fixture("tf1_saver", "model.ckpt-2")
    result = edit_checkpoint(src, tmp_path / "out", strip_optimizer=True)
    after = _values(tmp_path / "out")
    assert sorted(after) == ["dense/bias", "dense/kernel", "global_step", "logits/bias", "logits/kernel"]
    assert "beta1_power" in result.plan.dropped and "dense/kernel/Adam_1" in result.plan.dropped
    before = _values(src)
    for name, value in after.items():
        assert value.tobytes() == before[name].tobytes()


def test_strip_global_step_only_when_asked() -> None:
    names = ["w", "w/Adam", "w/Adam_1", "beta1_power", "global_step", "scope/Adam", "w/Momentum"]
    assert tf1_optimizer_keys(names) == {"w/Adam", "w/Adam_1", "beta1_power", "w/Momentum"}
    assert "global_step" in tf1_optimizer_keys(names, include_global_step=True)


def test_strip_optimizer_rekeys_keras3_weights_from_optimizer_path_to_model_path(tmp_path: Path) -> None:
    src = _fixture("tf2_object")
    result = edit_checkpoint(src, tmp_path / "out", strip_optimizer=True)
    after = _values(tmp_path / "out")
    weights = [k for k in after if k not in (OG, "save_counter/.ATTRIBUTES/VARIABLE_VALUE")]
    assert len(weights) == 4
    assert all(k.startswith("model/") for k in weights), weights
    assert not any(k.startswith("optimizer/") for k in after)
    assert _graph_keys(tmp_path / "out") == set(after) - {OG}
    before = _values(src)
    for old, new in result.plan.renamed.items():
        assert after[new].tobytes() == before[old].tobytes()


def test_dropping_a_variable_drops_its_slot_variables_and_graph_references(tmp_path: Path) -> None:
    src = _fixture("tf2_legacy_slots")
    edit_checkpoint(src, tmp_path / "out", drop=[r"^model/w/\.ATTRIBUTES"])
    after = _values(tmp_path / "out")
    assert not any(k.startswith("model/w/") for k in after)
    assert "model/b/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE" in after
    assert _graph_keys(tmp_path / "out") == set(after) - {OG}
    with load_checkpoint(tmp_path / "out") as reader:
        refs = [r for n in reader.object_graph.nodes for r in n.slot_variables]  # type: ignore[attr-defined]
    assert len(refs) == 2


def test_strip_optimizer_on_legacy_slots_keeps_model_and_counter(tmp_path: Path) -> None:
    src = _fixture("tf2_legacy_slots")
    edit_checkpoint(src, tmp_path / "out", strip_optimizer=True)
    after = _values(tmp_path / "out")
    assert sorted(after) == sorted([OG, "model/b/.ATTRIBUTES/VARIABLE_VALUE", "model/w/.ATTRIBUTES/VARIABLE_VALUE",
                                    "save_counter/.ATTRIBUTES/VARIABLE_VALUE"])
    assert _graph_keys(tmp_path / "out") == set(after) - {OG}


def test_use_ema_takes_the_average_and_drops_the_copies(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"w": np.zeros(3, np.float32),
                                              "w/ExponentialMovingAverage": np.ones(3, np.float32),
                                              "step": np.int64(5)})
    edit_checkpoint(src, tmp_path / "out", use_ema=True)
    after = _values(tmp_path / "out")
    assert sorted(after) == ["step", "w"]
    np.testing.assert_array_equal(after["w"], np.ones(3, np.float32))


def test_rename_applies_rules_in_order_with_groups(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"layer_1/w": np.ones(2), "layer_2/w": np.zeros(2)})
    edit_checkpoint(src, tmp_path / "out", rename=[r"layer_(\d)=block\1", "block1=first"])
    assert sorted(_values(tmp_path / "out")) == ["block2/w", "first/w"]


def test_rename_collision_fails_before_anything_is_written(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"a/w": np.ones(2), "b/w": np.zeros(2)})
    with pytest.raises(ValueError, match="both"):
        edit_checkpoint(src, tmp_path / "out" / "ck", rename=["^[ab]/=x/"])
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_cast_float32_to_bfloat16_and_back(tmp_path: Path) -> None:
    value = np.array([1.0, -2.5, np.nan, 3.14159], np.float32)
    src = save_checkpoint(tmp_path / "src", {"w": value, "i": np.arange(3)})
    edit_checkpoint(src, tmp_path / "bf", cast=["float32:bfloat16"])
    bf = _values(tmp_path / "bf")
    assert bf["w"].dtype == ml_dtypes.bfloat16 and bf["i"].dtype == np.int64
    assert bf["w"].tobytes() == value.astype(ml_dtypes.bfloat16).tobytes()
    edit_checkpoint(tmp_path / "bf", tmp_path / "back", cast=["bfloat16:float32"])
    back = _values(tmp_path / "back")["w"]
    assert back.tobytes() == value.astype(ml_dtypes.bfloat16).astype(np.float32).tobytes()


def test_cast_refuses_non_float_types(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"w": np.ones(2, np.float32)})
    with pytest.raises(ValueError, match="only float"):
        edit_checkpoint(src, tmp_path / "out", cast=["float32:int8"])


def test_shards_option_spreads_output(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {f"t{i}": np.full(50, i, np.int32) for i in range(6)})
    edit_checkpoint(src, tmp_path / "out", num_shards=3)
    assert len(naming.data_shards(tmp_path / "out")) == 3
    assert _values(tmp_path / "out")["t4"].tolist() == [4] * 50


def test_destination_equal_to_source_is_refused(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"w": np.ones(2)})
    with pytest.raises(ValueError, match="source"):
        edit_checkpoint(src, src)


def test_destination_folder_is_created_and_gets_state_file(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"w": np.ones(2)})
    edit_checkpoint(src, tmp_path / "new" / "dir" / "ck")
    from tfformats.checkpoint.loading import latest_checkpoint

    assert latest_checkpoint(tmp_path / "new" / "dir") == str(tmp_path / "new" / "dir" / "ck")


def test_damaged_source_fails_and_leaves_no_destination(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"w": np.arange(100, dtype=np.float32)})
    data = naming.data_path(src, 0, 1)
    raw = bytearray(Path(data).read_bytes())
    raw[10] ^= 0xFF
    Path(data).write_bytes(bytes(raw))
    from tfformats.errors import ChecksumError

    with pytest.raises(ChecksumError) as info:
        edit_checkpoint(src, tmp_path / "out" / "ck")
    assert "src.data-00000-of-00001" in str(info.value)
    assert os.listdir(tmp_path / "out") == []


def test_plan_keeps_only_matching_names(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "src", {"enc/w": np.ones(1), "dec/w": np.ones(1), "enc/b": np.ones(1)})
    with load_checkpoint(src) as reader:
        plan = plan_edit(reader, keep=["^enc/"], drop=["/b$"])
    assert [o.name for o in plan.outputs] == ["enc/w"]


def test_cli_edit_drop_and_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = save_checkpoint(tmp_path / "src", {"w": np.ones(2), "w/Momentum": np.ones(2)})
    code = main(["edit", src, str(tmp_path / "out"), "--drop", "Momentum", "--json", "--no-state"])
    assert code == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["dropped"] == ["w/Momentum"]
    assert not (tmp_path / "checkpoint").exists()


def test_cli_edit_reports_unreadable_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.index"
    bad.write_bytes(b"not a table at all, definitely not" * 3)
    code = main(["edit", str(tmp_path / "bad"), str(tmp_path / "out")])
    assert code == 2
    assert "bad.index" in capsys.readouterr().err


def test_partitioned_tensors_keep_their_slices_under_the_new_name(tmp_path: Path) -> None:
    src = _fixture("partitioned", "model.ckpt")
    before = _values(src)
    edit_checkpoint(src, tmp_path / "out", rename=["^(.)=renamed/\\1"])
    from tfformats.bundle.reader import BundleReader

    with BundleReader(tmp_path / "out") as reader:
        sliced = [n for n in reader.names() if reader.entry(n).slices]
        assert sliced, "expected at least one partitioned tensor to stay partitioned"
        for name, value in before.items():
            got = reader.get_tensor("renamed/" + name)
            assert _bits(got) == _bits(value), name


def test_legacy_v1_checkpoint_is_rewritten_as_v2(tmp_path: Path) -> None:
    src = _fixture("v1_legacy", "model.ckpt")
    before = _values(src)
    edit_checkpoint(src, tmp_path / "out")
    assert os.path.exists(naming.index_path(tmp_path / "out"))
    after = _values(tmp_path / "out")
    assert sorted(after) == sorted(before)
    for name in before:
        assert _bits(after[name]) == _bits(before[name]), name


def _large_tensors() -> dict[str, np.ndarray]:
    """Tensors past the size from which stored bytes are copied inside the kernel."""
    from tfformats._io.transfer import KERNEL_COPY_MIN

    rng = np.random.default_rng(3)
    n = KERNEL_COPY_MIN // 4 + 1000
    return {"big/a": rng.standard_normal(n).astype(np.float32), "big/b": rng.integers(-9, 9, (n // 2 + 1, 2)),
            "small": np.arange(5, dtype=np.int32)}


def test_large_tensors_are_copied_bit_for_bit_across_shards(tmp_path: Path) -> None:
    tensors = _large_tensors()
    src = save_checkpoint(tmp_path / "src", tensors)
    edit_checkpoint(src, tmp_path / "out", num_shards=2, rename=["^big/=large/"], update_state=False)
    after = _values(tmp_path / "out")
    assert sorted(after) == ["large/a", "large/b", "small"]
    for name, value in tensors.items():
        got = after[name.replace("big/", "large/")]
        assert got.dtype == value.dtype and got.tobytes() == value.tobytes(), name
    from tfformats._io.transfer import COPY_ALIGN

    with load_checkpoint(src) as before, load_checkpoint(tmp_path / "out") as edited:
        for name in ("big/a", "big/b"):  # copied by the kernel, lined up with the source
            assert edited.entry(name.replace("big/", "large/")).offset % COPY_ALIGN == \
                before.entry(name).offset % COPY_ALIGN, name


def test_damaged_large_tensor_fails_and_leaves_no_destination(tmp_path: Path) -> None:
    from tfformats.errors import ChecksumError

    src = save_checkpoint(tmp_path / "src", _large_tensors())
    data = naming.data_path(src, 0, 1)
    with open(data, "r+b") as f:
        f.seek(123456)
        byte = f.read(1)
        f.seek(123456)
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(ChecksumError) as info:
        edit_checkpoint(src, tmp_path / "out" / "ck", drop=["small"])
    assert "src.data-00000-of-00001" in str(info.value) and "big/a" in str(info.value)
    assert os.listdir(tmp_path / "out") == []
