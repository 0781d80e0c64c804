"""Records on disk and the summary: partial lines, resumed runs, worst exit status."""

from __future__ import annotations

from pathlib import Path

from tfformats.batch.records import RecordFile, Summary, read_records
from tfformats.batch.tasks import failure_record


def _ok(path: str) -> dict:
    return {"path": path, "task": "verify", "status": "ok", "exit_code": 0, "seconds": 0.0, "result": {}}


def test_resumed_file_drops_a_cut_line_and_appends_after_it(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    with RecordFile(out, resume=False) as sink:
        sink.write(_ok("a"))
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"path": "b", "sta')
    assert [r["path"] for r in read_records(out)] == ["a"]
    with RecordFile(out, resume=True) as sink:
        sink.write(_ok("c"))
    assert [r["path"] for r in read_records(out)] == ["a", "c"]
    assert out.read_text(encoding="utf-8").count("\n") == 2


def test_summary_exit_status_counts_models_recorded_by_an_earlier_run(tmp_path: Path) -> None:
    summary = Summary("verify", "2 local workers")
    summary.add_skipped([failure_record("verify", "old", "timeout", "no result")])
    summary.add(_ok("new"))
    doc = summary.to_dict()
    assert (doc["models"], doc["skipped"], doc["exit_status"]) == (1, 1, 2)
    assert doc["by_status"] == {"ok": 1} and doc["failed"] == []


def test_summary_lists_models_without_a_result_and_counts_by_exit_code() -> None:
    summary = Summary("audit", "Dask (local)")
    for record in (_ok("a"), failure_record("audit", "b", "crashed", "killed twice"),
                   {**_ok("c"), "status": "problem", "exit_code": 1}):
        summary.add(record)
    doc = summary.to_dict()
    assert doc["by_exit_code"] == {"0": 1, "1": 1, "2": 1} and doc["exit_status"] == 2
    assert doc["failed"] == [{"path": "b", "status": "crashed", "error": "killed twice"}]
    assert "b: killed twice" in summary.text()
