"""audit_path and `tfformats audit` on URLs: the same findings as on the local copy, the URL in every path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import tfformats as tff
from tfformats.cli import main

fsspec = pytest.importorskip("fsspec")

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "audit" / "corpus"
CASES = json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))["cases"]


def _summary(report: Any) -> list[tuple[str, str, str, str]]:
    return sorted((f.severity, f.category, f.op, f.when) for f in report.findings)


def _upload(fs: Any, local: Path, remote: str) -> None:
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        fs.pipe_file(f"{remote}/{file.relative_to(local).as_posix()}", file.read_bytes())


@pytest.mark.parametrize("case", ["create_matching_ssh", "cond_writefile"])
def test_a_saved_model_on_s3_audits_like_its_local_copy(case: str, s3: dict[str, Any]) -> None:
    url = f"s3://{s3['bucket']}/models/{case}"
    _upload(s3["fs"], CORPUS / case, url)
    local = tff.audit_path(CORPUS / case)
    remote = tff.audit_path(url, storage_options=s3["options"])
    assert remote.path == url
    assert _summary(remote) == _summary(local)
    payload = CASES[case]["payload"]
    flagged = [f for f in remote.findings if f.op == payload]
    assert flagged and any(f.when == CASES[case]["when"] for f in flagged)
    assert not any(str(CORPUS) in f.location or "tfformats-audit-" in f.location for f in remote.findings)


def test_the_audit_command_takes_a_url_and_storage_options(s3: dict[str, Any], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    case = "create_matching_ssh"
    url = f"s3://{s3['bucket']}/{case}"
    _upload(s3["fs"], CORPUS / case, url)
    options = s3["options"]
    argv = ["audit", url, "--json", "--storage-option", f"key={options['key']}",
            "--storage-option", f"secret={options['secret']}",
            "--storage-option", f"endpoint_url={options['endpoint_url']}",
            "--storage-option", 'client_kwargs={"region_name": "us-east-1"}']
    status = main(argv)
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["path"] == url
    assert any(f["op"] == CASES[case]["payload"] for f in doc["findings"])


def test_a_checkpoint_prefix_url_is_audited_with_its_shards(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "ckpt" / "sample"
    fs = fsspec.filesystem("memory")
    for file in fixture.iterdir():
        if file.name.startswith("sample-1.") and ".expected" not in file.name:
            fs.pipe_file(f"/audit-ckpt/{file.name}", file.read_bytes())
    report = tff.audit_path("memory://audit-ckpt/sample-1")
    local = tff.audit_path(fixture / "sample-1")
    assert report.kind == "checkpoint" and _summary(report) == _summary(local)


def test_a_url_that_names_nothing_is_a_not_found_error() -> None:
    with pytest.raises(tff.TFFormatsError) as info:
        tff.audit_path("memory://no-such-bucket/model")
    assert isinstance(info.value, FileNotFoundError) and "memory://no-such-bucket/model" in str(info.value)


def test_a_local_audit_never_imports_fsspec_for_local_paths(tmp_path: Path) -> None:
    import subprocess
    import sys

    case = CORPUS / "cond_writefile"
    shutil.copytree(case, tmp_path / "m")
    code = ("import sys, tfformats as tff; tff.audit_path(sys.argv[1]); "
            "sys.exit(1 if 'fsspec' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")]).returncode == 0
