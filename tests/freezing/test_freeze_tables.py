"""Lookup tables keep initializers built from their data (asset files parsed as TensorFlow parses them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import tfformats as tff
from graph_cases import freeze_case_report, load_case
from tfformats.errors import GraphError
from tfformats.freezing.saved_model_v2 import load_and_freeze

SAVED_MODELS = Path(__file__).parent.parent / "fixtures" / "saved_models"


def _nodes(result: object) -> dict:
    return {n.name: n for n in result.graph_def.node}  # type: ignore[attr-defined]


def _consts(result: object, init_name: str) -> tuple[np.ndarray, np.ndarray]:
    by_name = _nodes(result)
    init = by_name[init_name]
    assert init.op == "InitializeTableV2"
    return (tff.to_numpy(by_name[init.input[1]].attr["value"].tensor),
            tff.to_numpy(by_name[init.input[2]].attr["value"].tensor))


def test_estimator_vocabulary_files_become_constant_keys_and_values() -> None:
    case = load_case("estimator_vocab")
    result = freeze_case_report(case)
    assert result.initializer and _nodes(result)[result.initializer].op == "NoOp"
    by_source = {Path(t.source).name: t for t in result.tables}
    assert set(by_source) == {"country.txt", "occupation.tsv"}
    keys, values = _consts(result, by_source["country.txt"].initializer)
    lines = (case.saved_model / "assets" / "country.txt").read_bytes().splitlines()
    assert list(keys) == lines and list(values) == list(range(len(lines)))
    keys, values = _consts(result, by_source["occupation.tsv"].initializer)
    rows = [line.split(b"\t") for line in (case.saved_model / "assets" / "occupation.tsv").read_bytes().splitlines()]
    assert list(keys) == [r[0] for r in rows] and values.dtype == np.int64
    assert list(values) == [int(r[1]) for r in rows]
    assert not {"InitializeTableFromTextFileV2", "VariableV2"} & {n.op for n in result.graph_def.node}


def test_tf2_vocabulary_assets_read_columns_with_the_delimiter_and_keep_utf8() -> None:
    result = load_and_freeze(str(SAVED_MODELS / "vocabulary_assets" / "model"))
    by_source = {Path(t.source).name: t for t in result.tables}
    keys, values = _consts(result, by_source["scores.csv"].initializer)
    assert list(keys) == [b"cat", b"mat", b"the"] and values.dtype == np.float32
    np.testing.assert_array_equal(values, np.array([0.5, -2.25, 7], np.float32))
    keys, _ = _consts(result, by_source["vocab.txt"].initializer)
    assert "émeu".encode() in list(keys)


def test_table_from_tensors_keeps_its_own_initializer() -> None:
    result = freeze_case_report(load_case("transform_sparse"))
    [table] = result.tables
    assert table.source == "tensors"
    assert _nodes(result)[table.initializer].op == "LookupTableImportV2"
    assert result.inputs["tokens/values"] == "tokens/values:0"
    assert set(result.outputs) == {"pooled", "token_ids/indices", "token_ids/values", "token_ids/dense_shape"}


def _copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(SAVED_MODELS / "vocabulary_assets" / "model", target)
    return target


def test_vocabulary_with_an_empty_line_is_refused_as_tensorflow_would(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "assets" / "vocab.txt").write_bytes(b"the\n\ncat\n")
    with pytest.raises(GraphError, match=r"table 'hash_table_1': vocabulary .*vocab.txt has an empty line \(2\)"):
        load_and_freeze(str(model))


def test_non_numeric_value_column_is_refused_naming_the_table(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "assets" / "scores.csv").write_bytes(b"cat,high\n")
    with pytest.raises(GraphError, match=r"table 'hash_table': .*scores.csv holds a value that is not a float"):
        load_and_freeze(str(model))


def test_missing_column_is_refused_naming_the_line(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "assets" / "scores.csv").write_bytes(b"cat,1\nmat\n")
    with pytest.raises(GraphError, match=r"line 2 of .*scores.csv has 1 columns, the value is column 1"):
        load_and_freeze(str(model))


def test_missing_asset_file_is_an_error_naming_it(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "assets" / "scores.csv").unlink()
    with pytest.raises(tff.errors.NotFoundError, match="scores.csv: vocabulary of table 'hash_table' is missing"):
        load_and_freeze(str(model))


def test_asset_path_leaving_the_assets_folder_is_refused(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    saved = tff.read_saved_model(model)
    saved.meta_graphs[0].asset_file_def[0].filename = "../../secret.txt"
    (model / "saved_model.pb").write_bytes(saved.SerializeToString())
    with pytest.raises(GraphError, match=r"asset '../../secret.txt' .* is outside"):
        load_and_freeze(str(model))


def test_mutable_table_and_file_not_owned_are_refused_in_tf2() -> None:
    with pytest.raises(GraphError, match=r"table 'MutableHashTable' is a MutableHashTableV2"):
        load_and_freeze(str(SAVED_MODELS / "mutable_table" / "model"))
    with pytest.raises(GraphError, match=r"table 'hash_table' is initialized from file .* not an asset"):
        load_and_freeze(str(SAVED_MODELS / "table_file_not_owned" / "model"))


def test_asset_that_is_a_symbolic_link_out_of_the_model_is_refused(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"cat,1\n")
    (model / "assets" / "scores.csv").unlink()
    (model / "assets" / "scores.csv").symlink_to(outside)
    with pytest.raises(GraphError, match=r"asset 'scores.csv' .* is outside"):
        load_and_freeze(str(model))


def test_graph_summary_of_a_frozen_table_graph_names_its_initializer(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tfformats.cli import main
    from tfformats.graphs.summary import graph_summary

    result = load_and_freeze(str(SAVED_MODELS / "vocabulary_assets" / "model"))
    assert graph_summary(result.graph_def)["initializers"] == [result.initializer]
    out = tmp_path / "frozen.pb"
    tff.write_graph_def(result.graph_def, out)
    assert main(["graph", str(out)]) == 0
    assert f"run once before the fetches (lookup tables): {result.initializer}" in capsys.readouterr().out


def test_table_filled_from_a_dataset_or_by_two_nodes_is_refused_naming_them() -> None:
    from tfformats.freezing.tables import rebuild_tables
    from tfformats.proto import GraphDef, parse_text

    base = 'node { name: "t" op: "HashTableV2" }\nnode { name: "ds" op: "Const" }\n'
    one = parse_text(base + 'node { name: "fill" op: "InitializeTableFromDataset" input: "t" input: "ds" }',
                     GraphDef())
    with pytest.raises(GraphError, match=r"table 't' is filled by node 'fill' \(InitializeTableFromDataset\)"):
        rebuild_tables(one, ["t"], {})
    two = parse_text(base + 'node { name: "a" op: "InitializeTableV2" input: "t" input: "ds" input: "ds" }\n'
                            'node { name: "b" op: "LookupTableImportV2" input: "t" input: "ds" input: "ds" }',
                     GraphDef())
    with pytest.raises(GraphError, match=r"table 't' is written by several nodes \('a' \(InitializeTableV2\), "
                                         r"'b' \(LookupTableImportV2\)\)"):
        rebuild_tables(two, ["t"], {})
    none = parse_text(base, GraphDef())
    with pytest.raises(GraphError, match=r"table 't' \(HashTableV2\) has no initializer"):
        rebuild_tables(none, ["t"], {})
