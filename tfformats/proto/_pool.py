"""Load the committed descriptor set into a private pool and build classes.

The schemas keep TensorFlow's ``tensorflow.*`` names so that bytes and text
stay compatible. TensorFlow registers those same names in protobuf's default
pool, so ours live in a separate ``DescriptorPool``; then tfformats and
TensorFlow can share a process in any import order.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FileDescriptor
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

DESCRIPTOR_FILE = "descriptors.bin"


def read_descriptor_set() -> bytes:
    """Return the serialized FileDescriptorSet shipped with the package."""
    return resources.files("tfformats.proto").joinpath(DESCRIPTOR_FILE).read_bytes()


def build_pool(data: bytes) -> tuple[descriptor_pool.DescriptorPool, list[FileDescriptor]]:
    """Add every file of a serialized FileDescriptorSet to a new private pool.

    protoc writes dependencies before the files that import them, so the
    files can be added in the order they appear.
    """
    file_set = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    files = []
    for file_proto in file_set.file:
        pool.AddSerializedFile(file_proto.SerializeToString())
        files.append(pool.FindFileByName(file_proto.name))
    return pool, files


def message_class(descriptor: Descriptor) -> type[Message]:
    """Return the (cached) Python class for a message descriptor."""
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is not None:
        cls: type[Message] = get_class(descriptor)
        return cls
    # protobuf < 4.22 has no GetMessageClass.
    factory = message_factory.MessageFactory(descriptor.file.pool)
    cls = factory.GetPrototype(descriptor)
    return cls


def top_level_symbols(
    files: list[FileDescriptor], package: str, module: str
) -> dict[str, Any]:
    """Map the names of a package's top-level messages, enums and enum values to objects.

    Enums become ``EnumTypeWrapper`` objects (``DataType.Name(1)``,
    ``DataType.Value("DT_FLOAT")``), and each enum value is also exported
    as an int, as generated ``_pb2`` modules do. Top-level classes get
    ``__module__ = module`` so pickle can find them by name. (Nested classes
    cannot be pickled on their own: protobuf looks them up in the default
    pool.)
    """
    symbols: dict[str, Any] = {}
    for file in files:
        if file.package != package:
            continue
        for name, enum in file.enum_types_by_name.items():
            symbols[name] = enum_wrapper(enum)
            for value in enum.values:
                symbols[value.name] = value.number
        for name, desc in file.message_types_by_name.items():
            cls = message_class(desc)
            cls.__module__ = module
            _attach_nested(desc)
            symbols[name] = cls
    return symbols


def _attach_nested(desc: Descriptor) -> None:
    """Make nested classes attributes of their parents.

    The C (upb) backend does this itself; the pure-Python backend only does
    it for nested types it has already built.
    """
    parent = message_class(desc)
    for nested in desc.nested_types:
        if nested.GetOptions().map_entry:
            continue
        if not hasattr(parent, nested.name):
            setattr(parent, nested.name, message_class(nested))
        _attach_nested(nested)


def enum_wrapper(enum: EnumDescriptor) -> EnumTypeWrapper:
    """Wrap an enum descriptor the way generated code exposes enums."""
    return EnumTypeWrapper(enum)
