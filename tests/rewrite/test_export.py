"""Export to .npz and .safetensors: values load back equal, refusals happen before writing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from fixture_data import CKPT_DIR, load_expected
from tfformats.bundle import naming
from tfformats.cli import main
from tfformats.errors import UnsupportedError
from tfformats.rewrite.export import NPZ_DTYPES_KEY, convert, export_npz, export_safetensors, load_npz
from tfformats.checkpoint.save import save_checkpoint

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _all_dtypes() -> Path:
    path = CKPT_DIR / "all_dtypes" / "all_dtypes"
    if not os.path.exists(naming.index_path(path)):
        pytest.fail("fixture all_dtypes not generated" + " (tools/make_fixtures.py writes it)")
    return path


def test_npz_export_of_every_dtype_loads_back_equal_to_what_tf_read(tmp_path: Path) -> None:
    src = _all_dtypes()
    expected = load_expected(src)
    out = tmp_path / "all.npz"
    export_npz(src, out)
    loaded = load_npz(out)
    assert sorted(loaded) == sorted(expected.values)
    for name, want in expected.values.items():
        got = loaded[name]
        assert got.shape == want.shape, name
        if want.dtype == object:
            assert [bytes(x) for x in got.ravel()] == [bytes(x) for x in want.ravel()], name
        else:
            assert got.tobytes() == want.tobytes(), name
            assert got.dtype.itemsize == want.dtype.itemsize, name


def test_npz_keeps_bfloat16_as_bits_with_a_dtype_record(tmp_path: Path) -> None:
    value = np.array([1.5, -2.0, np.nan], ml_dtypes.bfloat16)
    src = save_checkpoint(tmp_path / "ck", {"w": value, "s": np.array([b"ab", b""], dtype=object)})
    export_npz(src, tmp_path / "o.npz")
    with np.load(tmp_path / "o.npz") as plain:
        assert plain["w"].dtype == np.uint16
        assert json.loads(str(plain[NPZ_DTYPES_KEY])) == {"w": "bfloat16"}
        assert plain["s"].tolist() == [b"ab", b""]
    assert load_npz(tmp_path / "o.npz")["w"].dtype == ml_dtypes.bfloat16


def test_npz_keeps_strings_ending_in_nul_bytes(tmp_path: Path) -> None:
    value = np.array([[b"a\x00", b""], [b"\x00\x00", b"xyz"]], dtype=object)
    src = save_checkpoint(tmp_path / "ck", {"s": value})
    export_npz(src, tmp_path / "o.npz")
    got = load_npz(tmp_path / "o.npz")["s"]
    assert got.shape == (2, 2) and got.tolist() == value.tolist()


def test_failed_npz_export_leaves_no_file(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "ck", {"__tfformats_dtypes__": np.ones(1)})
    with pytest.raises(ValueError, match="reserved"):
        export_npz(src, tmp_path / "o.npz")
    assert sorted(os.listdir(tmp_path)) == ["ck.data-00000-of-00001", "ck.index"]


def test_safetensors_export_loads_in_the_safetensors_package_with_equal_values(tmp_path: Path) -> None:
    tensors = {"a/kernel": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([-1, 7], np.int64),
               "flag": np.array([True, False]), "h": np.array(0.5, np.float16), "empty": np.zeros((0, 3), np.uint8)}
    src = save_checkpoint(tmp_path / "ck", tensors, num_shards=2)
    export_safetensors(src, tmp_path / "o.safetensors")
    loaded = safetensors_numpy.load_file(str(tmp_path / "o.safetensors"))
    assert sorted(loaded) == sorted(tensors)
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype and loaded[name].shape == value.shape, name
        assert loaded[name].tobytes() == value.tobytes(), name


def test_safetensors_bfloat16_header_and_bytes(tmp_path: Path) -> None:
    from safetensors import safe_open

    value = np.array([[1.0, 2.0]], ml_dtypes.bfloat16)
    src = save_checkpoint(tmp_path / "ck", {"w": value})
    export_safetensors(src, tmp_path / "o.safetensors")
    raw = (tmp_path / "o.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    assert header["w"] == {"dtype": "BF16", "shape": [1, 2], "data_offsets": [0, 4]}
    assert raw[8 + n:] == value.tobytes()
    with safe_open(str(tmp_path / "o.safetensors"), framework="np") as f:
        assert list(f.keys()) == ["w"]


def test_safetensors_refuses_strings_and_complex_before_writing(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "ck", {"ok": np.ones(2), "c": np.ones(2, np.complex64)})
    with pytest.raises(UnsupportedError, match="'c'"):
        export_safetensors(src, tmp_path / "o.safetensors")
    src2 = save_checkpoint(tmp_path / "ck2", {"s": np.array([b"x"], dtype=object)})
    with pytest.raises(UnsupportedError, match="'s'"):
        export_safetensors(src2, tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_object_graph_stays_out_unless_asked(tmp_path: Path) -> None:
    src = CKPT_DIR / "tf2_object"
    if not src.exists():
        pytest.fail("fixture tf2_object not generated" + " (tools/make_fixtures.py writes it)")
    convert(src, tmp_path / "a.npz")
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in load_npz(tmp_path / "a.npz")
    convert(src, tmp_path / "b.npz", include_object_graph=True)
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in load_npz(tmp_path / "b.npz")


def test_cli_convert_only_and_rename(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "ck", {"model/w/.ATTRIBUTES/VARIABLE_VALUE": np.ones(2, np.float32),
                                            "optimizer/m": np.ones(2, np.float32)})
    out = tmp_path / "o.safetensors"
    code = main(["convert", src, str(out), "--only", "^model/", "--rename", "/.ATTRIBUTES/VARIABLE_VALUE$="])
    assert code == 0
    assert list(safetensors_numpy.load_file(str(out))) == ["model/w"]


def test_cli_convert_unknown_extension_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = save_checkpoint(tmp_path / "ck", {"w": np.ones(2)})
    assert main(["convert", src, str(tmp_path / "o.bin")]) == 2
    assert "o.bin" in capsys.readouterr().err


def _large(tmp_path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """A checkpoint whose tensors are past the size copied inside the kernel."""
    from tfformats._io.transfer import KERNEL_COPY_MIN

    rng = np.random.default_rng(5)
    tensors = {"w": rng.standard_normal((KERNEL_COPY_MIN // 8 + 3, 2)).astype(np.float32),
               "v": rng.integers(0, 100, KERNEL_COPY_MIN + 1, dtype=np.uint8), "s": np.float64(2.5)}
    return save_checkpoint(tmp_path / "ck", tensors, num_shards=2), tensors


def test_safetensors_export_of_large_tensors_loads_back_equal(tmp_path: Path) -> None:
    src, tensors = _large(tmp_path)
    export_safetensors(src, tmp_path / "o.safetensors")
    loaded = safetensors_numpy.load_file(str(tmp_path / "o.safetensors"))
    assert sorted(loaded) == sorted(tensors)
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype and loaded[name].tobytes() == np.asarray(value).tobytes(), name
    from tfformats._io.transfer import COPY_ALIGN
    from tfformats.checkpoint.loading import load_checkpoint

    raw = (tmp_path / "o.safetensors").read_bytes()
    header_size = int.from_bytes(raw[:8], "little")
    start = 8 + header_size + json.loads(raw[8:8 + header_size])["v"]["data_offsets"][0]
    with load_checkpoint(src) as reader:
        source_offset = reader.entry("v").offset
    # The first tensor copied by the kernel sits where it sat in its shard, modulo COPY_ALIGN.
    assert (8 + header_size) % 8 == 0 and start % COPY_ALIGN == source_offset % COPY_ALIGN


def test_safetensors_export_of_a_damaged_large_tensor_fails_and_leaves_no_file(tmp_path: Path) -> None:
    from tfformats.checkpoint.loading import load_checkpoint
    from tfformats.errors import ChecksumError

    src, _ = _large(tmp_path)
    with load_checkpoint(src) as reader:
        entry = reader.entry("v")
    data = naming.data_path(src, entry.shard_id, 2)
    with open(data, "r+b") as f:
        f.seek(entry.offset + entry.size - 1)
        last = f.read(1)
        f.seek(entry.offset + entry.size - 1)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(ChecksumError) as info:
        export_safetensors(src, tmp_path / "o.safetensors")
    assert os.path.basename(data) in str(info.value) and "'v'" in str(info.value)
    assert not any(name.startswith("o.safetensors") for name in os.listdir(tmp_path))


def test_npz_refuses_variant_tensors_naming_the_tensor_and_checkpoint(tmp_path: Path) -> None:
    src = CKPT_DIR / "variant" / "tensor_list"
    with pytest.raises(UnsupportedError, match="variant") as info:
        export_npz(src, tmp_path / "o.npz")
    assert "tensor_list" in str(info.value)
    assert not (tmp_path / "o.npz").exists()


def test_cli_convert_of_variant_tensors_is_a_one_line_error(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(CKPT_DIR / "variant" / "iterator"), str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "variant" in err and "iterator" in err and "Traceback" not in err


def test_safetensors_refusal_names_the_checkpoint(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "ck", {"c": np.ones(2, np.complex64)})
    with pytest.raises(UnsupportedError) as info:
        export_safetensors(src, tmp_path / "o.safetensors")
    assert str(info.value).startswith(str(tmp_path / "ck"))


def test_safetensors_refuses_a_tensor_named_like_the_metadata_entry(tmp_path: Path) -> None:
    src = save_checkpoint(tmp_path / "ck", {"w": np.ones(2, np.float32)})
    with pytest.raises(ValueError, match="__metadata__"):
        export_safetensors(src, tmp_path / "o.safetensors", rename=["^w$=__metadata__"])
    assert not (tmp_path / "o.safetensors").exists()


def test_cli_convert_with_an_invalid_only_pattern_is_a_one_line_error(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    src = save_checkpoint(tmp_path / "ck", {"w": np.ones(2)})
    assert main(["convert", src, str(tmp_path / "o.npz"), "--only", "("]) == 2
    err = capsys.readouterr().err
    assert "only pattern '('" in err and "Traceback" not in err


def test_cli_convert_into_a_missing_folder_names_the_output_not_a_temporary_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = save_checkpoint(tmp_path / "ck", {"w": np.ones(2)})
    out = tmp_path / "missing" / "o.npz"
    assert main(["convert", src, str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and ".tmp" not in err


@pytest.mark.parametrize("bad", ["a/../../b", "/abs/name", "..", "c:/x"])
def test_npz_refuses_names_that_would_escape_when_unzipped(tmp_path, bad):  # type: ignore[no-untyped-def]
    import numpy as np

    import tfformats as tff

    src = tmp_path / "src"
    tff.save_checkpoint(src, {"w": np.arange(3, dtype=np.float32)})
    out = tmp_path / "out.npz"
    with pytest.raises(ValueError, match="outside"):
        tff.convert(src, out, rename=[f"^w$={bad}"])
    assert not out.exists()
