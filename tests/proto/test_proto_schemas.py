"""Tests for the vendored schemas and the tfformats.proto package (no TensorFlow needed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

import tfformats.proto as proto
from tfformats import dtypes

REPO = Path(__file__).resolve().parent.parent.parent


def _load_compiler() -> ModuleType:
    path = REPO / "tools" / "compile_protos.py"
    spec = importlib.util.spec_from_file_location("compile_protos", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exported_message_classes() -> list[tuple[str, type[Message]]]:
    return [
        (name, obj)
        for name in proto.__all__
        if isinstance(obj := getattr(proto, name), type) and issubclass(obj, Message)
    ]


_SCALAR_SAMPLES: dict[int, Any] = {
    FieldDescriptor.CPPTYPE_INT32: -7,
    FieldDescriptor.CPPTYPE_INT64: -(2**40),
    FieldDescriptor.CPPTYPE_UINT32: 7,
    FieldDescriptor.CPPTYPE_UINT64: 2**40,
    FieldDescriptor.CPPTYPE_DOUBLE: 1.5,
    FieldDescriptor.CPPTYPE_FLOAT: 2.5,
    FieldDescriptor.CPPTYPE_BOOL: True,
}


def _sample(field: FieldDescriptor) -> Any:
    """Return a non-default value for a scalar field."""
    if field.cpp_type == FieldDescriptor.CPPTYPE_STRING:
        return b"\x00v" if field.type == FieldDescriptor.TYPE_BYTES else "v/0"
    if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        return field.enum_type.values[-1].number
    return _SCALAR_SAMPLES[field.cpp_type]


def _is_repeated(field: FieldDescriptor) -> bool:
    # protobuf 7 dropped FieldDescriptor.label; older releases lack is_repeated.
    flag = getattr(field, "is_repeated", None)
    if flag is None:
        return bool(field.label == FieldDescriptor.LABEL_REPEATED)
    return bool(flag)


def _fill(message: Message, depth: int = 0) -> None:
    """Set every field of message (and of sub-messages, two levels deep) to a non-default value."""
    desc: Descriptor = message.DESCRIPTOR
    if desc.full_name == "google.protobuf.Any":
        message.Pack(proto.VersionDef(producer=3, bad_consumers=[2]))
        return
    for field in desc.fields:
        is_message = field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE
        is_map = is_message and field.message_type.GetOptions().map_entry
        container = getattr(message, field.name)
        if is_map:
            key_field, value_field = field.message_type.fields
            key = _sample(key_field)
            if value_field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                entry = container[key]
                if depth < 2:
                    _fill(entry, depth + 1)
            else:
                container[key] = _sample(value_field)
        elif _is_repeated(field):
            if is_message:
                item = container.add()
                if depth < 2:
                    _fill(item, depth + 1)
            else:
                container.append(_sample(field))
        elif is_message:
            container.SetInParent()
            if depth < 2:
                _fill(container, depth + 1)
        else:
            setattr(message, field.name, _sample(field))


def test_committed_descriptor_set_equals_fresh_compile() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is needed to run protoc")
    compiler = _load_compiler()
    committed = (REPO / "tfformats" / "proto" / "descriptors.bin").read_bytes()
    assert compiler.compile_descriptor_set() == committed, (
        "tfformats/proto/descriptors.bin is stale; run tools/compile_protos.py"
    )


def test_descriptor_set_covers_every_schema_file() -> None:
    schemas = {p.relative_to(REPO / "protos").as_posix() for p in (REPO / "protos").rglob("*.proto")}
    loaded = {name for name in schemas if proto.pool.FindFileByName(name)}
    assert loaded == schemas
    assert proto.pool.FindFileByName("google/protobuf/any.proto").package == "google.protobuf"


@pytest.mark.parametrize("name", [name for name, _ in _exported_message_classes()])
def test_exported_class_round_trips_binary_and_text(name: str) -> None:
    cls = getattr(proto, name)
    message = cls()
    _fill(message)
    data = message.SerializeToString(deterministic=True)
    assert data or not cls.DESCRIPTOR.fields, f"{name} filled with values serialized to nothing"
    # Compare bytes rather than messages: with the pure-Python protobuf
    # backend, == on messages holding Any looks types up in the default pool.
    parsed = cls.FromString(data)
    assert parsed.SerializeToString(deterministic=True) == data
    text = proto.format_text(message)
    assert proto.parse_text(text, cls()).SerializeToString(deterministic=True) == data


def test_exports_the_messages_the_other_modules_need() -> None:
    needed = """GraphDef NodeDef AttrValue TensorProto TensorShapeProto MetaGraphDef SavedModel
    SaverDef SignatureDef TensorInfo CollectionDef FunctionDef FunctionDefLibrary OpDef OpList
    BundleHeaderProto BundleEntryProto TensorSliceProto SavedTensorSlices SavedTensorSliceMeta
    SavedSliceMeta SavedSlice CheckpointState VariableDef SaveSliceInfoDef TrackableObjectGraph
    SavedObjectGraph StructuredValue VersionDef FingerprintDef AssetFileDef""".split()
    exported = dict(_exported_message_classes())
    missing = [name for name in needed if name not in exported]
    assert not missing
    for name in needed:
        assert exported[name].DESCRIPTOR.full_name == f"tensorflow.{name}"


def test_nested_types_are_attributes_of_their_parents() -> None:
    assert proto.TensorShapeProto.Dim.DESCRIPTOR.full_name == "tensorflow.TensorShapeProto.Dim"
    ref = proto.TrackableObjectGraph.TrackableObject.ObjectReference(node_id=3, local_name="w")
    assert ref.node_id == 3
    assert proto.SaverDef.V2 == proto.SaverDef.CheckpointFormatVersion.Value("V2")


def test_bundle_entry_bytes_from_a_tensorflow_file_parse() -> None:
    # FORMATS.md 2.3: the entry TF 2.21 wrote for key "b", a float32[3] at offset 0.
    raw = bytes.fromhex("0801 1204 1202 0803 280c 3516 3de3 f8")
    entry = proto.BundleEntryProto.FromString(raw)
    assert entry.dtype == proto.DT_FLOAT == 1
    assert [d.size for d in entry.shape.dim] == [3]
    assert entry.shard_id == 0 and entry.offset == 0
    assert entry.size == 12
    assert entry.crc32c == 0xF8E33D16
    assert entry.SerializeToString() == raw


def test_bundle_header_bytes_from_a_tensorflow_file_parse() -> None:
    # FORMATS.md 2.2: header of a one-shard bundle.
    header = proto.BundleHeaderProto.FromString(bytes.fromhex("0801 1a02 0801"))
    assert header.num_shards == 1
    assert header.endianness == proto.BundleHeaderProto.LITTLE
    assert header.version.producer == 1


def test_partitioned_full_entry_keeps_explicit_and_missing_slice_lengths() -> None:
    # FORMATS.md 2.6: full-name entry of `part` [10, 3] split into three row slices.
    raw = bytes.fromhex(
        "0801 1208 1202 080a 1202 0803 3a08 0a02 1004 0a02 1003 3a0a 0a04 0804 1003"
        " 0a02 1003 3a0a 0a04 0807 1003 0a02 1003"
    )
    entry = proto.BundleEntryProto.FromString(raw)
    assert [d.size for d in entry.shape.dim] == [10, 3]
    extents = [[(e.start, e.length) for e in s.extent] for s in entry.slices]
    assert extents == [[(0, 4), (0, 3)], [(4, 3), (0, 3)], [(7, 3), (0, 3)]]
    assert all(e.HasField("length") for s in entry.slices for e in s.extent)
    assert entry.HasField("shape")
    assert entry.SerializeToString() == raw
    # An extent with no length (`0a 00`) means "whole dimension" and must stay distinguishable.
    full = proto.TensorSliceProto.FromString(bytes.fromhex("0a00"))
    assert not full.extent[0].HasField("length")
    # TF 2.21 names this oneof `has_length_hack` (older sources: `has_length`).
    assert full.extent[0].WhichOneof("has_length_hack") is None


def test_data_type_enum_matches_dtype_table() -> None:
    for row in dtypes.BY_ENUM.values():
        assert proto.DataType.Name(row.enum) == row.proto_name
        assert proto.DataType.Value(row.proto_name) == row.enum


def test_data_type_enum_has_every_value_and_its_ref_twin() -> None:
    values = dict(proto.DataType.items())
    assert values["DT_INVALID"] == 0
    assert values["DT_FLOAT4_E2M1FN"] == 33
    base = {name: num for name, num in values.items() if 0 < num < 100}
    assert sorted(base.values()) == list(range(1, 34))
    refs = {name: num for name, num in values.items() if num > 100}
    assert refs == {f"{name}_REF": num + 100 for name, num in base.items()}
    assert proto.DataType.Name(133) == "DT_FLOAT4_E2M1FN_REF"


def test_classes_live_in_a_private_pool_not_the_default_one() -> None:
    assert proto.pool is not descriptor_pool.Default()
    assert proto.GraphDef.DESCRIPTOR.file.pool is proto.pool


def test_text_format_parses_graph_def() -> None:
    from google.protobuf import text_format

    text = 'node { name: "c" op: "Const" attr { key: "dtype" value { type: DT_HALF } } }'
    graph = text_format.Parse(text, proto.GraphDef())
    assert graph.node[0].attr["dtype"].type == proto.DT_HALF


def test_any_values_round_trip_through_text_with_private_pool() -> None:
    meta = proto.MetaGraphDef()
    packed = meta.collection_def["saved_model_assets"].any_list.value.add()
    packed.Pack(proto.AssetFileDef(filename="vocab.txt"))
    text = proto.format_text(meta)
    assert "[type.googleapis.com/tensorflow.AssetFileDef]" in text
    parsed = proto.parse_text(text, proto.MetaGraphDef())
    assert parsed.SerializeToString(deterministic=True) == meta.SerializeToString(deterministic=True)
    unpacked = proto.AssetFileDef()
    assert parsed.collection_def["saved_model_assets"].any_list.value[0].Unpack(unpacked)
    assert unpacked.filename == "vocab.txt"


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchProto"):
        proto.NoSuchProto  # noqa: B018


def test_message_class_finds_well_known_types() -> None:
    any_cls = proto.message_class("google.protobuf.Any")
    assert any_cls.DESCRIPTOR.file.pool is proto.pool


def test_top_level_messages_pickle() -> None:
    import pickle

    graph = proto.GraphDef(node=[proto.NodeDef(name="a", op="NoOp")])
    assert pickle.loads(pickle.dumps(graph)) == graph


def test_import_does_not_load_tensorflow() -> None:
    code = "import sys, tfformats.proto; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"
