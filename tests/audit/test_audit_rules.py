"""Audit v2 rules: when ops run, the saver and assets by structure, decoded sinks, limits, allowlists."""

from __future__ import annotations

import base64
import json
import shutil
import zlib
from pathlib import Path

import pytest

from fixture_data import FIXTURES
from tfformats.audit import audit_path, profile
from tfformats.audit.program import Program
from tfformats.cli import main
from tfformats.errors import ModelNotFoundError, TFFormatsError
from tfformats.proto import GraphDef

CORPUS = FIXTURES / "audit" / "corpus"


def _graph_file(tmp_path: Path, graph: GraphDef, name: str = "g.pb") -> Path:
    path = tmp_path / name
    path.write_bytes(graph.SerializeToString())
    return path


def _const(graph: GraphDef, name: str, value: bytes) -> None:
    node = graph.node.add(name=name, op="Const")
    node.attr["dtype"].type = 7
    node.attr["value"].tensor.dtype = 7
    node.attr["value"].tensor.string_val.append(value)


def test_saved_model_folder_without_its_graph_is_an_error_not_clean(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "model"
    shutil.copytree(CORPUS / "ok_keras_cnn", folder)
    (folder / "saved_model.pb").unlink()
    with pytest.raises(ModelNotFoundError, match="saved_model.pb"):
        audit_path(folder)
    assert main(["audit", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "model" in captured.err


def test_tf2_saver_functions_carried_by_a_tf1_export_are_not_critical() -> None:
    report = audit_path(CORPUS / "ok_tf1_with_tf2_functions")
    saver = [f for f in report.findings if f.op in ("SaveV2", "MergeV2Checkpoints")]
    assert saver, "the fixture carries the TF2 saver functions"
    traced = [f for f in saver if "__inference__traced_save" in f.location]
    assert traced and {f.when for f in traced} == {"never"} and {f.severity for f in traced} <= {"info", "low"}


def test_a_second_save_op_in_the_save_scope_with_a_constant_path_is_critical() -> None:
    report = audit_path(CORPUS / "graph_save_scope" / "model.pb")
    save = [f for f in report.findings if f.op == "SaveV2"]
    assert [f.severity for f in save] == ["critical"] and "/dev/null/" in save[0].message


def test_save_planted_under_the_restore_op_runs_at_saver_restore() -> None:
    report = audit_path(CORPUS / "meta_restore_savev2" / "model.meta")
    by_node = {f.node: f for f in report.findings if f.op == "SaveV2"}
    planted = by_node["save/SaveV2_1"]
    assert planted.severity == "critical" and planted.when == "load" and planted.loaders == ("Saver.restore",)
    assert any("restore op" in path[0] for path in planted.via)
    assert by_node["save/SaveV2"].severity == "info"  # the saver's own, fed its file name


def test_dataset_from_graph_on_a_run_time_graph_is_high_and_the_decoded_graph_is_audited() -> None:
    report = audit_path(CORPUS / "sig_dataset_from_base64")
    runtime = [f for f in report.findings if f.category == "runtime_graph"]
    assert runtime and runtime[0].severity == "high" and "DecodeBase64" in runtime[0].message
    write = [f for f in report.findings if f.op == "WriteFile"]
    assert write and "(base64)" in write[0].location


@pytest.mark.parametrize("encode", [lambda b: base64.b64encode(b), lambda b: b.hex().encode(), zlib.compress],
                         ids=["base64", "hex", "zlib"])
def test_trivially_encoded_graphs_in_constants_are_decoded(tmp_path: Path, encode: object) -> None:
    inner = GraphDef()
    inner.node.add(name="w", op="WriteFile")
    graph = GraphDef()
    _const(graph, "blob", encode(inner.SerializeToString()))  # type: ignore[operator]
    report = audit_path(_graph_file(tmp_path, graph))
    assert any(f.op == "WriteFile" and f.severity == "critical" for f in report.findings)


def test_custom_op_is_high_and_names_its_attributes() -> None:
    report = audit_path(CORPUS / "sig_custom_op")
    custom = [f for f in report.findings if f.category == "custom_op"]
    assert len(custom) == 1 and custom[0].severity == "high" and "libpayload.so" in custom[0].message
    assert custom[0].when == "call"
    init = [f for f in audit_path(CORPUS / "init_custom_op").findings if f.category == "custom_op"]
    assert init and {f.severity for f in init} == {"critical"} and {f.when for f in init} == {"load"}


def test_own_asset_table_is_info_and_a_table_outside_the_model_is_high() -> None:
    own = [f for f in audit_path(CORPUS / "ok_vocab_assets").findings if f.op == "InitializeTableFromTextFileV2"]
    assert own and {f.severity for f in own} == {"info"} and "own asset" in own[0].message
    tf1 = [f for f in audit_path(CORPUS / "ok_tf1_vocab_assets").findings if f.op == "InitializeTableFromTextFileV2"]
    assert tf1 and {f.severity for f in tf1} == {"info"}
    bad = [f for f in audit_path(CORPUS / "init_table_passwd").findings if f.op == "InitializeTableFromTextFileV2"]
    assert bad and {f.severity for f in bad} == {"critical"} and "/etc/passwd" in bad[0].message


def test_print_to_stderr_is_info_and_debug_to_grpc_is_network(tmp_path: Path) -> None:
    printed = [f for f in audit_path(CORPUS / "ok_print_stderr").findings if f.op == "PrintV2"]
    assert printed and {f.severity for f in printed} == {"info"}
    graph = GraphDef()
    node = graph.node.add(name="dbg", op="DebugIdentityV2")
    node.attr["debug_urls"].list.s.append(b"grpc://collector.example:6064")
    report = audit_path(_graph_file(tmp_path, graph))
    assert [(f.category, f.severity) for f in report.findings] == [("network", "critical")]


def test_code_nothing_runs_is_low_and_says_never(tmp_path: Path) -> None:
    graph = GraphDef()
    graph.node.add(name="x", op="Placeholder")
    fn = graph.library.function.add()
    fn.signature.name = "unused"
    fn.node_def.add(name="w", op="WriteFile")
    report = audit_path(_graph_file(tmp_path, graph))
    write = [f for f in report.findings if f.op == "WriteFile"]
    assert [(f.when, f.severity, f.via) for f in write] == [("never", "low", ())]


def test_tf1_init_ops_run_under_both_loaders() -> None:
    report = audit_path(CORPUS / "tf1_main_op_writefile")
    write = [f for f in report.findings if f.op == "WriteFile"]
    assert write and write[0].when == "load" and set(write[0].loaders) == {"tf.saved_model.load", "TF1/C++ loader"}
    assert any("saved_model_main_op" in p[0] for p in write[0].via)


def test_many_functions_are_scanned_in_linear_time(tmp_path: Path) -> None:
    # A chain of 20,000 functions, each calling the next: every one is built and reached once.
    graph = GraphDef()
    count = 20_000
    caller = graph.node.add(name="call", op="PartitionedCall")
    caller.attr["f"].func.name = "f0"
    for i in range(count):
        fn = graph.library.function.add()
        fn.signature.name = f"f{i}"
        if i + 1 < count:
            nxt = fn.node_def.add(name="next", op="PartitionedCall")
            nxt.attr["f"].func.name = f"f{i + 1}"
        else:
            fn.node_def.add(name="w", op="WriteFile")
    report = audit_path(_graph_file(tmp_path, graph))
    write = [f for f in report.findings if f.op == "WriteFile"]
    assert len(write) == 1 and write[0].when == "call" and f"function 'f{count - 1}'" in write[0].location
    assert len(report.sites) == count + 1


def test_node_limit_stops_the_walk_with_a_high_finding(tmp_path: Path) -> None:
    graph = GraphDef()
    for i in range(50):
        graph.node.add(name=f"n{i}", op="NoOp")
    report = audit_path(_graph_file(tmp_path, graph), max_nodes=10)
    assert len(report.sites) == 10
    assert any(f.category == "budget" and f.severity == "high" for f in report.findings)


def test_the_same_serialized_graph_twice_is_parsed_once_but_reached_from_both() -> None:
    inner = GraphDef()
    inner.node.add(name="w", op="WriteFile")
    graph = GraphDef()
    _const(graph, "a", inner.SerializeToString())
    _const(graph, "b", inner.SerializeToString())
    program = Program()
    gid = program.add_graph(graph, ("graph",))
    assert len(program.graphs) == 2
    assert ("g", 1) in program.edges[("n", gid, "a")] and ("g", 1) in program.edges[("n", gid, "b")]


# -- allowlists -----------------------------------------------------------------------------------

def test_inference_profile_is_built_from_the_registry_without_risky_ops() -> None:
    ops = profile("inference").ops
    assert {"MatMul", "Conv2D", "VarHandleOp", "ReadVariableOp", "StatefulPartitionedCall"} <= ops
    for op in ("WriteFile", "ReadFile", "PyFunc", "DebugIdentityV2", "WriteScalarSummary", "TFRecordDatasetV2",
               "DataServiceDatasetV4", "MapDataset", "SaveV2", "DatasetFromGraph"):
        assert op not in ops
    data = profile("tf-data").ops
    assert {"MapDataset", "BatchDatasetV2", "TensorSliceDataset"} <= data and "TFRecordDatasetV2" not in data


@pytest.mark.parametrize("name", ["ok_keras_cnn", "ok_keras_lstm", "ok_keras_embedding", "ok_tf1_builder",
                                  "ok_control_flow"])
def test_clean_models_pass_the_inference_allowlist(name: str) -> None:
    report = audit_path(CORPUS / name, allow="inference")
    assert not report.at_least("high"), [f.to_dict() for f in report.at_least("high")]
    assert report.allowlist == "inference"


def test_data_pipeline_needs_the_tf_data_profile() -> None:
    strict = audit_path(CORPUS / "ok_data_pipeline", allow="inference")
    outside = [f for f in strict.findings if f.category == "not_allowed"]
    assert outside and all(f.when == "call" and f.via for f in outside)
    assert {"MapDataset", "TensorSliceDataset"} <= {f.op for f in outside}
    assert not audit_path(CORPUS / "ok_data_pipeline", allow="tf-data").at_least("high")


def test_allowlist_file_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "ops.txt"
    listed.write_text("# the model may use\nprofile inference\n", encoding="utf-8")
    assert main(["audit", "--allow", str(listed), str(CORPUS / "ok_keras_cnn")]) == 0
    capsys.readouterr()
    assert main(["audit", "--allow", str(listed), "--json", str(CORPUS / "ok_print_stderr")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["allowlist"] == "ops.txt"
    assert {f["op"] for f in doc["findings"] if f["category"] == "not_allowed"} == {"PrintV2"}
    assert main(["audit", "--allow", "no-such-profile", str(CORPUS / "ok_keras_cnn")]) == 2
    assert "no-such-profile" in capsys.readouterr().err


def test_checkpoint_claiming_a_million_shards_is_not_worked_through_shard_by_shard(tmp_path: Path) -> None:
    from tfformats.bundle.reader import BundleReader
    from tfformats.proto import BundleHeaderProto
    from tfformats.table.writer import TableWriter

    src = FIXTURES / "audit" / "payload_ckpt" / "ckpt"
    with BundleReader(src) as reader:
        entries = list(reader.raw_entries())
    header = BundleHeaderProto()
    header.ParseFromString(entries[0][1])
    header.num_shards = 1 << 20
    prefix = tmp_path / "ckpt"
    with open(f"{prefix}.index", "wb") as f:
        writer = TableWriter(f)
        writer.add(b"", header.SerializeToString())
        for key, value in entries[1:]:
            writer.add(key, value)
        writer.finish()
    try:
        report = audit_path(prefix)
    except TFFormatsError as exc:  # refusing the checkpoint is fine, as a tfformats error naming it
        assert "ckpt" in str(exc)
        return
    integrity = [f for f in report.findings if f.category == "integrity"]
    assert integrity and len(report.findings) < 200


def test_an_asset_name_escaping_the_folder_does_not_bless_the_read(tmp_path: Path) -> None:
    from tfformats.proto import AssetFileDef, SavedModel

    folder = tmp_path / "model"
    shutil.copytree(CORPUS / "ok_tf1_vocab_assets", folder)
    saved = SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    values = saved.meta_graphs[0].collection_def["saved_model_assets"].any_list.value
    asset = AssetFileDef()
    asset.ParseFromString(values[0].value)
    asset.filename = "../../../etc/shadow"
    values[0].value = asset.SerializeToString()
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    report = audit_path(folder)
    table = [f for f in report.findings if f.op == "InitializeTableFromTextFileV2"]
    assert table and table[0].severity == "critical" and table[0].when == "load" and "shadow" in table[0].message


def test_format_json_prints_an_error_document_for_a_model_without_its_graph(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "model"
    (folder / "variables").mkdir(parents=True)
    assert main(["audit", "--format", "json", str(folder)]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["exit_status"] == 2 and doc["error_type"] == "ModelNotFoundError"
    assert len(captured.err.strip().splitlines()) == 1


def test_tf2_init_op_runs_only_under_the_tf1_loader(tmp_path: Path) -> None:
    from tfformats.proto import SavedModel

    saved = SavedModel()
    meta = saved.meta_graphs.add()
    meta.meta_info_def.tags.append("serve")
    meta.object_graph_def.nodes.add().user_object.identifier = "_generic_user_object"  # a TF2 SavedModel
    _const(meta.graph_def, "path", b"/dev/null/x")
    write = meta.graph_def.node.add(name="w", op="WriteFile")
    write.input.extend(["path", "path"])
    init = meta.graph_def.node.add(name="init", op="NoOp")
    init.input.append("^w")
    meta.signature_def["__saved_model_init_op"].outputs["__saved_model_init_op"].name = "init"
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    found = [f for f in audit_path(folder).findings if f.op == "WriteFile"]
    assert [(f.when, f.loaders, f.severity) for f in found] == [("load", ("TF1/C++ loader",), "critical")]
    assert found[0].via[0][0] == "init op signature '__saved_model_init_op'"


def test_sharded_v1_saver_in_a_bare_graph_is_recognised() -> None:
    graph = FIXTURES / "graphs" / "session_bundle" / "graph.pb"
    report = audit_path(graph)
    saver = [f for f in report.findings if f.op in ("SaveSlices", "RestoreSlice")]
    assert saver and {f.severity for f in saver} == {"info"}


def test_tf_data_reading_the_models_own_asset_is_info_and_passes_tf_data() -> None:
    model = CORPUS / "ok_dataset_own_asset"
    reads = [f for f in audit_path(model).findings if f.op == "TextLineDataset"]
    assert reads and {f.severity for f in reads} == {"info"} and "labels.txt" in reads[0].message
    assert not audit_path(model, allow="tf-data").at_least("high")
    strict = audit_path(model, allow="inference")
    assert "TensorSliceDataset" in {f.op for f in strict.findings if f.category == "not_allowed"}


def test_a_gradient_function_runs_with_its_function(tmp_path: Path) -> None:
    graph = GraphDef()
    caller = graph.node.add(name="call", op="PartitionedCall")
    caller.attr["f"].func.name = "forward"
    graph.library.function.add().signature.name = "forward"
    grad = graph.library.function.add()
    grad.signature.name = "forward_grad"
    grad.node_def.add(name="w", op="WriteFile")
    graph.library.gradient.add(function_name="forward", gradient_func="forward_grad")
    report = audit_path(_graph_file(tmp_path, graph))
    assert [(f.when, f.severity) for f in report.findings if f.op == "WriteFile"] == [("call", "critical")]
