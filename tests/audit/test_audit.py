"""``tfformats audit`` on graphs TensorFlow built (tests/fixtures/audit, tools/fixtures/audit.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixture_data import FIXTURES
from tfformats.audit import audit_path, default_catalog, severity_rank
from tfformats.audit.program import OpSite, Program
from tfformats.cli import main
from tfformats.proto import FunctionDef, GraphDef, MetaGraphDef

AUDIT = FIXTURES / "audit"
EXPECTED = json.loads((AUDIT / "expected.json").read_text(encoding="utf-8"))
GRAPHS = sorted(EXPECTED["graphs"])
TF1_META = FIXTURES / "ckpt" / "tf1_saver" / "model.ckpt-1.meta"

# The category each fixture family must raise, with the lowest severity it may get (the debug fixtures
# dump to a file:// URL, which makes them file writes).
CATEGORY = {"file_write": ("file_write", "critical"), "file_read": ("file_read", "high"),
            "python_callback": ("python_callback", "high"), "network": ("network", "high"),
            "memory_mapping": ("memory_mapping", "high"), "debug": ("file_write", "critical"),
            "custom": ("custom_op", "high")}
PLACEMENT_MARK = {"top": "graph > node", "function": "> function '", "nested_function": None,
                  "serialized_graph": "serialized GraphDef > node"}


@pytest.mark.parametrize("name", GRAPHS)
def test_audit_lists_every_op_tensorflow_sees_in_the_graph(name: str) -> None:
    report = audit_path(AUDIT / name)
    found = {s.op for s in report.sites if not s.call}
    assert found == set(EXPECTED["graphs"][name]["ops"])


@pytest.mark.parametrize("name", GRAPHS)
def test_audit_flags_the_category_wherever_the_op_hides(name: str) -> None:
    info = EXPECTED["graphs"][name]
    category, floor = CATEGORY[info["category"]]
    report = audit_path(AUDIT / name)
    hits = [f for f in report.findings if f.category == category]
    assert hits, [f.to_dict() for f in report.findings]
    assert all(severity_rank(f.severity) >= severity_rank(floor) for f in hits)
    location = hits[0].location
    if info["placement"] == "nested_function":
        assert any(" > ".join(p).count("function '") >= 2 for p in hits[0].via), hits[0].via
    else:
        assert PLACEMENT_MARK[info["placement"]] in location, location
    assert hits[0].when == "call" and hits[0].via


@pytest.mark.parametrize("name", GRAPHS)
def test_dangerous_graphs_fail_the_default_threshold(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(AUDIT / name)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_custom_op_is_high_and_names_the_op_and_its_attributes() -> None:
    report = audit_path(AUDIT / "custom__top.pb")
    hits = [f for f in report.findings if f.category == "custom_op"]
    assert [f.severity for f in hits] == ["high"]
    assert EXPECTED["custom_op"] in hits[0].message and "native kernel library" in hits[0].message
    assert main(["audit", str(AUDIT / "custom__top.pb")]) == 1


def test_clean_keras_saved_model_reports_nothing_above_low() -> None:
    report = audit_path(AUDIT / "keras_clean")
    assert report.kind == "saved_model"
    ops = set(report.op_counts())
    assert {"DisableCopyOnRead", "StaticRegexFullMatch", "While", "TensorListGetItem"} <= ops
    assert not report.at_least("medium"), [f.to_dict() for f in report.at_least("medium")]
    assert main(["audit", "--fail-on", "medium", str(AUDIT / "keras_clean")]) == 0


def test_clean_keras_saver_ops_are_info() -> None:
    report = audit_path(AUDIT / "keras_clean")
    saver = [f for f in report.findings if f.op in ("SaveV2", "RestoreV2", "MergeV2Checkpoints")]
    assert {f.op for f in saver} == {"SaveV2", "RestoreV2", "MergeV2Checkpoints"}
    assert {f.severity for f in saver} == {"info"}


def test_saved_model_signature_writing_a_file_is_critical() -> None:
    report = audit_path(AUDIT / "writes_file")
    hits = [f for f in report.findings if f.op == "WriteFile"]
    assert hits and hits[0].severity == "critical"
    assert "function '" in hits[0].location


def test_tf1_saver_ops_are_info_inside_the_saver_def() -> None:
    report = audit_path(TF1_META)
    ops = {f.op: f.severity for f in report.findings if f.op}
    assert ops.get("SaveV2") == "info" and ops.get("RestoreV2") == "info"


def test_saver_ops_writing_to_a_constant_path_are_not_the_savers(tmp_path: Path) -> None:
    meta = MetaGraphDef()
    meta.ParseFromString(TF1_META.read_bytes())
    meta.ClearField("saver_def")
    for node in meta.graph_def.node:  # the saver's fed file name becomes a constant the attacker chose
        if node.name == "save/Const":
            node.op = "Const"
            del node.input[:]
            node.attr.clear()
            node.attr["dtype"].type = 7
            node.attr["value"].tensor.dtype = 7
            node.attr["value"].tensor.string_val.append(b"/home/victim/.ssh/authorized_keys")
    out = tmp_path / "moved.meta"
    out.write_bytes(meta.SerializeToString())
    report = audit_path(out)
    severities = {f.op: f.severity for f in report.findings if f.op in ("SaveV2", "RestoreV2")}
    assert severities == {"SaveV2": "critical", "RestoreV2": "critical"}, severities
    assert all("authorized_keys" in f.message for f in report.findings if f.op in severities)


def test_a_second_saver_next_to_the_saver_def_is_info() -> None:
    # The TF1 SavedModel fixture has the training Saver's save/ besides the Builder's save_1/ (its SaverDef).
    saved_model = FIXTURES / "graphs" / "tf1_saved_model" / "saved_model"
    report = audit_path(saved_model)
    saver = [f for f in report.findings if f.op in ("SaveV2", "RestoreV2")]
    assert {f.location.rsplit("'", 2)[1].split("/")[0] for f in saver} == {"save", "save_1"}
    assert {f.severity for f in saver} == {"info"}
    assert main(["audit", "--fail-on", "low", str(saved_model)]) == 0


def test_save_ops_in_a_save_scope_outside_any_saver_stay_high(tmp_path: Path) -> None:
    meta = MetaGraphDef()
    meta.ParseFromString(TF1_META.read_bytes())
    save = next(n for n in meta.graph_def.node if n.op == "SaveV2")
    extra = meta.graph_def.node.add()
    extra.CopyFrom(save)
    extra.name = save.name.rsplit("/", 1)[0] + "/SaveV2_unreached"
    out = tmp_path / "extra.meta"
    out.write_bytes(meta.SerializeToString())
    report = audit_path(out)
    severities = {f.location.rsplit("'", 2)[1]: f.severity for f in report.findings if f.op == "SaveV2"}
    assert severities == {save.name: "info", extra.name: "critical"}


def test_bare_graph_uses_the_save_scope_convention(tmp_path: Path) -> None:
    meta = MetaGraphDef()
    meta.ParseFromString(TF1_META.read_bytes())
    out = tmp_path / "graph.pb"
    out.write_bytes(meta.graph_def.SerializeToString())
    report = audit_path(out)
    assert report.kind == "graph"
    assert {f.severity for f in report.findings if f.op == "SaveV2"} == {"info"}


def test_asset_files_and_paths_are_listed() -> None:
    report = audit_path(AUDIT / "tf1_asset")
    messages = [f.message for f in report.findings if f.category == "asset"]
    assert any("vocab.txt" in m for m in messages)


def test_asset_path_escaping_the_folder_is_high(tmp_path: Path) -> None:
    from tfformats.proto import AssetFileDef, SavedModel

    folder = tmp_path / "model"
    shutil.copytree(AUDIT / "tf1_asset", folder)
    saved = SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    values = saved.meta_graphs[0].collection_def["saved_model_assets"].any_list.value
    asset = AssetFileDef()
    asset.ParseFromString(values[0].value)
    asset.filename = "../../../home/user/.ssh/id_rsa"
    values[0].value = asset.SerializeToString()
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    report = audit_path(folder)
    assert any(f.category == "asset" and f.severity == "high" and "id_rsa" in f.message for f in report.findings)


def test_keras_lambda_layer_in_metadata_is_high(tmp_path: Path) -> None:
    from tfformats.table.layout import encode_varint

    folder = tmp_path / "model"
    shutil.copytree(AUDIT / "keras_clean", folder)
    config = json.dumps({"class_name": "Lambda", "config": {"name": "sneaky", "function": ["4wEAAAAA", None]}})

    def field(number: int, payload: bytes) -> bytes:
        return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload

    node = field(3, b"root.layer-1") + field(4, b"_tf_keras_layer") + field(5, config.encode())
    (folder / "keras_metadata.pb").write_bytes(field(1, node))
    report = audit_path(folder)
    hits = [f for f in report.findings if f.category == "keras_lambda"]
    assert hits and hits[0].severity == "high" and "sneaky" in hits[0].message


def test_checkpoint_nan_inf_and_hidden_graph() -> None:
    report = audit_path(AUDIT / "payload_ckpt" / "ckpt")
    assert report.kind == "checkpoint"
    nan = [f for f in report.findings if f.category == "nan_inf"]
    assert len(nan) == 1 and "weights" in nan[0].message
    assert any(f.category == "embedded_graph_data" and "payload" in f.message for f in report.findings)
    writes = [f for f in report.findings if f.op == "WriteFile"]
    assert writes and writes[0].severity == "critical"


def test_checkpoint_with_damaged_data_reports_integrity(tmp_path: Path) -> None:
    src = AUDIT / "payload_ckpt"
    shutil.copytree(src, tmp_path / "c")
    data = tmp_path / "c" / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[0] ^= 0xFF
    data.write_bytes(bytes(raw))
    report = audit_path(tmp_path / "c" / "ckpt")
    assert any(f.category == "integrity" and f.severity == "high" for f in report.findings)


def _self_calling_graph(names: list[str]) -> GraphDef:
    """A graph calling function names[0], where each function calls the next and the last calls the first."""
    graph = GraphDef()
    caller = graph.node.add(name="call", op="PartitionedCall")
    caller.attr["f"].func.name = names[0]
    for i, name in enumerate(names):
        fn = graph.library.function.add()
        fn.signature.name = name
        node = fn.node_def.add(name="again", op="PartitionedCall")
        node.attr["f"].func.name = names[(i + 1) % len(names)]
        fn.node_def.add(name="w", op="WriteFile")
    return graph


@pytest.mark.parametrize("names", [["self_rec"], ["ping", "pong"]])
def test_recursive_functions_terminate_with_a_note(tmp_path: Path, names: list[str]) -> None:
    out = tmp_path / "rec.pb"
    out.write_bytes(_self_calling_graph(names).SerializeToString())
    report = audit_path(out)
    assert any(f.category == "recursion" for f in report.findings)
    assert sum(1 for s in report.sites if s.op == "WriteFile") == len(names)


def test_serialized_graphs_nested_past_the_depth_limit_stop_with_a_high_finding(tmp_path: Path) -> None:
    inner = GraphDef()
    inner.node.add(name="w", op="WriteFile")
    for level in range(50):
        outer = GraphDef()
        const = outer.node.add(name=f"payload{level}", op="Const")
        const.attr["value"].tensor.dtype = 7
        const.attr["value"].tensor.string_val.append(inner.SerializeToString())
        inner = outer
    out = tmp_path / "deep.pb"
    out.write_bytes(inner.SerializeToString())
    report = audit_path(out)
    assert any(f.category == "depth_limit" and f.severity == "high" for f in report.findings)


def test_serialized_function_def_in_an_attr_is_scanned() -> None:
    fn = FunctionDef()
    fn.signature.name = "hidden_fn"
    fn.node_def.add(name="py", op="PyFunc")
    graph = GraphDef()
    node = graph.node.add(name="holder", op="NoOp")
    node.attr["blob"].s = fn.SerializeToString()
    program = Program()
    program.add_graph(graph, ("graph",))
    sites = [s for s in program.sites if s.op == "PyFunc"]
    assert sites and "serialized FunctionDef" in sites[0].location


def test_print_v2_to_a_file_is_a_file_write() -> None:
    catalog = default_catalog()
    to_file = OpSite("PrintV2", "p", ("graph",), attrs=(("output_stream", "file://out.log"),))
    to_stderr = OpSite("PrintV2", "p", ("graph",), attrs=(("output_stream", "stderr"),))
    assert {r.category for r in catalog.rules_for(to_file)} == {"file_write"}
    assert {r.category for r in catalog.rules_for(to_stderr)} == {"logging"}


def test_cli_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--json", str(AUDIT / "file_read__top.pb")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["failed"] is True and doc["counts"]["high"] >= 1
    assert any(o["op"] == "ReadFile" for o in doc["ops"])
    assert main(["audit", "--fail-on", "critical", str(AUDIT / "file_read__top.pb")]) == 0
    capsys.readouterr()
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\xfe\x00garbage" * 10)
    assert main(["audit", str(junk)]) == 2
    assert "junk.pb" in capsys.readouterr().err


def test_standard_op_list_came_from_tensorflow() -> None:
    catalog = default_catalog()
    assert catalog.tf_version.startswith("2.21")
    for op in ("DisableCopyOnRead", "StaticRegexFullMatch", "TensorListFromTensor", "MatMul", "WriteFile"):
        assert catalog.is_standard(op)
    assert not catalog.is_standard(EXPECTED["custom_op"])


def test_state_file_naming_a_checkpoint_elsewhere_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(AUDIT / "payload_ckpt", outside)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{outside / "ckpt"}"\n', encoding="utf-8")
    report = audit_path(folder)
    assert [f.category for f in report.findings] == ["state_file"]
    assert report.findings[0].severity == "high"


def test_auditing_every_dtype_prints_no_numpy_warning(capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["audit", str(FIXTURES / "ckpt" / "all_dtypes")]) == 0
    assert capsys.readouterr().err == ""
