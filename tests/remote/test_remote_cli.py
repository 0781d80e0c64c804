"""The command line on URLs: --storage-option parsing, and commands against a local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remote_servers import CountingServer, copy_fixture
from tfformats.cli import build_parser, main

pytest.importorskip("fsspec")


def test_storage_options_become_a_dict_with_json_values_where_they_parse() -> None:
    args = build_parser().parse_args(["inspect", "s3://b/run/", "--storage-option", "anon=true",
                                      "--storage-option", "endpoint_url=http://127.0.0.1:9000",
                                      "--storage-option", 'client_kwargs={"region_name": "eu-west-1"}',
                                      "--storage-option", "key=abc=def", "--storage-option", "retries=3"])
    assert args.storage_options == {"anon": True, "endpoint_url": "http://127.0.0.1:9000",
                                    "client_kwargs": {"region_name": "eu-west-1"}, "key": "abc=def", "retries": 3}


def test_no_storage_option_leaves_none() -> None:
    for command in (["inspect", "x"], ["graph", "x"], ["verify", "x"], ["diff", "a", "b"], ["audit", "x"]):
        assert build_parser().parse_args(command).storage_options is None


def test_storage_option_without_equals_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["inspect", "x", "--storage-option", "anon"])
    assert info.value.code == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_inspect_http_folder_url(http_server: CountingServer, http_root: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    copy_fixture("sample", http_root / "run")
    assert main(["inspect", f"{http_server.url}/run/", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["prefix"] == f"{http_server.url}/run/sample-1"
    assert doc["num_tensors"] == 7


def test_inspect_one_tensor_of_http_url_prints_its_values(http_server: CountingServer, http_root: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    copy_fixture("sample", http_root / "run")
    name = "model/hidden/bias/.ATTRIBUTES/VARIABLE_VALUE"
    assert main(["inspect", f"{http_server.url}/run/sample-1", "--tensor", name, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tensor"]["name"] == name and doc["tensor"]["shape"] == [4]


def test_verify_and_graph_on_http_urls(http_server: CountingServer, http_root: Path) -> None:
    from remote_servers import FIXTURES
    import shutil

    copy_fixture("sample", http_root / "run")
    shutil.copy2(FIXTURES / "graphs" / "mlp" / "graph.pb", http_root / "graph.pb")
    assert main(["verify", f"{http_server.url}/run/"]) == 0
    assert main(["graph", f"{http_server.url}/graph.pb", "--json"]) == 0
