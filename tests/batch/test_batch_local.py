"""The local pool: every model gets one record, the same record an in-process run gives, whatever goes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tfformats.batch import discover, run_batch, run_task
from tfformats.batch.isolate import Limits

Faults = Callable[[dict[str, str]], dict[str, str]]


def test_pool_of_two_gives_each_model_the_record_of_an_in_process_run(hub: Path) -> None:
    paths = [m.path for m in discover(hub, task="audit")]
    records = list(run_batch("audit", paths, {"fail_on": "high"}, jobs=2))
    assert sorted(r["path"] for r in records) == sorted(paths)
    for record in records:
        direct = run_task("audit", record["path"], {"fail_on": "high"})
        assert (record["status"], record["exit_code"], record["result"]) == \
            (direct["status"], direct["exit_code"], direct["result"])
    assert 1 <= len({r["pid"] for r in records}) <= 2  # two worker processes, reused from model to model


def test_graph_and_inspect_records_hold_the_summaries(hub: Path) -> None:
    graphs = [m.path for m in discover(hub, task="graph")]
    for record in run_batch("graph", graphs, jobs=2):
        assert record["result"] == run_task("graph", record["path"], {})["result"]
    checkpoints = [m.path for m in discover(hub, task="inspect")]
    for record in run_batch("inspect", checkpoints, {"stats": True}, jobs=2):
        direct = run_task("inspect", record["path"], {"stats": True})
        assert (record["status"], record["result"]) == (direct["status"], direct["result"])


def test_batch_goes_on_past_hanging_huge_and_crashing_models(make_faults: Faults) -> None:
    faults = make_faults({"a_ok": "ok", "b_hang": "sleep 60", "c_huge": f"allocate {4 << 30}", "d_kill": "kill",
                          "e_ok": "ok", "f_raise": "raise", "g_ok": "ok"})
    records = {r["path"]: r for r in run_batch("fault", sorted(faults.values()), jobs=2,
                                               limits=Limits(timeout=2.0, memory=512 << 20))}
    status = {name: records[path]["status"] for name, path in faults.items()}
    assert status == {"a_ok": "ok", "b_hang": "timeout", "c_huge": "memory", "d_kill": "crashed", "e_ok": "ok",
                      "f_raise": "error", "g_ok": "ok"}
    assert records[faults["d_kill"]]["attempts"] == 2


def test_stopping_early_ends_the_worker_processes(make_faults: Faults) -> None:
    import os

    faults = make_faults({f"m{i}": "sleep 30" if i else "ok" for i in range(4)})
    records = run_batch("fault", sorted(faults.values()), jobs=2)
    first = next(records)
    records.close()  # type: ignore[attr-defined]
    assert first["status"] == "ok"
    try:
        os.kill(first["pid"], 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
