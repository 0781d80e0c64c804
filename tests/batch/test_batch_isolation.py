"""One model per child process: timeouts, memory limits and crashes become records, and the next model runs."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tfformats.batch.isolate import IsolatedRunner, Limits
from tfformats.batch.tasks import run_task

Faults = Callable[[dict[str, str]], dict[str, str]]


def test_model_past_its_timeout_is_stopped_and_the_next_one_runs_in_a_fresh_process(make_faults: Faults) -> None:
    faults = make_faults({"hang": "sleep 60", "ok": "ok"})
    with IsolatedRunner(Limits(timeout=1.0)) as runner:
        before = runner.run("fault", faults["ok"], {})
        hung = runner.run("fault", faults["hang"], {})
        after = runner.run("fault", faults["ok"], {})
    assert hung["status"] == "timeout" and hung["exit_code"] == 2 and hung["result"] is None
    assert "1 s" in hung["error"]
    assert before["status"] == after["status"] == "ok"
    assert before["pid"] != after["pid"]


def test_model_over_the_memory_limit_gives_a_memory_record(make_faults: Faults) -> None:
    faults = make_faults({"huge": f"allocate {4 << 30}", "small": f"allocate {16 << 20}", "ok": "ok"})
    with IsolatedRunner(Limits(memory=512 << 20)) as runner:
        small = runner.run("fault", faults["small"], {})
        huge = runner.run("fault", faults["huge"], {})
        after = runner.run("fault", faults["ok"], {})
    assert small["status"] == "ok"
    assert huge["status"] == "memory" and huge["error_type"] == "MemoryError" and huge["exit_code"] == 2
    assert after["status"] == "ok" and after["pid"] != small["pid"]


def test_process_killed_while_running_a_model_is_retried_once_then_recorded_as_crashed(make_faults: Faults) -> None:
    faults = make_faults({"kill": "kill", "segfault": "segfault", "ok": "ok"})
    with IsolatedRunner() as runner:
        killed = runner.run("fault", faults["kill"], {})
        crashed = runner.run("fault", faults["segfault"], {})
        after = runner.run("fault", faults["ok"], {})
    assert killed["status"] == "crashed" and killed["attempts"] == 2 and "SIGKILL" in killed["error"]
    assert crashed["status"] == "crashed" and crashed["attempts"] == 2 and "SIGSEGV" in crashed["error"]
    assert after["status"] == "ok" and after["attempts"] == 1


def test_unexpected_exception_in_a_task_is_an_error_record(make_faults: Faults) -> None:
    faults = make_faults({"raise": "raise"})
    with IsolatedRunner() as runner:
        record = runner.run("fault", faults["raise"], {})
    assert record["status"] == "error" and record["error_type"] == "RuntimeError"


def test_truncated_index_gives_an_unreadable_record_naming_the_file(hub: Path) -> None:
    prefix = str(hub / "damaged" / "sample-1")
    with IsolatedRunner() as runner:
        audit = runner.run("audit", prefix, {})
        verify = runner.run("verify", prefix, {})
    assert audit["status"] == "unreadable" and audit["exit_code"] == 2
    assert "sample-1.index" in audit["error"]
    assert verify["exit_code"] == 2 and verify["result"]["readable"] is False


def test_isolated_record_equals_the_in_process_one(hub: Path) -> None:
    path = str(hub / "graphs" / "network.pb")
    with IsolatedRunner() as runner:
        isolated = runner.run("audit", path, {"fail_on": "high"})
    direct = run_task("audit", path, {"fail_on": "high"})
    assert isolated["result"] == direct["result"]
    assert isolated["status"] == direct["status"] == "problem" and isolated["exit_code"] == 1
