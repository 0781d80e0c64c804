"""``verify_checkpoint`` and ``tfformats verify`` on real fixtures and damaged copies of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import tfformats as tff
from fixture_data import CKPT_DIR, all_prefixes, case_dir, load_expected
from tfformats.cli import main
from tfformats.checkpoint.verify import verify_checkpoint

PREFIXES = all_prefixes()
IDS = [str(p.relative_to(CKPT_DIR)) for p in PREFIXES]


def _copy_bundle(src_prefix: Path, dst_prefix: Path) -> Path:
    for file in src_prefix.parent.glob(src_prefix.name + ".*"):
        suffix = file.name[len(src_prefix.name):]
        if suffix == ".index" or suffix.startswith(".data-"):
            shutil.copyfile(file, str(dst_prefix) + suffix)
    return dst_prefix


def _tf1_copy(tmp_path: Path, step: int = 1) -> Path:
    return _copy_bundle(case_dir("tf1_saver") / f"model.ckpt-{step}", tmp_path / "model.ckpt")


@pytest.mark.parametrize("prefix", PREFIXES, ids=IDS)
def test_every_fixture_written_by_tensorflow_verifies_intact(prefix: Path) -> None:
    report = verify_checkpoint(prefix)
    assert report.intact, report.problems
    assert report.exit_code == 0
    assert report.tensors == len(load_expected(prefix).shapes)
    assert report.entries_checked >= 1


def test_flipped_byte_in_data_shard_is_a_checksum_error_naming_the_tensor(tmp_path: Path) -> None:
    prefix = _tf1_copy(tmp_path)
    with tff.load_checkpoint(prefix) as reader:
        entry = reader.entry("dense/kernel")  # type: ignore[attr-defined]
    data = Path(str(prefix) + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5] ^= 0x10
    data.write_bytes(raw)

    with tff.load_checkpoint(prefix) as reader:
        with pytest.raises(tff.ChecksumError) as info:
            reader.get_tensor("dense/kernel")
        assert "dense/kernel" in str(info.value) and data.name in str(info.value)
        reader.get_tensor("dense/bias")  # the others are unharmed
    report = verify_checkpoint(prefix)
    assert report.readable and not report.intact and report.exit_code == 1
    assert [(p.kind, p.tensor) for p in report.problems] == [("checksum", "dense/kernel")]
    assert report.problems[0].offset == entry.offset
    assert any("damaged" in cause and "dense/kernel" in cause for cause in report.diagnosis)


def test_truncated_shard_is_reported_with_the_bytes_it_lacks(tmp_path: Path) -> None:
    prefix = _tf1_copy(tmp_path)
    data = Path(str(prefix) + ".data-00000-of-00001")
    full = data.read_bytes()
    data.write_bytes(full[: len(full) // 2])

    with tff.load_checkpoint(prefix) as reader:
        last = max(reader.keys(), key=lambda n: reader.entry(n).offset)  # type: ignore[attr-defined]
        with pytest.raises(tff.FormatError) as info:
            reader.get_tensor(last)
        assert data.name in str(info.value)
    report = verify_checkpoint(prefix)
    assert report.exit_code == 1
    assert report.shards[0].size == len(full) // 2 and report.shards[0].needed == len(full)
    assert "truncated" in {p.kind for p in report.problems}
    assert any("truncated" in cause for cause in report.diagnosis)


def test_missing_shard_is_named_and_explained(tmp_path: Path) -> None:
    prefix = _copy_bundle(case_dir("tf1_sharded_devices") / "model.ckpt-1", tmp_path / "model.ckpt-1")
    missing = Path(str(prefix) + ".data-00001-of-00002")
    missing.unlink()

    with tff.load_checkpoint(prefix) as reader:
        in_shard_1 = [n for n in reader.keys() if not reader.entry(n).slices  # type: ignore[attr-defined]
                      and reader.entry(n).shard_id == 1]  # type: ignore[attr-defined]
        assert in_shard_1
        with pytest.raises(FileNotFoundError) as info:
            reader.get_tensor(in_shard_1[0])
        assert isinstance(info.value, tff.MissingShardError) and missing.name in str(info.value)
    report = verify_checkpoint(prefix)
    assert report.exit_code == 1
    assert [s.present for s in report.shards] == [True, False]
    assert [p.path for p in report.problems if p.kind == "missing_shard"] == [str(missing)]
    assert any(missing.name in cause and "missing" in cause for cause in report.diagnosis)


def test_index_paired_with_data_from_another_step_is_diagnosed_as_different_saves(tmp_path: Path) -> None:
    src = case_dir("tf1_saver")
    prefix = tmp_path / "model.ckpt"
    shutil.copyfile(src / "model.ckpt-1.index", str(prefix) + ".index")
    shutil.copyfile(src / "model.ckpt-2.data-00000-of-00001", str(prefix) + ".data-00000-of-00001")

    report = verify_checkpoint(prefix)
    assert report.exit_code == 1
    mismatched = [p.tensor for p in report.problems if p.kind == "checksum"]
    assert len(mismatched) >= 2
    assert any("different saves" in cause for cause in report.diagnosis)


def test_v1_file_opened_as_a_v2_index_is_unreadable_and_says_so(tmp_path: Path) -> None:
    v1 = case_dir("v1_legacy") / "model.ckpt"
    shutil.copyfile(v1, tmp_path / "renamed.index")
    report = verify_checkpoint(tmp_path / "renamed")
    assert not report.readable and report.exit_code == 2
    assert str(tmp_path / "renamed.index") in report.problems[0].message
    assert any("V1" in cause for cause in report.diagnosis)
    with pytest.raises(tff.FormatError) as info:
        tff.load_checkpoint(tmp_path / "renamed")
    assert "renamed.index" in str(info.value)


def test_asking_for_the_index_of_a_v1_file_points_at_the_file_itself(tmp_path: Path) -> None:
    shutil.copyfile(case_dir("v1_legacy") / "model.ckpt", tmp_path / "model.ckpt")
    report = verify_checkpoint(tmp_path / "model.ckpt.index")
    assert report.exit_code == 2
    assert any("legacy V1" in cause for cause in report.diagnosis)
    assert verify_checkpoint(tmp_path / "model.ckpt").intact


def test_random_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "weights.bin"
    junk.write_bytes(bytes(range(256)) * 20)
    report = verify_checkpoint(junk)
    assert report.exit_code == 2
    assert str(junk) in report.problems[0].message
    assert any("not a TensorFlow checkpoint" in cause for cause in report.diagnosis)


def test_data_file_without_its_index_is_explained(tmp_path: Path) -> None:
    prefix = _tf1_copy(tmp_path)
    Path(str(prefix) + ".index").unlink()
    report = verify_checkpoint(str(prefix) + ".data-00000-of-00001")
    assert report.exit_code == 2
    assert any(".index file" in cause and "missing" in cause for cause in report.diagnosis)


def test_damaged_index_block_is_damage_not_a_foreign_file(tmp_path: Path) -> None:
    prefix = _tf1_copy(tmp_path)
    index = Path(str(prefix) + ".index")
    raw = bytearray(index.read_bytes())
    raw[20] ^= 0x01  # inside the first data block
    index.write_bytes(raw)
    report = verify_checkpoint(prefix)
    assert report.readable and report.exit_code == 1
    assert report.problems[0].path == str(index)
    assert any("damaged" in cause for cause in report.diagnosis)


def test_cli_verify_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = case_dir("tf1_saver") / "model.ckpt-1"
    assert main(["verify", str(good)]) == 0
    assert "intact" in capsys.readouterr().out

    bad = _tf1_copy(tmp_path)
    data = Path(str(bad) + ".data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:-3])
    assert main(["verify", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["intact"] is False and doc["readable"] is True
    assert {"kind", "message", "tensor", "path", "offset"} <= set(doc["problems"][0])
    assert doc["diagnosis"]

    junk = tmp_path / "junk"
    junk.write_bytes(b"x" * 100)
    assert main(["verify", str(junk)]) == 2
    out = capsys.readouterr().out
    assert "UNREADABLE" in out and "likely cause" in out


def test_entry_decoder_agrees_with_protobuf_on_every_fixture_entry() -> None:
    from tfformats.bundle.entries import _parse_entry, decode_entry, decode_header
    from tfformats.proto import BundleEntryProto
    from tfformats.table import TableReader

    checked = 0
    for index in sorted(CKPT_DIR.rglob("*.index")):
        with TableReader(index) as table:
            items = list(table.items())
        header = decode_header(items[0][1])
        cache: dict = {}
        for key, value in items[1:]:
            proto = BundleEntryProto.FromString(value)
            expected = (proto.dtype, [d.size for d in proto.shape.dim], proto.shard_id, proto.offset, proto.size,
                        proto.crc32c,
                        tuple(tuple((x.start, x.length if x.HasField("length") else -1) for x in s.extent)
                              for s in proto.slices))
            enum, dims, _, shard_id, offset, size, crc, slices = _parse_entry(value)
            assert (enum, dims, shard_id, offset, size, crc, slices) == expected, (index, key)
            name = key.decode("utf-8", "backslashreplace")
            fast = decode_entry(name, value, header, index, cache)
            slow = decode_entry(name, value, header, index)
            assert fast == slow, (index, key)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("where", ["first half", "second half", "last bytes"])
@pytest.mark.parametrize("copy", [True, False], ids=["owned", "view"])
def test_large_tensor_read_in_halves_is_exact_and_damage_anywhere_is_caught(tmp_path: Path, where: str,
                                                                            copy: bool) -> None:
    import numpy as np

    from tfformats.bundle import reader as bundle_reader

    count = (bundle_reader._SPLIT_MIN + 3 * bundle_reader._CHUNK) // 4 + 7  # several chunks, ragged end
    value = np.random.default_rng(5).standard_normal(count).astype(np.float32)
    prefix = tff.save_checkpoint(tmp_path / "big", {"small": np.arange(3.0), "big": value})
    with tff.load_checkpoint(prefix) as reader:
        assert reader.get_tensor("big", copy=copy).tobytes() == value.tobytes()
        entry = reader.entry("big")  # type: ignore[attr-defined]
    data = Path(prefix + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    position = {"first half": 100, "second half": entry.size * 3 // 4, "last bytes": entry.size - 10}[where]
    raw[entry.offset + position] ^= 0x01
    data.write_bytes(raw)
    with tff.load_checkpoint(prefix) as reader:
        with pytest.raises(tff.ChecksumError) as info:
            reader.get_tensor("big", copy=copy)
        assert "'big'" in str(info.value) and data.name in str(info.value)
    assert [p.tensor for p in verify_checkpoint(prefix).problems] == ["big"]


def test_folder_with_several_checkpoints_and_no_state_file_says_to_pick_one() -> None:
    report = verify_checkpoint(CKPT_DIR / "names_edge")
    assert not report.readable
    assert "holds 2 checkpoints (object, raw)" in report.diagnosis[0]
    assert "without a checkpoint" not in " ".join(report.diagnosis)
