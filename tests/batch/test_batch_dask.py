"""Batches on a real Dask LocalCluster (2 worker processes): same records as locally, and killed workers."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

distributed = pytest.importorskip("distributed")

from tfformats.batch import discover, read_records, run_batch  # noqa: E402
from tfformats.batch.isolate import Limits  # noqa: E402
from tfformats.batch.tasks import TEST_TASKS_ENV  # noqa: E402
from tfformats.cli import main  # noqa: E402

Faults = Callable[[dict[str, str]], dict[str, str]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster as a user would start one (Dask's own retry settings)."""
    # The workers (and the processes they start) inherit the environment: enable the test task first.
    old = os.environ.get(TEST_TASKS_ENV)
    os.environ[TEST_TASKS_ENV] = "1"
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        yield local
    finally:
        local.close()
        if old is None:
            os.environ.pop(TEST_TASKS_ENV, None)
        else:
            os.environ[TEST_TASKS_ENV] = old


def test_dask_records_equal_the_local_pool_records(cluster: Any, hub: Path) -> None:
    paths = [m.path for m in discover(hub, task="audit")]
    on_dask = {r["path"]: r for r in run_batch("audit", paths, {"fail_on": "high"}, dask=cluster.scheduler_address)}
    local = {r["path"]: r for r in run_batch("audit", paths, {"fail_on": "high"}, jobs=2)}
    assert sorted(on_dask) == sorted(paths)
    for path in paths:
        assert (on_dask[path]["status"], on_dask[path]["result"]) == (local[path]["status"], local[path]["result"])
    assert {r["worker"] for r in on_dask.values()} <= set(cluster.scheduler_info["workers"])


def test_cli_batch_audit_on_a_dask_cluster(cluster: Any, hub: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "audit.jsonl"
    status = main(["audit", str(hub), "--dask", cluster.scheduler_address, "--jsonl", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)["summary"]
    records = read_records(out)
    assert status == summary["exit_status"] == max(r["exit_code"] for r in records)
    assert summary["models"] == len(records) == len(discover(hub, task="audit"))
    assert summary["backend"].startswith("Dask")


def test_bad_models_on_dask_give_records_and_spare_the_workers(cluster: Any, make_faults: Faults) -> None:
    faults = make_faults({"hang": "sleep 60", "kill": "kill", "huge": f"allocate {4 << 30}", "ok": "ok"})
    records = {r["path"]: r for r in run_batch("fault", sorted(faults.values()), dask=cluster.scheduler_address,
                                               limits=Limits(timeout=2.0, memory=512 << 20))}
    assert {name: records[path]["status"] for name, path in faults.items()} == \
        {"hang": "timeout", "kill": "crashed", "huge": "memory", "ok": "ok"}


def test_worker_killed_mid_batch_has_its_models_run_again_elsewhere(cluster: Any, make_faults: Faults) -> None:
    faults = make_faults({f"slow{i}": "sleep 1" for i in range(4)})
    paths = sorted(faults.values())
    records: list[dict[str, Any]] = []
    runner = threading.Thread(target=lambda: records.extend(
        run_batch("fault", paths, dask=cluster.scheduler_address, limits=Limits(timeout=60.0))))
    with distributed.Client(cluster.scheduler_address) as observer:
        runner.start()
        deadline = time.monotonic() + 60
        busy: dict[str, Any] = {}
        while len(busy) < 2 and time.monotonic() < deadline:  # wait until both workers run a model
            busy = {w: keys for w, keys in observer.processing().items() if keys}
            time.sleep(0.05)
        assert len(busy) == 2
        victim, keys = sorted(busy.items())[0]
        pid = observer.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        runner.join(180)
    assert not runner.is_alive(), f"batch still running; records so far: {records}"
    by_path = {r["path"]: r for r in records}
    assert sorted(by_path) == paths
    assert [r["status"] for r in records] == ["ok"] * len(paths), records
    moved = [paths[int(str(key).rsplit("-", 1)[1])] for key in keys]
    assert moved and all(by_path[p]["worker"] != victim for p in moved)
    assert all(by_path[p]["worker_deaths"] == 1 for p in moved)  # run again once, after the one death
    assert all("worker_deaths" not in by_path[p] for p in paths if p not in moved)


def test_model_that_kills_its_worker_is_retried_once_then_recorded_as_crashed(cluster: Any,
                                                                             make_faults: Faults) -> None:
    with distributed.Client(cluster.scheduler_address) as client:  # Dask alone would try more often
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) >= 2
    faults = make_faults({"deadly": "kill-host", "fine": "ok"})
    records = {r["path"]: r for r in run_batch("fault", sorted(faults.values()), dask=cluster.scheduler_address,
                                               limits=Limits(timeout=60.0))}
    deadly = records[faults["deadly"]]
    assert (deadly["status"], deadly["attempts"], deadly["exit_code"]) == ("crashed", 2, 2)
    assert "died 2 times" in deadly["error"]
    assert records[faults["fine"]]["status"] == "ok"


def test_dask_local_starts_a_cluster_whose_scheduler_retries_once(make_faults: Faults) -> None:
    faults = make_faults({"deadly": "kill-host", "fine": "ok"})  # before the cluster starts its workers
    records = {r["path"]: r for r in run_batch("fault", sorted(faults.values()), dask="local", jobs=2,
                                               limits=Limits(timeout=60.0))}
    deadly = records[faults["deadly"]]
    assert (deadly["status"], deadly["error_type"], deadly["attempts"]) == ("crashed", "KilledWorker", 2)
    assert records[faults["fine"]]["status"] == "ok"
