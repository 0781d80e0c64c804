"""Write the OpDefs of TensorFlow's standard ops to ``tfformats/graphs/standard_ops.bin``.

Run in the TensorFlow environment::

    python tools/build_op_registry.py           # rewrite the data file
    python tools/build_op_registry.py --check   # exit 1 if the committed file differs

The file is one line ``tensorflow <version>\\n`` followed by a zlib-compressed,
deterministically serialized ``OpList``: every op of the running TensorFlow's
registry (the C API's ``TF_GetAllOpList``), sorted by name, with the
documentation fields (summary, description, argument and attr descriptions,
deprecation explanation) removed. Those fields are the bulk of the registry and
nothing in tfformats reads them.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tfformats" / "graphs" / "standard_ops.bin"


def registry_op_list() -> Any:
    """The running TensorFlow's full OpList (a TensorFlow-side message)."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    buffer = pywrap_tf_session.TF_GetAllOpList()
    op_list = op_def_pb2.OpList()
    op_list.ParseFromString(pywrap_tf_session.TF_GetBuffer(buffer))
    return op_list


def strip_docs(op_list: Any) -> Any:
    """Sort the ops by name and clear every documentation field, in place; returns ``op_list``."""
    ops = sorted(op_list.op, key=lambda op: op.name)
    del op_list.op[:]
    op_list.op.extend(ops)
    for op in op_list.op:
        op.ClearField("summary")
        op.ClearField("description")
        for arg in list(op.input_arg) + list(op.output_arg):
            arg.ClearField("description")
        for attr in op.attr:
            attr.ClearField("description")
        if op.HasField("deprecation"):
            op.deprecation.ClearField("explanation")
    return op_list


def render(op_list: Any, version: str) -> bytes:
    header = f"tensorflow {version}\n".encode("ascii")
    return header + zlib.compress(op_list.SerializeToString(deterministic=True), 9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    args = parser.parse_args(argv)

    import tensorflow as tf

    op_list = strip_docs(registry_op_list())
    data = render(op_list, tf.__version__)
    if args.check:
        same = OUT.exists() and OUT.read_bytes() == data
        print("up to date" if same else "stale")
        return 0 if same else 1
    OUT.write_bytes(data)
    print(f"{len(op_list.op)} OpDefs from TensorFlow {tf.__version__} written to {OUT.relative_to(REPO)} "
          f"({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
