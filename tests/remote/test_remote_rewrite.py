"""edit and convert with URL sources and destinations (S3 through moto, and fsspec's memory file system)."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfformats as tff
from remote_servers import FIXTURES
from tfformats.cli import main

fsspec = pytest.importorskip("fsspec")
pytest.importorskip("s3fs")


def _values(path: Any, **kw: Any) -> dict[str, bytes]:
    with tff.load_checkpoint(path, **kw) as reader:
        return {k: v.tobytes() if v.dtype != object else repr(v.tolist()).encode() for k, v in reader.items()}


def _upload_folder(s3: dict[str, Any], local: Path, key: str) -> str:
    for path in sorted(p for p in local.iterdir() if p.is_file()):
        s3["fs"].put_file(str(path), f"{s3['bucket']}/{key}/{path.name}")
    s3["fs"].invalidate_cache()
    return f"s3://{s3['bucket']}/{key}"


def test_edit_from_s3_to_s3_equals_the_local_edit(s3: dict[str, Any], tmp_path: Path) -> None:
    opts = s3["options"]
    src = _upload_folder(s3, FIXTURES / "ckpt" / "tf1_saver", "train")
    local = tff.edit_checkpoint(FIXTURES / "ckpt" / "tf1_saver", tmp_path / "local" / "model", strip_optimizer=True,
                                cast=["float32:bfloat16"])
    remote = tff.edit_checkpoint(src + "/", f"s3://{s3['bucket']}/export/model", strip_optimizer=True,
                                 cast=["float32:bfloat16"], storage_options=opts)
    assert remote.prefix == f"s3://{s3['bucket']}/export/model"
    assert _values(remote.prefix, storage_options=opts) == _values(local.prefix)
    assert tff.latest_checkpoint(f"s3://{s3['bucket']}/export", storage_options=opts) == remote.prefix


def test_convert_s3_checkpoint_to_s3_safetensors_and_npz(s3: dict[str, Any], tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    opts = s3["options"]
    src = _upload_folder(s3, FIXTURES / "ckpt" / "sample", "run")
    out = f"s3://{s3['bucket']}/weights.safetensors"
    tff.convert(src + "/", out, storage_options=opts)
    tff.convert(FIXTURES / "ckpt" / "sample", tmp_path / "w.safetensors")
    remote_bytes = s3["fs"].cat_file(f"{s3['bucket']}/weights.safetensors")
    assert remote_bytes == (tmp_path / "w.safetensors").read_bytes()
    assert safetensors_numpy.load(remote_bytes).keys() == safetensors_numpy.load_file(
        str(tmp_path / "w.safetensors")).keys()
    tff.convert(src + "/", f"s3://{s3['bucket']}/weights.npz", storage_options=opts)
    with zipfile.ZipFile(io.BytesIO(s3["fs"].cat_file(f"{s3['bucket']}/weights.npz"))) as archive:
        assert archive.namelist()


def test_convert_local_checkpoint_to_memory_url() -> None:
    url = f"memory://tff-{uuid.uuid4().hex[:8]}/weights.npz"
    result = tff.convert(FIXTURES / "ckpt" / "sample", url)
    assert result.path == url and fsspec.filesystem("memory").exists(url)


def test_cli_edit_and_convert_on_s3(s3: dict[str, Any]) -> None:
    opts = s3["options"]
    flags = ["--storage-option", f"key={opts['key']}", "--storage-option", f"secret={opts['secret']}",
             "--storage-option", f"endpoint_url={opts['endpoint_url']}"]
    src = _upload_folder(s3, FIXTURES / "ckpt" / "tf1_saver", "train")
    assert main(["edit", src + "/", f"s3://{s3['bucket']}/edited/model", "--strip-optimizer", *flags]) == 0
    assert main(["convert", f"s3://{s3['bucket']}/edited/model", f"s3://{s3['bucket']}/w.safetensors",
                 *flags]) == 0
    assert s3["fs"].exists(f"{s3['bucket']}/w.safetensors")
