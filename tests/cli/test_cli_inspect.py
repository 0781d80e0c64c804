"""``tfformats inspect`` against what TensorFlow reported for the fixture checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixture_data import CKPT_DIR, all_prefixes, case_dir, load_expected
from tfformats.checkpoint import stats as stats_module
from tfformats.cli import inspect_cmd, main

PREFIXES = all_prefixes()
IDS = [str(p.relative_to(CKPT_DIR)) for p in PREFIXES]


def _inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _first_prefix(case: str) -> Path:
    return next(p for p in PREFIXES if p.relative_to(CKPT_DIR).parts[0] == case)


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_inspect_json_lists_every_tensor_with_tensorflows_dtype_and_shape(
        prefix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = load_expected(prefix)
    doc = _inspect_json(capsys, str(prefix))
    listed = {t["name"]: t for t in doc["tensors"]}
    assert [t["name"] for t in doc["tensors"]] == sorted(expected.shapes)
    assert {n: t["shape"] for n, t in listed.items()} == expected.shapes
    assert {n: t["dtype"] for n, t in listed.items()} == expected.dtypes
    assert doc["num_tensors"] == len(expected.shapes)
    numeric = [n for n, d in expected.dtypes.items() if d not in ("string", "variant")]
    assert doc["num_parameters"] == sum(int(np.prod(expected.shapes[n])) for n in numeric)
    for name, t in listed.items():
        assert t["elements"] == int(np.prod(expected.shapes[name]))


@pytest.mark.parametrize("prefix", [p for p in PREFIXES if load_expected(p).format == "v2"],
                         ids=[i for p, i in zip(PREFIXES, IDS) if load_expected(p).format == "v2"])
def test_inspect_total_bytes_equal_the_data_files_tensorflow_wrote(
        prefix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _inspect_json(capsys, str(prefix))
    data_files = sorted(prefix.parent.glob(prefix.name + ".data-*"))
    assert doc["num_shards"] == len(data_files)
    assert doc["total_bytes"] == sum(f.stat().st_size for f in data_files)


def test_inspect_reports_the_format_of_each_kind_of_checkpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert _inspect_json(capsys, str(case_dir("tf1_saver")))["format"] == "V2"
    assert _inspect_json(capsys, str(case_dir("tf2_object")))["format"] == "TF2-object"
    assert _inspect_json(capsys, str(_first_prefix("v1_legacy")))["format"] == "V1"
    assert _inspect_json(capsys, str(case_dir("tf1_saver")))["object_graph"] is None


@pytest.mark.parametrize("case", ["tf2_object", "tf2_legacy_slots", "sample"])
def test_object_graph_summary_counts_the_variables_tensorflow_listed(
        case: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = load_expected(_first_prefix(case))
    graph = _inspect_json(capsys, str(case_dir(case)))["object_graph"]
    keys = [name for name, _ in expected.list_variables]
    assert graph["variables"] == sum(1 for k in keys if k.endswith("/.ATTRIBUTES/VARIABLE_VALUE"))
    assert graph["slot_variables"] == sum(1 for k in keys if "/.OPTIMIZER_SLOT/" in k)
    has_optimizer = any(k.startswith("optimizer/") or "/.OPTIMIZER_SLOT/" in k for k in keys)
    assert bool(graph["optimizers"]) == has_optimizer
    assert (graph["optimizer_variables"] > 0) == has_optimizer
    assert graph["optimizer_variables"] < graph["variables"]


def test_tensor_values_in_json_are_the_values_tensorflow_read(capsys: pytest.CaptureFixture[str]) -> None:
    prefix = _first_prefix("all_dtypes")
    expected = load_expected(prefix)
    for name, value in expected.values.items():
        if value.dtype.kind not in "fiub":  # complex and ml_dtypes types are covered by the stats test
            continue
        doc = _inspect_json(capsys, str(prefix), "--tensor", name, "--full")
        tensor = doc["tensor"]
        assert tensor["shape"] == list(value.shape) and tensor["truncated"] is False
        got = [float(v) if isinstance(v, str) else v for v in tensor["values"]]
        flat = value.reshape(-1)
        with np.errstate(invalid="ignore"):
            want = flat.astype(np.float64).tolist() if value.dtype.kind == "f" else flat.tolist()
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == w or (math.isnan(g) and math.isnan(w)), name


def test_tensor_listing_is_cut_short_without_full(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspect_cmd, "_SHOW", 3)
    prefix = _first_prefix("tf1_saver")
    expected = load_expected(prefix).values["dense/kernel"]
    tensor = _inspect_json(capsys, str(prefix), "--tensor", "dense/kernel")["tensor"]
    assert tensor["truncated"] is True
    assert tensor["values"] == expected.reshape(-1)[:3].astype(np.float64).tolist()
    tensor = _inspect_json(capsys, str(prefix), "--tensor", "dense/kernel", "--full")["tensor"]
    assert tensor["truncated"] is False and len(tensor["values"]) == expected.size


def test_string_values_keep_arbitrary_bytes_in_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    prefix = _first_prefix("all_dtypes")
    expected = load_expected(prefix).values["string/mixed"]
    assert main(["inspect", str(prefix), "--tensor", "string/mixed"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("string/mixed  string[2, 4]")
    for item in expected.reshape(-1)[:5]:
        assert repr(item) in out


def test_stats_match_numpy_on_the_values_tensorflow_read(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "_STATS_CHUNK", 4)  # several chunks per tensor
    prefix = _first_prefix("all_dtypes")
    expected = load_expected(prefix)
    doc = _inspect_json(capsys, str(prefix), "--stats")
    stats = {t["name"]: t["stats"] for t in doc["tensors"]}
    for name, value in expected.values.items():
        got = stats[name]
        if value.dtype == object:
            lengths = [len(v) for v in value.reshape(-1)]
            assert got["count"] == len(lengths)
            if lengths:
                assert (got["min_length"], got["max_length"]) == (min(lengths), max(lengths))
            continue
        wide = value.reshape(-1).astype(np.complex128 if value.dtype.kind == "c" else np.float64)
        bad_nan = np.isnan(wide)
        bad_inf = np.isinf(wide)
        assert (got["nan"], got["inf"]) == (int(bad_nan.sum()), int(bad_inf.sum())), name
        finite = wide[~(bad_nan | bad_inf)]
        finite = np.abs(finite) if value.dtype.kind == "c" else finite.real
        if finite.size == 0:
            assert got["mean"] is None, name
            continue
        assert got["min"] == pytest.approx(float(finite.min())), name
        assert got["max"] == pytest.approx(float(finite.max())), name
        assert got["mean"] == pytest.approx(float(finite.mean()), rel=1e-9, abs=1e-300), name
        assert got["std"] == pytest.approx(float(finite.std()), rel=1e-6, abs=1e-12), name


def test_all_prints_every_tensor_value(capsys: pytest.CaptureFixture[str]) -> None:
    prefix = _first_prefix("tf1_saver")
    expected = load_expected(prefix)
    assert main(["inspect", str(prefix), "--all"]) == 0
    out = capsys.readouterr().out
    for name in expected.shapes:
        assert f"tensor_name:  {name}\n" in out
    doc = _inspect_json(capsys, str(prefix), "--all")
    assert all("values" in t for t in doc["tensors"])


def test_table_output_shows_each_tensor_and_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    prefix = _first_prefix("partitioned")
    expected = load_expected(prefix)
    assert main(["inspect", str(prefix)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["name", "dtype", "shape", "elements", "bytes"]
    assert "slices" in lines[0]  # partitioned tensors show their slice count
    for name, shape in expected.shapes.items():
        row = next(line for line in lines if line.startswith(name + " "))
        assert "[" + ", ".join(str(d) for d in shape) + "]" in row
    assert f"tensors: {len(expected.shapes)}" in out and "format: V2" in out and "shards: 1" in out


def test_unknown_tensor_name_exits_2_and_suggests_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    prefix = _first_prefix("tf1_saver")
    assert main(["inspect", str(prefix), "--tensor", "dense/kernal"]) == 2
    err = capsys.readouterr().err
    assert "dense/kernal" in err and "dense/kernel" in err


def test_a_path_that_is_not_a_checkpoint_exits_2_with_one_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    assert main(["inspect", str(junk)]) == 2
    err = capsys.readouterr().err
    assert str(junk) in err and len(err.strip().splitlines()) == 1
