"""Reading and writing through s3fs against an S3 API server (moto) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfformats as tff
from remote_servers import FIXTURES
from tfformats.bundle.writer import BundleWriter
from tfformats.checkpoint.verify import verify_checkpoint
from tfformats.cli import main

pytest.importorskip("s3fs")


def _upload(s3: dict[str, Any], local: Path, key: str) -> str:
    """Copy a local file or folder to ``s3://bucket/key``; return the URL."""
    fs = s3["fs"]
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    for path in files:
        rel = "" if local.is_file() else "/" + path.relative_to(local).as_posix()
        fs.put_file(str(path), f"{s3['bucket']}/{key}{rel}")
    fs.invalidate_cache()
    return f"s3://{s3['bucket']}/{key}"


def _values(reader: tff.CheckpointReader) -> dict[str, bytes]:
    return {k: (v.tobytes() if v.dtype != object else repr(v.tolist()).encode()) for k, v in reader.items()}


def test_save_checkpoint_to_s3_and_read_it_back(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    rng = np.random.default_rng(0)
    tensors = {"dense/kernel": rng.standard_normal((64, 32)).astype(np.float32),
               "dense/bias": np.arange(32, dtype=np.int64), "names": np.array([b"a", b"bc"], dtype=object)}
    prefix = f"s3://{s3['bucket']}/run/model.ckpt-7"
    assert tff.save_checkpoint(prefix, tensors, num_shards=2, update_state=True, storage_options=opts) == prefix
    listed = sorted(p.rsplit("/", 1)[1] for p in s3["fs"].ls(f"{s3['bucket']}/run", refresh=True))
    assert listed == ["checkpoint", "model.ckpt-7.data-00000-of-00002", "model.ckpt-7.data-00001-of-00002",
                      "model.ckpt-7.index"]
    assert tff.latest_checkpoint(f"s3://{s3['bucket']}/run", storage_options=opts) == prefix
    with tff.load_checkpoint(f"s3://{s3['bucket']}/run/", storage_options=opts) as reader:
        assert reader.prefix == prefix
        for name, value in tensors.items():
            got = reader.get_tensor(name)
            assert got.dtype == value.dtype and got.tolist() == value.tolist()
    assert verify_checkpoint(prefix, storage_options=opts).intact


def test_failed_upload_leaves_no_index_at_the_url(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    prefix = f"s3://{s3['bucket']}/run/model.ckpt-1"
    tff.save_checkpoint(prefix, {"w": np.zeros(3, np.float32)}, storage_options=opts)  # an older save
    writer = BundleWriter(prefix, num_shards=2, storage_options=opts)
    writer.add("w", np.ones(3, np.float32))
    writer.add("v", np.ones(5, np.float32))
    Path(writer._temp_data[1]).unlink()  # the second shard's upload will fail: its staged file is gone
    with pytest.raises(tff.TFFormatsError):
        writer.finish()
    s3["fs"].invalidate_cache()
    assert not s3["fs"].exists(f"{s3['bucket']}/run/model.ckpt-1.index")
    with pytest.raises(tff.CheckpointNotFoundError):
        tff.load_checkpoint(prefix, storage_options=opts)


def test_exception_while_writing_to_s3_uploads_nothing(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    prefix = f"s3://{s3['bucket']}/run/model.ckpt-2"
    with pytest.raises(RuntimeError):
        with BundleWriter(prefix, storage_options=opts) as writer:
            writer.add("w", np.ones(3, np.float32))
            raise RuntimeError("stop")
    assert s3["fs"].ls(s3["bucket"], refresh=True) == []


@pytest.mark.parametrize("case", ["tf1_saver", "v1_sharded", "partitioned", "tf2_object"])
def test_fixture_checkpoints_in_s3_read_like_local(s3: dict[str, Any], case: str) -> None:
    url = _upload(s3, FIXTURES / "ckpt" / case, case)
    with tff.load_checkpoint(FIXTURES / "ckpt" / case) as local, \
            tff.load_checkpoint(url, storage_options=s3["options"]) as remote:
        assert remote.prefix.startswith(url + "/")
        assert _values(remote) == _values(local)
    assert tff.diff_checkpoints(FIXTURES / "ckpt" / case, url, storage_options=s3["options"]).equal


def test_graph_meta_graph_and_saved_model_read_from_s3(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    mlp = FIXTURES / "graphs" / "mlp"
    graph = _upload(s3, mlp / "graph.pb", "mlp/graph.pb")
    meta = _upload(s3, mlp / "model.ckpt.meta", "mlp/model.ckpt.meta")
    saved = _upload(s3, FIXTURES / "graphs" / "tf1_saved_model" / "saved_model", "tf1")
    assert tff.read_graph_def(graph, storage_options=opts) == tff.read_graph_def(mlp / "graph.pb")
    assert tff.read_meta_graph(meta, storage_options=opts) == tff.read_meta_graph(mlp / "model.ckpt.meta")
    local_saved = tff.read_saved_model(FIXTURES / "graphs" / "tf1_saved_model" / "saved_model")
    assert tff.read_saved_model(saved, storage_options=opts) == local_saved
    assert tff.read_saved_model(saved + "/", storage_options=opts) == local_saved


def test_freeze_from_s3_equals_freeze_from_local_files(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    mlp = FIXTURES / "graphs" / "mlp"
    url = _upload(s3, mlp, "mlp")
    local = tff.freeze(mlp / "model.ckpt.meta", mlp / "model.ckpt", ["probs"])
    remote = tff.freeze(f"{url}/model.ckpt.meta", f"{url}/model.ckpt", ["probs"], storage_options=opts)
    assert remote == local
    sm = FIXTURES / "saved_models" / "keras_mlp" / "model"
    sm_url = _upload(s3, sm, "keras_mlp")
    assert tff.freeze_saved_model(sm_url, storage_options=opts) == tff.freeze_saved_model(sm)


def test_write_graph_def_to_s3(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    graph = tff.read_graph_def(FIXTURES / "graphs" / "mlp" / "graph.pb")
    url = f"s3://{s3['bucket']}/out/graph.pbtxt"
    tff.write_graph_def(graph, url, as_text=True, storage_options=opts)
    assert tff.read_graph_def(url, storage_options=opts) == graph


def _cli_options(s3: dict[str, Any]) -> list[str]:
    opts = s3["options"]
    return ["--storage-option", f"key={opts['key']}", "--storage-option", f"secret={opts['secret']}",
            "--storage-option", f"endpoint_url={opts['endpoint_url']}",
            "--storage-option", 'client_kwargs={"region_name": "us-east-1"}']


def test_cli_inspect_verify_graph_and_diff_on_s3(s3: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    url = _upload(s3, FIXTURES / "ckpt" / "sample", "run")
    graph = _upload(s3, FIXTURES / "graphs" / "mlp" / "graph.pb", "graphs/mlp.pb")
    capsys.readouterr()
    assert main(["inspect", url + "/", *_cli_options(s3)]) == 0
    out = capsys.readouterr().out
    assert "model/hidden/bias/.ATTRIBUTES/VARIABLE_VALUE" in out
    assert main(["verify", url + "/", *_cli_options(s3)]) == 0
    assert main(["graph", graph, *_cli_options(s3)]) == 0
    assert "probs" in capsys.readouterr().out
    assert main(["diff", str(FIXTURES / "ckpt" / "sample"), url + "/", *_cli_options(s3)]) == 0


def test_cli_freeze_from_s3_to_s3(s3: dict[str, Any]) -> None:
    url = _upload(s3, FIXTURES / "graphs" / "mlp", "mlp")
    out = f"s3://{s3['bucket']}/frozen/mlp.pb"
    assert main(["freeze", f"{url}/model.ckpt.meta", "-c", f"{url}/model.ckpt", "--outputs", "probs", "-o", out,
                 *_cli_options(s3)]) == 0
    mlp = FIXTURES / "graphs" / "mlp"
    expected = tff.freeze(mlp / "model.ckpt.meta", mlp / "model.ckpt", ["probs"])
    assert tff.read_graph_def(out, storage_options=s3["options"]) == expected


def test_s3_folder_without_state_file_is_found_by_its_index(s3: dict[str, Any], tmp_path: Path) -> None:
    opts = s3["options"]
    tff.save_checkpoint(f"s3://{s3['bucket']}/one/model.ckpt-3", {"w": np.ones(2, np.float32)}, storage_options=opts)
    for url in (f"s3://{s3['bucket']}/one", f"s3://{s3['bucket']}/one/"):
        assert tff.resolve_checkpoint(url, storage_options=opts) == ("V2", f"s3://{s3['bucket']}/one/model.ckpt-3")
    tff.save_checkpoint(f"s3://{s3['bucket']}/one/model.ckpt-4", {"w": np.ones(2, np.float32)}, storage_options=opts)
    s3["fs"].invalidate_cache()
    with pytest.raises(tff.CheckpointNotFoundError) as info:
        tff.load_checkpoint(f"s3://{s3['bucket']}/one/", storage_options=opts)
    assert "holds 2 checkpoints" in str(info.value)
    with pytest.raises(tff.CheckpointNotFoundError):
        tff.load_checkpoint(f"s3://{s3['bucket']}/nothing/here", storage_options=opts)
