"""The fixture loader returns complete, self-consistent expectations."""

from __future__ import annotations

import glob
import tempfile
from pathlib import Path

import numpy as np
import pytest

from fixture_data import CKPT_DIR, Expected, all_prefixes, case_dir, load_expected

KNOWN_TF_DTYPES = {
    "float16", "float32", "float64", "bfloat16",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "bool", "complex64", "complex128", "string",
    "qint8", "quint8", "qint16", "quint16", "qint32",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz",
    "float4_e2m1fn", "int4", "uint4", "int2", "uint2", "variant",
}
# TF's reader hands quantized values back as the plain integer type of the same width.
NUMPY_NAME_FOR_TF = {"string": "object", "variant": "object", "qint8": "int8", "quint8": "uint8", "qint16": "int16",
                     "quint16": "uint16", "qint32": "int32"}
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

PREFIXES = all_prefixes()


def _prefix_id(prefix: Path) -> str:
    return prefix.relative_to(CKPT_DIR).as_posix()


@pytest.fixture(params=PREFIXES, ids=[_prefix_id(p) for p in PREFIXES])
def expected(request: pytest.FixtureRequest) -> Expected:
    return load_expected(request.param)


def test_fixtures_provide_checkpoint_prefixes() -> None:
    assert PREFIXES, f"no *.expected.json under {CKPT_DIR}; run tools/make_fixtures.py checkpoints"


def test_every_prefix_points_at_files_on_disk(expected: Expected) -> None:
    if expected.format == "v2":
        assert expected.prefix.with_name(expected.prefix.name + ".index").is_file()
    else:
        assert glob.glob(str(expected.prefix)), expected.prefix


def test_every_prefix_has_tensors_and_a_tf_version(expected: Expected) -> None:
    assert expected.values
    assert expected.tf_version.count(".") >= 2
    assert set(expected.values) == set(expected.shapes) == set(expected.dtypes) == set(expected.sources)


def test_dtypes_are_known_tf_names(expected: Expected) -> None:
    assert set(expected.dtypes.values()) <= KNOWN_TF_DTYPES


def test_values_have_recorded_shapes_and_matching_numpy_dtypes(expected: Expected) -> None:
    for key, value in expected.values.items():
        assert list(value.shape) == expected.shapes[key], key
        tf_name = expected.dtypes[key]
        assert value.dtype.name == NUMPY_NAME_FOR_TF.get(tf_name, tf_name), key


def test_string_and_variant_values_are_bytes(expected: Expected) -> None:
    for key, value in expected.values.items():
        if expected.dtypes[key] in ("string", "variant"):
            assert all(isinstance(item, bytes) for item in value.ravel()), key


def test_values_not_read_by_tf_carry_tf_error(expected: Expected) -> None:
    assert set(expected.sources.values()) <= {"tf_reader", "written"}
    written = {key for key, source in expected.sources.items() if source == "written"}
    assert written == set(expected.errors)
    assert all(expected.errors[key] for key in written)


def test_list_variables_names_recorded_tensors(expected: Expected) -> None:
    for name, shape in expected.list_variables:
        assert expected.shapes[name] == shape


def test_latest_checkpoint_is_relative_and_exists(expected: Expected) -> None:
    if expected.latest_checkpoint is None:
        return
    assert not Path(expected.latest_checkpoint).is_absolute()
    target = expected.prefix.parent / expected.latest_checkpoint
    assert Path(f"{target}.index").is_file() or glob.glob(str(target))


def test_object_graph_text_accompanies_object_based_checkpoints(expected: Expected) -> None:
    if OBJECT_GRAPH_KEY in expected.values:
        assert expected.object_graph_text is not None
        assert "nodes" in expected.object_graph_text
    else:
        assert expected.object_graph_text is None


def test_all_dtypes_case_covers_specials_and_bfloat16() -> None:
    expected = load_expected(case_dir("all_dtypes") / "all_dtypes")
    special = expected.values["float32/special"]
    assert np.isnan(special).any() and np.isinf(special).any()
    assert np.signbit(special[special == 0]).any()
    assert expected.values["bfloat16/values"].dtype.name == "bfloat16"
    assert expected.values["string/empty"].shape == (0,)


