"""Reading checkpoints at URLs gives exactly what TensorFlow read from the local files."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import tfformats as tff
from remote_servers import FIXTURES, CountingServer, copy_fixture
from fixture_data import CKPT_DIR, all_prefixes, assert_bit_equal, load_expected

fsspec = pytest.importorskip("fsspec")

PREFIXES = all_prefixes()
IDS = [str(p.relative_to(CKPT_DIR)) for p in PREFIXES]


@pytest.fixture(scope="module")
def memory_ckpt() -> Iterator[str]:
    """Every checkpoint fixture copied into fsspec's memory file system; yields its root URL."""
    fs = fsspec.filesystem("memory")
    root = f"/tff-{uuid.uuid4().hex[:8]}"
    for path in CKPT_DIR.rglob("*"):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(CKPT_DIR).as_posix()}", path.read_bytes())
    yield f"memory://{root}"
    fs.rm(root, recursive=True)


def _url(root: str, prefix: Path) -> str:
    return f"{root}/{prefix.relative_to(CKPT_DIR).as_posix()}"


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_every_fixture_read_from_memory_url_equals_tensorflow(memory_ckpt: str, prefix: Path) -> None:
    expected = load_expected(prefix)
    url = _url(memory_ckpt, prefix)
    with tff.load_checkpoint(url) as reader:
        assert reader.get_variable_to_shape_map() == expected.shapes
        for name, value in expected.values.items():
            assert_bit_equal(reader.get_tensor(name), value, name)
    assert [(n, list(s)) for n, s in tff.list_variables(url)] == expected.list_variables


FOLDERS = sorted({p.parent for p in PREFIXES})


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(CKPT_DIR)) for f in FOLDERS])
def test_latest_checkpoint_of_url_folder_resolves_against_the_url(memory_ckpt: str, folder: Path) -> None:
    local = tff.latest_checkpoint(folder)
    latest = tff.latest_checkpoint(_url(memory_ckpt, folder))
    if local is None:
        assert latest is None
    else:
        assert latest == f"{_url(memory_ckpt, folder)}/{os.path.relpath(local, folder)}"


def test_folder_url_with_state_file_opens_the_latest_checkpoint(memory_ckpt: str) -> None:
    local = tff.latest_checkpoint(CKPT_DIR / "manager")
    assert local is not None
    with tff.load_checkpoint(f"{memory_ckpt}/manager/") as reader:
        assert reader.prefix == f"{memory_ckpt}/manager/{os.path.basename(local)}"
        assert reader.get_variable_to_shape_map() == load_expected(local).shapes


def test_index_and_data_file_urls_name_their_checkpoint(memory_ckpt: str) -> None:
    prefix = f"{memory_ckpt}/sample/sample-1"
    for url in (prefix + ".index", prefix + ".data-00000-of-00001", f"{memory_ckpt}/sample/checkpoint"):
        assert tff.resolve_checkpoint(url) == ("V2", prefix)
        with tff.load_checkpoint(url) as reader:
            assert reader.prefix == prefix


def test_file_url_reads_the_local_checkpoint() -> None:
    prefix = CKPT_DIR / "sample" / "sample-1"
    expected = load_expected(prefix)
    with tff.load_checkpoint(f"file://{prefix}") as reader:
        for name, value in expected.values.items():
            assert_bit_equal(reader.get_tensor(name), value, name)


@pytest.mark.parametrize("case", ["sample", "all_dtypes", "partitioned", "max_shard_size", "v1_legacy",
                                  "tf1_saver", "names_edge"])
def test_http_url_reads_equal_tensorflow(http_server: CountingServer, http_root: Path, case: str) -> None:
    copy_fixture(case, http_root / case)
    prefixes = [p for p in PREFIXES if p.parent.name == case]
    assert prefixes
    for prefix in prefixes:
        expected = load_expected(prefix)
        url = f"{http_server.url}/{case}/{prefix.name}"
        with tff.load_checkpoint(url) as reader:
            assert reader.get_variable_to_shape_map() == expected.shapes
            for name, value in expected.values.items():
                assert_bit_equal(reader.get_tensor(name), value, name)
            assert [n for n, _ in reader.items()] == sorted(expected.values)


def test_http_folder_without_state_file_is_found_from_its_listing(http_server: CountingServer,
                                                                  http_root: Path) -> None:
    copy_fixture("sample", http_root / "run")
    os.remove(http_root / "run" / "checkpoint")
    with tff.load_checkpoint(f"{http_server.url}/run/") as reader:
        assert reader.prefix == f"{http_server.url}/run/sample-1"
    with tff.load_checkpoint(f"{http_server.url}/run") as reader:
        assert reader.prefix == f"{http_server.url}/run/sample-1"


def test_get_tensor_copy_false_on_a_url_returns_an_array_with_the_values(memory_ckpt: str) -> None:
    prefix = CKPT_DIR / "all_dtypes"
    first = [p for p in PREFIXES if p.parent == prefix][0]
    expected = load_expected(first)
    with tff.load_checkpoint(_url(memory_ckpt, first)) as reader:
        for name, value in expected.values.items():
            assert_bit_equal(reader.get_tensor(name, copy=False), value, name)


