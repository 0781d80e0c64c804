"""Check the audit's rule file ``tfformats/audit/ops.json`` against TensorFlow's op registry.

Run in the TensorFlow environment::

    python tools/list_standard_ops.py            # fill defined_in in ops.json, report unregistered ops
    python tools/list_standard_ops.py --check    # only report differences, write nothing

Every op named in ``ops.json`` must be registered by a stock ``tensorflow`` install (the C API's
``TF_GetAllOpList``); each entry's ``defined_in`` names the generated Python module that wraps it (generated
from the ``tensorflow/core/ops/*.cc`` file registering the op). The list of standard ops itself is the bundled
op registry, ``tfformats/graphs/standard_ops.bin``, written by ``tools/build_op_registry.py``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUDIT_DIR = REPO / "tfformats" / "audit"
OPS_JSON = AUDIT_DIR / "ops.json"


def registered_ops() -> list[str]:
    """Every op name in the registry of the running TensorFlow."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    buffer = pywrap_tf_session.TF_GetAllOpList()
    op_list = op_def_pb2.OpList()
    op_list.ParseFromString(pywrap_tf_session.TF_GetBuffer(buffer))
    return sorted({op.name for op in op_list.op})


def wrapper_modules(names: set[str]) -> dict[str, str]:
    """Map op name -> the ``tensorflow.python...gen_*`` module exposing its raw-op wrapper."""
    import tensorflow.python as tf_python

    found: dict[str, str] = {}
    for info in pkgutil.walk_packages(tf_python.__path__, "tensorflow.python."):
        if not info.name.rsplit(".", 1)[-1].startswith("gen_"):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # some generated modules need optional parts of TF
            continue
        for name in names:
            if name not in found and callable(getattr(module, name, None)):
                found[name] = info.name
    return found


def update_ops_json(doc: dict, names: set[str], modules: dict[str, str]) -> list[str]:
    """Fill ``defined_in`` for every op entry; return problems found."""
    problems = []
    for cat_name, category in doc["categories"].items():
        for op, entry in category["ops"].items():
            if op not in names:
                problems.append(f"{cat_name}: {op} is not a registered op")
                continue
            module = modules.get(op)
            entry["defined_in"] = (f"{module.replace('.', '/')}.py (raw_ops.{op})" if module
                                   else "TensorFlow op registry (no Python wrapper)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences only")
    args = parser.parse_args(argv)

    names = registered_ops()
    doc = json.loads(OPS_JSON.read_text(encoding="utf-8"))
    listed = {op for category in doc["categories"].values() for op in category["ops"]}
    modules = wrapper_modules(listed)
    problems = update_ops_json(doc, set(names), modules)
    for problem in problems:
        print(problem, file=sys.stderr)
    new_json = json.dumps(doc, indent=1, sort_keys=False) + "\n"
    if args.check:
        stale = OPS_JSON.read_text(encoding="utf-8") != new_json
        print("stale" if stale else "up to date")
        return 1 if stale or problems else 0
    OPS_JSON.write_text(new_json, encoding="utf-8")
    print(f"{len(listed)} categorised ops checked against {len(names)} registered ops")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