def test_fixture_files_hold_no_machine_paths() -> None:
    repo_root = str(Path(__file__).resolve().parent.parent).encode()
    temp_root = tempfile.gettempdir().encode()
    for path in CKPT_DIR.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert repo_root not in data, path
            assert temp_root + b"/" not in data, path


def test_case_dir_rejects_unknown_case() -> None:
    with pytest.raises(FileNotFoundError):
        case_dir("no_such_case")


def test_load_expected_rejects_unrecorded_prefix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_expected(tmp_path / "model.ckpt")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def _data_block_count(table: Path) -> int:
    """Entries of the index block (restart interval 1, so one restart per data block)."""
    data = table.read_bytes()
    footer = data[-48:]
    pos = 0
    for _ in range(2):  # metaindex handle
        _, pos = _varint(footer, pos)
    offset, pos = _varint(footer, pos)
    size, _ = _varint(footer, pos)
    return int.from_bytes(data[offset + size - 4 : offset + size], "little")


@pytest.mark.parametrize("table", ["many_vars/model.ckpt.index", "v1_multiblock/model.ckpt"])
def test_multiblock_cases_hold_tables_with_several_data_blocks(table: str) -> None:
    path = CKPT_DIR / table
    assert _data_block_count(path) >= 2
    # A small table reads as one block, so the count above is not a constant.
    assert _data_block_count(CKPT_DIR / "sample" / "sample-1.index") == 1


def test_manager_case_keeps_the_two_newest_checkpoints_with_timestamps() -> None:
    folder = case_dir("manager")
    state = (folder / "checkpoint").read_text()
    paths = [line.split('"')[1] for line in state.splitlines() if line.startswith("all_model_checkpoint_paths")]
    stamps = [line for line in state.splitlines() if line.startswith("all_model_checkpoint_timestamps")]
    assert paths == ["ckpt-2", "ckpt-3"]
    assert len(stamps) == 2 and "last_preserved_timestamp" in state
    assert not list(folder.glob("ckpt-1.*"))
    assert load_expected(folder / "ckpt-2").latest_checkpoint == "ckpt-3"


def test_write_only_case_has_no_state_file_and_no_latest_checkpoint() -> None:
    folder = case_dir("write_only")
    assert not (folder / "checkpoint").exists()
    assert load_expected(folder / "ckpt").latest_checkpoint is None


def test_variant_values_are_serialized_variant_tensor_data() -> None:
    from tfformats.proto import VariantTensorDataProto

    folder = case_dir("variant")
    type_names = set()
    for prefix in ("tensor_list", "iterator"):
        expected = load_expected(folder / prefix)
        variants = [k for k, dtype in expected.dtypes.items() if dtype == "variant"]
        assert variants, prefix
        for key in variants:
            assert expected.sources[key] == "written", key
            for item in expected.values[key].ravel():
                proto = VariantTensorDataProto()
                proto.ParseFromString(item)
                assert proto.SerializeToString() == item
                type_names.add(proto.type_name)
    assert type_names == {"tensorflow::TensorList", "tensorflow::Iterator"}


def test_names_edge_case_covers_escaping_prefixes_and_long_names() -> None:
    folder = case_dir("names_edge")
    object_keys = set(load_expected(folder / "object").shapes)
    assert {"a..b/.ATTRIBUTES/VARIABLE_VALUE", "a.Sb/.ATTRIBUTES/VARIABLE_VALUE",
            "a/.ATTRIBUTES/VARIABLE_VALUE", "ab/.ATTRIBUTES/VARIABLE_VALUE"} <= object_keys
    raw_keys = set(load_expected(folder / "raw").shapes)
    assert {"a", "a/b", "ab"} <= raw_keys
    assert max(len(k.encode()) for k in raw_keys) > 200
    assert any(not k.isascii() for k in raw_keys)