def test_local_paths_never_import_fsspec(tmp_path: Path) -> None:
    prefix = CKPT_DIR / "sample" / "sample-1"
    code = ("import sys, tfformats as tff\n"
            f"r = tff.load_checkpoint({str(prefix)!r}); [r.get_tensor(k) for k in r.keys()]\n"
            f"tff.list_variables({str(prefix.parent)!r}); tff.latest_checkpoint({str(prefix.parent)!r})\n"
            f"tff.save_checkpoint({str(tmp_path / 'out')!r}, {{'w': [1.0]}}, update_state=True)\n"
            f"g = {str(FIXTURES / 'graphs' / 'mlp')!r}\n"
            "tff.read_graph_def(g + '/graph.pb'); tff.freeze(g + '/model.ckpt.meta', g + '/model.ckpt', ['probs'])\n"
            f"tff.read_saved_model({str(FIXTURES / 'graphs' / 'tf1_saved_model' / 'saved_model')!r})\n"
            "from tfformats.checkpoint.verify import verify_checkpoint\n"
            f"assert verify_checkpoint({str(prefix)!r}).intact\n"
            f"assert tff.diff_checkpoints({str(prefix)!r}, {str(prefix)!r}).equal\n"
            f"tff.convert({str(prefix)!r}, {str(tmp_path / 'w.npz')!r})\n"
            "assert 'fsspec' not in sys.modules, 'fsspec imported'\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_url_without_fsspec_is_a_one_line_error_saying_what_to_install() -> None:
    code = ("import sys\nsys.modules['fsspec'] = None\n"
            "import tfformats as tff\n"
            "try:\n    tff.load_checkpoint('s3://bucket/run/model.ckpt')\n"
            "except tff.TFFormatsError as exc:\n    print(type(exc).__name__, '|', exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert "\n" not in line
    assert "s3://bucket/run/model.ckpt" in line and "pip install 'tfformats[remote]'" in line


def _read_large_in_child(url: str, queue: "object") -> None:
    with tff.load_checkpoint(url) as reader:
        queue.put(reader.get_tensor("w").nbytes)  # type: ignore[attr-defined]


def test_a_forked_child_reads_large_tensors_after_the_parent_did() -> None:
    import multiprocessing

    url = f"memory://tff-fork-{uuid.uuid4().hex[:8]}/model.ckpt"
    tff.save_checkpoint(url, {"w": np.arange(1 << 20, dtype=np.float32)})  # 4 MiB: parallel ranged reads
    assert tff.load_variable(url, "w").nbytes == 4 << 20  # the parent's worker threads now exist
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_large_in_child, args=(url, queue))
    child.start()
    child.join(timeout=30)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    assert queue.get(timeout=5) == 4 << 20


def test_state_file_with_absolute_local_paths_resolves_beside_it_at_the_url() -> None:
    fs = fsspec.filesystem("memory")
    root = f"memory://tff-abs-{uuid.uuid4().hex[:8]}"
    tff.save_checkpoint(f"{root}/train/model.ckpt-5", {"w": np.ones(2, np.float32)})
    fs.pipe_file(f"{root}/train/checkpoint",
                 b'model_checkpoint_path: "/home/someone/train/model.ckpt-5"\n'
                 b'all_model_checkpoint_paths: "/home/someone/train/model.ckpt-5"\n')
    assert tff.latest_checkpoint(f"{root}/train") == f"{root}/train/model.ckpt-5"
    assert tff.load_variable(f"{root}/train/", "w").tolist() == [1.0, 1.0]


def test_verify_checkpoint_at_a_url_reports_damage_and_missing_shards() -> None:
    from tfformats.checkpoint.verify import verify_checkpoint

    fs = fsspec.filesystem("memory")
    root = f"memory://tff-verify-{uuid.uuid4().hex[:8]}"
    prefix = f"{root}/model.ckpt"
    tff.save_checkpoint(prefix, {"a": np.arange(1000, dtype=np.float32), "b": np.ones(10, np.int64)}, num_shards=2)
    assert verify_checkpoint(prefix).intact
    with tff.load_checkpoint(prefix) as reader:
        entry = reader.entry("a")  # type: ignore[attr-defined]
    shard = f"{prefix}.data-{entry.shard_id:05d}-of-00002"
    data = bytearray(fs.cat_file(shard))
    data[entry.offset + 10] ^= 0xFF
    fs.pipe_file(shard, bytes(data))
    report = verify_checkpoint(prefix)
    assert not report.intact and any("crc32c" in p.message and "'a'" in p.message for p in report.problems)
    fs.rm_file(shard)
    report = verify_checkpoint(prefix)
    assert not report.intact and any(p.kind == "missing_shard" and shard in p.message for p in report.problems)
