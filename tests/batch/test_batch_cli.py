"""Batch mode on the command line: records, summary, exit status, --from-file, --resume; single runs unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfformats.batch import discover, read_records, run_task
from tfformats.checkpoint.verify import verify_checkpoint
from tfformats.cli import main


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_audit_of_a_folder_writes_one_record_per_model_and_exits_with_the_worst(
        hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "audit.jsonl"
    status = main(["audit", str(hub), "--jobs", "2", "--jsonl", str(out)])
    records = read_records(out)
    assert sorted(r["path"] for r in records) == [m.path for m in discover(hub, task="audit")]
    assert status == max(r["exit_code"] for r in records) == 2  # the damaged checkpoint
    network = next(r for r in records if r["path"].endswith("network.pb"))
    assert network["exit_code"] == 1 and network["kind"] == "graph"
    assert "ops" not in network["result"]
    text = capsys.readouterr().out
    assert f"audit: {len(records)} models" in text and "exit status 2" in text


def test_records_go_to_stdout_as_json_lines_and_json_adds_a_summary_line(hub: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["graph", str(hub / "graphs"), str(hub / "saved"), "--jobs", "2", "--json"])
    lines = _lines(capsys.readouterr().out)
    summary = lines[-1]["summary"]
    records = lines[:-1]
    assert status == 0
    assert summary["models"] == len(records) == 5 and summary["by_status"] == {"ok": 5}
    assert summary["by_exit_code"] == {"0": 5} and summary["exit_status"] == 0
    for record in records:
        assert record["result"] == run_task("graph", record["path"], {})["result"]


def test_json_summary_with_jsonl_is_one_document(hub: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "verify.jsonl"
    status = main(["verify", str(hub), "--jobs", "1", "--jsonl", str(out), "--json"])
    doc = json.loads(capsys.readouterr().out)
    records = read_records(out)
    assert doc["summary"]["models"] == len(records)
    assert doc["summary"]["by_status"] == {s: sum(r["status"] == s for r in records)
                                           for s in sorted({r["status"] for r in records})}
    assert status == doc["summary"]["exit_status"] == 2
    assert [f["path"] for f in doc["summary"]["failed"]] == [str(hub / "damaged" / "sample-1")]


def test_from_file_and_resume_run_only_the_models_not_recorded_yet(hub: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    models = [m.path for m in discover(hub, task="graph")]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(models[:2]) + "\n", encoding="utf-8")
    out = tmp_path / "graph.jsonl"
    assert main(["graph", "--from-file", str(listing), "--jsonl", str(out)]) == 0
    first = read_records(out)
    assert sorted(r["path"] for r in first) == sorted(models[:2])
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"path": "cut short')  # an interrupted write
    capsys.readouterr()
    assert main(["graph", str(hub), "--jsonl", str(out), "--resume", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["skipped"] == 2 and summary["models"] == len(models) - 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["path"] for line in lines) == sorted(models)


def test_single_input_output_is_the_single_command_document(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = str(hub / "train" / "sample" / "sample-1")
    assert main(["verify", prefix, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == verify_checkpoint(prefix).to_dict()
    folder = str(hub / "saved" / "keras_mlp")  # a SavedModel folder is one model, not a folder to search
    assert main(["graph", folder, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == run_task("graph", folder, {})["result"]


def test_batch_usage_errors_are_one_line_with_exit_2(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(hub), "--resume"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["inspect", str(hub), "--tensor", "x"]) == 2
    assert "--tensor" in capsys.readouterr().err
    empty = hub / "graphs"
    assert main(["verify", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no models for verify" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["audit", "inspect", "verify", "graph"])
def test_batch_records_hold_the_document_of_the_single_command(command: str, hub: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"{command}.jsonl"
    extra = ["--ops"] if command == "audit" else []  # the single audit --json always lists the ops
    main([command, str(hub), "--jobs", "2", "--jsonl", str(out), *extra])
    capsys.readouterr()
    for record in read_records(out):
        if record["status"] not in ("ok", "problem"):
            continue
        main([command, record["path"], "--json"])
        assert record["result"] == json.loads(capsys.readouterr().out)


def test_a_url_hub_is_searched_and_read_through_fsspec(hub: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fsspec")
    url = hub.resolve().as_uri()  # file:///...: the URL code path, served from local files
    out = tmp_path / "graph.jsonl"
    # A storage option travels with the batch to the search and to every worker (this one is LocalFileSystem's).
    assert main(["graph", url, "--jobs", "2", "--jsonl", str(out), "--storage-option", "auto_mkdir=false"]) == 0
    records = read_records(out)
    local = [m.path for m in discover(hub.resolve(), task="graph")]
    assert sorted(r["path"] for r in records) == sorted(Path(p).as_uri() for p in local)
    for record in records:
        direct = run_task("graph", record["path"][len("file://"):], {})["result"]
        assert {**record["result"], "path": None} == {**direct, "path": None}


def test_dask_without_distributed_says_what_to_install(hub: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail, as when not installed
    assert main(["graph", str(hub / "graphs"), "--dask", "local"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'tfformats[dask]'" in err and err.count("\n") == 1


def test_a_limit_on_one_file_runs_it_as_a_batch_of_one(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(hub / "graphs" / "network.pb")
    assert main(["audit", path, "--timeout", "60", "--memory-limit", "1GiB", "--json"]) == 1
    record, summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["path"] == path and record["status"] == "problem"
    assert record["result"] == run_task("audit", path, {"fail_on": "high"})["result"]
    assert summary["summary"]["backend"] == "1 local worker"
