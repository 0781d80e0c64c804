"""Compare tfformats' schemas with TensorFlow's own compiled descriptors.

Runs in the TensorFlow environment; skipped when TensorFlow is missing.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.oracle

tf = pytest.importorskip("tensorflow", reason="oracle tests need TensorFlow")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the TF environment may not have tfformats installed
    sys.path.insert(0, str(REPO))

import tfformats.proto as ours  # noqa: E402
from google.protobuf.descriptor import (  # noqa: E402
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
)


def _our_tensorflow_files() -> list[str]:
    names = [p.relative_to(REPO / "protos").as_posix() for p in (REPO / "protos").rglob("*.proto")]
    return sorted(n for n in names if n.startswith("tensorflow/"))


def _tf_file(name: str) -> FileDescriptor:
    """Import TensorFlow's generated module for a .proto path and return its file descriptor."""
    module = importlib.import_module(name[: -len(".proto")].replace("/", ".") + "_pb2")
    descriptor: FileDescriptor = module.DESCRIPTOR
    return descriptor


def _label(field: FieldDescriptor) -> str:
    if getattr(field, "is_repeated", None) is not None:
        if field.is_repeated:
            return "repeated"
        return "required" if field.is_required else "optional"
    return {1: "optional", 2: "required", 3: "repeated"}[field.label]


def _field_facts(field: FieldDescriptor) -> dict[str, Any]:
    is_map = bool(field.message_type and field.message_type.GetOptions().map_entry)
    oneof = field.containing_oneof
    return {
        "number": field.number,
        "type": field.type,
        "label": _label(field),
        "message_type": field.message_type.full_name if field.message_type else None,
        "enum_type": field.enum_type.full_name if field.enum_type else None,
        "oneof": oneof.name if oneof is not None else None,
        "map": is_map,
        "has_presence": field.has_presence,
        "packed": field.is_packed,
    }


def _enum_facts(enum: EnumDescriptor) -> dict[str, int]:
    return {value.name: value.number for value in enum.values}


def _message_facts(message: Descriptor) -> dict[str, Any]:
    """Everything about a message that decides its wire and text form, recursively."""
    return {
        "fields": {f.name: _field_facts(f) for f in message.fields},
        "oneofs": sorted(o.name for o in message.oneofs),
        "enums": {e.name: _enum_facts(e) for e in message.enum_types},
        "nested": {n.name: _message_facts(n) for n in message.nested_types},
    }


def _file_facts(file: FileDescriptor) -> dict[str, Any]:
    return {
        "package": file.package,
        "dependencies": sorted(d.name for d in file.dependencies),
        "messages": {m.name: _message_facts(m) for m in file.message_types_by_name.values()},
        "enums": {e.name: _enum_facts(e) for e in file.enum_types_by_name.values()},
    }


@pytest.mark.parametrize("name", _our_tensorflow_files())
def test_schema_matches_tensorflow_descriptor(name: str) -> None:
    mine = _file_facts(ours.pool.FindFileByName(name))
    theirs = _file_facts(_tf_file(name))
    assert mine["package"] == theirs["package"] == "tensorflow"
    assert mine["dependencies"] == theirs["dependencies"]
    assert mine["enums"] == theirs["enums"]
    assert mine["messages"].keys() == theirs["messages"].keys()
    for message_name in theirs["messages"]:
        assert mine["messages"][message_name] == theirs["messages"][message_name], message_name


def test_data_type_enum_matches_tensorflow() -> None:
    from tensorflow.core.framework import types_pb2

    assert dict(ours.DataType.items()) == dict(types_pb2.DataType.items())


def test_every_message_tensorflow_defines_in_these_files_is_exported() -> None:
    for name in _our_tensorflow_files():
        for message_name in _tf_file(name).message_types_by_name:
            assert getattr(ours, message_name).DESCRIPTOR.full_name == f"tensorflow.{message_name}"


def _graph_def_bytes() -> bytes:
    """A GraphDef written by TensorFlow, with attrs, a Const tensor and a function."""

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def model(x: Any) -> Any:
        w = tf.constant([[1.0], [2.0], [3.0]], name="w")
        return tf.nn.relu(tf.matmul(x, w) + tf.constant(0.5))

    graph_def = model.get_concrete_function().graph.as_graph_def()
    data: bytes = graph_def.SerializeToString()
    return data


_COEXIST_SCRIPT = """
import sys
from google.protobuf import text_format
{first}
{second}
from tensorflow.core.framework import graph_pb2
from tfformats.proto import GraphDef, pool

data = open(sys.argv[1], "rb").read()
theirs = graph_pb2.GraphDef.FromString(data)
mine = GraphDef.FromString(data)
assert GraphDef is not graph_pb2.GraphDef
assert GraphDef.DESCRIPTOR.file.pool is pool
assert len(mine.node) > 3
assert text_format.MessageToString(mine) == text_format.MessageToString(theirs)
assert mine.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)
assert text_format.Parse(text_format.MessageToString(theirs), GraphDef()) == mine
print("coexist-ok", len(mine.node))
"""


@pytest.mark.parametrize(
    "first, second",
    [("import tensorflow", "import tfformats.proto"), ("import tfformats.proto", "import tensorflow")],
    ids=["tensorflow-first", "tfformats-first"],
)
def test_tfformats_and_tensorflow_share_a_process(first: str, second: str, tmp_path: Path) -> None:
    graph_file = tmp_path / "graph.pb"
    graph_file.write_bytes(_graph_def_bytes())
    script = textwrap.dedent(_COEXIST_SCRIPT).format(first=first, second=second)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [sys.executable, "-c", script, str(graph_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "coexist-ok" in result.stdout
