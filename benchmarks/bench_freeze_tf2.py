"""Freeze a ResNet-sized TF2 SavedModel: tfformats against TensorFlow's own path.

Usage (from the repository root)::

    python benchmarks/bench_freeze_tf2.py             # Keras ResNet50, random weights (~100 MB of variables)
    python benchmarks/bench_freeze_tf2.py --quick     # ResNet-like toy model, seconds
    python benchmarks/bench_freeze_tf2.py --runs 5

The SavedModel is built once by TensorFlow (``model.export``) into
``benchmarks/data/`` and reused. Each measurement runs in a fresh process,
tfformats and TensorFlow alternating:

* tfformats: read the SavedModel, inline, freeze, serialize the GraphDef
  (timed inside the process, after imports);
* TensorFlow: ``tf.saved_model.load`` + ``convert_variables_to_constants_v2``
  + ``as_graph_def`` + serialize (timed after ``import tensorflow``; the
  import time is reported separately);
* the whole ``tfformats freeze --saved-model DIR -o frozen.pb`` process
  (interpreter start included).

The report gives medians and the ratio TensorFlow / tfformats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _default_python(env_dir: str) -> str:
    candidate = ROOT / env_dir / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


# -- model generation (runs in the TensorFlow environment) ---------------------------------

BUILD = r"""
import sys
import keras
import numpy as np
keras.utils.set_random_seed(0)
quick = sys.argv[2] == "quick"
if quick:
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    for _ in range(4):
        y = keras.layers.Conv2D(16, 3, padding="same")(x)
        y = keras.layers.BatchNormalization()(y)
        y = keras.layers.ReLU()(y)
        x = keras.layers.Add()([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
else:
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
model.export(sys.argv[1], verbose=False)
"""

OURS = r"""
import sys, time, json
started = time.perf_counter()
from tfformats.freezing.saved_model_v2 import load_and_freeze
imported = time.perf_counter()
result = load_and_freeze(sys.argv[1])
data = result.graph_def.SerializeToString()
with open(sys.argv[2], "wb") as f:
    f.write(data)
done = time.perf_counter()
print(json.dumps({"import": imported - started, "freeze": done - imported, "bytes": len(data),
                  "nodes": len(result.graph_def.node), "variables": len(result.frozen),
                  "functions": len(result.graph_def.library.function)}))
"""

THEIRS = r"""
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
started = time.perf_counter()
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
imported = time.perf_counter()
loaded = tf.saved_model.load(sys.argv[1])
after_load = time.perf_counter()
frozen = convert_variables_to_constants_v2(loaded.signatures["serving_default"])
graph_def = frozen.graph.as_graph_def()
data = graph_def.SerializeToString()
with open(sys.argv[2], "wb") as f:
    f.write(data)
done = time.perf_counter()
print(json.dumps({"import": imported - started, "load": after_load - imported, "convert": done - after_load,
                  "freeze": done - imported, "bytes": len(data), "nodes": len(graph_def.node)}))
"""

def _run_json(python: str, script: str, *args: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    out = subprocess.run([python, "-c", script, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _whole_process(python: str, model: Path, output: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [python, "-m", "tfformats", "freeze", "--saved-model", str(model), "-o", str(output)]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small ResNet-like model instead of ResNet50")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--python-core", default=_default_python(".venv-core"))
    parser.add_argument("--python-tf", default=_default_python(".venv-tf"))
    args = parser.parse_args(argv)

    size = "quick" if args.quick else "resnet50"
    model = args.data / f"tf2_saved_model_{size}"
    if not (model / "saved_model.pb").exists():
        print(f"building {model} with TensorFlow ...", flush=True)
        model.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run([args.python_tf, "-c", BUILD, str(model), size], env=env, check=True)
    variables_bytes = sum(p.stat().st_size for p in (model / "variables").iterdir())
    print(f"model: {model.name}, saved_model.pb {(model / 'saved_model.pb').stat().st_size / 1e6:.1f} MB, "
          f"variables {variables_bytes / 1e6:.1f} MB")

    ours, theirs, whole = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out_ours, out_tf = Path(tmp, "ours.pb"), Path(tmp, "tf.pb")
        for i in range(args.runs):
            ours.append(_run_json(args.python_core, OURS, str(model), str(out_ours)))
            theirs.append(_run_json(args.python_tf, THEIRS, str(model), str(out_tf)))
            whole.append(_whole_process(args.python_core, model, Path(tmp, "cli.pb")))
            print(f"  run {i + 1}: ours {ours[-1]['freeze']:.3f} s, TF {theirs[-1]['freeze']:.3f} s "
                  f"(+ import {theirs[-1]['import']:.2f} s), whole process {whole[-1]:.3f} s", flush=True)

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    ratio = statistics.median(t["freeze"] / o["freeze"] for o, t in zip(ours, theirs))
    print()
    print(f"tfformats  freeze (read+inline+freeze+serialize): {med(ours, 'freeze'):.3f} s   "
          f"(import {med(ours, 'import'):.3f} s; {ours[0]['nodes']} nodes, {ours[0]['functions']} functions, "
          f"{ours[0]['variables']} variables, {ours[0]['bytes'] / 1e6:.1f} MB)")
    print(f"TensorFlow load + convert_variables_to_constants_v2: {med(theirs, 'freeze'):.3f} s   "
          f"(load {med(theirs, 'load'):.3f} s, convert {med(theirs, 'convert'):.3f} s; "
          f"import tensorflow {med(theirs, 'import'):.2f} s; {theirs[0]['nodes']} nodes, "
          f"{theirs[0]['bytes'] / 1e6:.1f} MB)")
    print(f"ratio TensorFlow / tfformats (median of pairs): {ratio:.1f}x")
    print(f"whole process, tfformats freeze --saved-model: median {statistics.median(whole):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
