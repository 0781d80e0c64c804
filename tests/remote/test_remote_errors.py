"""Servers that misbehave: each case is one tfformats error naming the URL, never a raw traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tfformats as tff
from remote_servers import copy_fixture, serve
from tfformats._io.remote import RemoteAccessError, RemoteError
from tfformats.errors import NotFoundError
from tfformats.cli import main

pytest.importorskip("fsspec")


@pytest.fixture
def www(tmp_path: Path) -> Path:
    """A folder holding a checkpoint whose data file is larger than one read (1 MiB tensor) and a graph."""
    root = tmp_path / "www"
    rng = np.random.default_rng(3)
    tff.save_checkpoint(root / "run" / "model.ckpt-1",
                        {"big": rng.standard_normal(1 << 18).astype(np.float32), "b": np.ones(4, np.float32)},
                        update_state=True)
    copy_fixture("sample", root / "sample")
    return root


def test_server_ignoring_range_is_refused_naming_the_url(www: Path) -> None:
    with serve(www, "ignore_range") as server:
        url = f"{server.url}/run/model.ckpt-1"
        with pytest.raises(tff.FormatError) as info:
            tff.load_variable(url, "big")
    message = str(info.value)
    assert url in message and "\n" not in message
    assert "Range" in message


def test_server_cutting_responses_short_is_a_truncated_error_naming_the_url(www: Path) -> None:
    with serve(www, "truncate") as server:
        url = f"{server.url}/run/model.ckpt-1"
        with pytest.raises(tff.TruncatedError) as info:
            tff.load_variable(url, "big")
    assert url in str(info.value) and "\n" not in str(info.value)


def test_forbidden_is_an_access_error_naming_the_url(www: Path) -> None:
    with serve(www, "forbidden") as server:
        url = f"{server.url}/run/model.ckpt-1"
        with pytest.raises(RemoteAccessError) as info:
            tff.load_checkpoint(url)
        with pytest.raises(RemoteAccessError):
            tff.read_graph_def(f"{server.url}/graph.pb")
    assert isinstance(info.value, tff.TFFormatsError) and isinstance(info.value, PermissionError)
    assert url in str(info.value) and "403" in str(info.value)


def test_missing_url_is_not_found_naming_the_url(www: Path) -> None:
    with serve(www) as server:
        url = f"{server.url}/run/no-such-model.ckpt"
        with pytest.raises(tff.CheckpointNotFoundError) as info:
            tff.load_checkpoint(url)
        assert url in str(info.value)
        with pytest.raises(NotFoundError) as graph_info:
            tff.read_graph_def(f"{server.url}/missing.pb")
        assert f"{server.url}/missing.pb" in str(graph_info.value)
        with pytest.raises(tff.MissingShardError) as shard_info:
            (www / "run" / "model.ckpt-1.data-00000-of-00001").unlink()
            tff.load_variable(f"{server.url}/run/model.ckpt-1", "big")
        assert f"{server.url}/run/model.ckpt-1.data-00000-of-00001" in str(shard_info.value)


def test_unreachable_server_is_a_remote_error_naming_the_url() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/run/model.ckpt-1"
    with pytest.raises(RemoteError) as info:
        tff.load_checkpoint(url)
    assert url in str(info.value)


@pytest.mark.parametrize("mode", ["ignore_range", "truncate", "forbidden"])
def test_cli_reports_each_bad_server_in_one_line(www: Path, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(www, mode) as server:
        url = f"{server.url}/run/model.ckpt-1"
        status = main(["inspect", url, "--tensor", "big"])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and url in err


def test_cli_missing_url_is_one_line_with_exit_status_2(www: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(www) as server:
        status = main(["inspect", f"{server.url}/nothing/here"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "/nothing/here" in err


@pytest.mark.parametrize("url, package, extra", [("gs://bucket/run/model.ckpt", "gcsfs", "gcs"),
                                                 ("hf://user/model/ckpt/model.ckpt", "huggingface_hub", "hf")])
def test_url_whose_backend_is_missing_names_the_package_to_install(url: str, package: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed")
    from tfformats._io.remote import MissingExtraError

    with pytest.raises(MissingExtraError) as info:
        tff.load_checkpoint(url)
    message = str(info.value)
    assert message.startswith(url + ": ") and package in message and "\n" not in message
    assert f"pip install 'tfformats[{extra}]'" in message
    assert isinstance(info.value, ImportError) and isinstance(info.value, tff.TFFormatsError)
