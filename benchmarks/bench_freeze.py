"""Freeze a large TF1 graph (~20,000 nodes, ~2,000 variables): tfformats against TensorFlow.

Usage (from the repository root)::

    python benchmarks/bench_freeze.py              # build the model once, then 5 runs per side
    python benchmarks/bench_freeze.py --runs 3 --layers 500

The graph is built by TensorFlow (TF1 graph mode, ref variables with random
initializers, a Saver) into ``benchmarks/data/freeze_tf1/`` and reused.
Each measurement runs in a fresh process, the two sides alternating:

* tfformats: read the .meta, map variables through its Saver, read the
  checkpoint, convert, serialize (timed inside the process, after imports);
* TensorFlow: ``import_meta_graph`` + ``Saver.restore`` +
  ``convert_variables_to_constants`` + serialize, each step timed (after
  ``import tensorflow``, whose time is reported separately);
* the whole ``tfformats freeze`` process, interpreter start included.

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
DATA = HERE / "data" / "freeze_tf1"
OUTPUT = "out"


def _default_python(env_dir: str) -> str:
    candidate = ROOT / env_dir / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


BUILD = r"""
import sys, os
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_v2_behavior()
out_dir, layers = sys.argv[1], int(sys.argv[2])
os.chdir(out_dir)
tf.compat.v1.set_random_seed(0)
x = tf.compat.v1.placeholder(tf.float32, [None, 16], name="x")
h = x
for i in range(layers):
    with tf.compat.v1.variable_scope(f"layer{i}"):
        w = tf.compat.v1.get_variable("kernel", [16, 16], initializer=tf.compat.v1.random_normal_initializer(0, 0.25))
        b = tf.compat.v1.get_variable("bias", [16], initializer=tf.compat.v1.random_normal_initializer(0, 0.1))
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(h, w), b))
tf.identity(h, name="out")
saver = tf.compat.v1.train.Saver()
with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    saver.save(sess, "model.ckpt")
g = tf.compat.v1.get_default_graph().as_graph_def()
print(len(g.node), len(tf.compat.v1.global_variables()))
"""

TF_WORKER = r"""
import sys, time, json, os
t0 = time.perf_counter()
import tensorflow as tf
from tensorflow.python.framework import convert_to_constants
t_import = time.perf_counter() - t0
data, out = sys.argv[1], sys.argv[2]
tf.compat.v1.disable_eager_execution()
t = time.perf_counter()
graph = tf.Graph()
with graph.as_default():
    saver = tf.compat.v1.train.import_meta_graph(os.path.join(data, "model.ckpt.meta"), clear_devices=True)
    t_meta = time.perf_counter() - t
    with tf.compat.v1.Session(graph=graph) as sess:
        t1 = time.perf_counter()
        saver.restore(sess, os.path.join(data, "model.ckpt"))
        t_restore = time.perf_counter() - t1
        t2 = time.perf_counter()
        frozen = convert_to_constants.convert_variables_to_constants_from_session_graph(
            sess, graph.as_graph_def(), ["out"])
        t_convert = time.perf_counter() - t2
        with open(out, "wb") as f:
            f.write(frozen.SerializeToString())
total = time.perf_counter() - t
print(json.dumps({"import_tf": t_import, "import_meta_graph": t_meta, "restore": t_restore,
                  "convert": t_convert, "total": total, "nodes": len(frozen.node)}))
"""

OURS_WORKER = r"""
import sys, time, json, os
t0 = time.perf_counter()
import tfformats.freezing as fz
from tfformats.graphs import write_graph_def
t_import = time.perf_counter() - t0
data, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
result = fz.freeze_graph_def(os.path.join(data, "model.ckpt.meta"), os.path.join(data, "model.ckpt"), ["out"])
write_graph_def(result.graph_def, out)
total = time.perf_counter() - t
print(json.dumps({"import": t_import, "total": total, "nodes": len(result.graph_def.node),
                  "frozen": len(result.frozen)}))
"""


def build(tf_python: str, layers: int) -> None:
    marker = DATA / f"built-{layers}"
    if marker.exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    for old in DATA.iterdir():
        old.unlink()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([tf_python, "-c", BUILD, str(DATA), str(layers)], env=env, check=True,
                          capture_output=True, text=True)
    nodes, variables = done.stdout.split()[-2:]
    marker.write_text(f"{nodes} nodes, {variables} variables\n")


def _worker(python: str, code: str, out: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    done = subprocess.run([python, "-c", code, str(DATA), out], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(core_python: str, out: str) -> float:
    t = time.perf_counter()
    subprocess.run([core_python, "-m", "tfformats", "freeze", str(DATA / "model.ckpt.meta"), "-c",
                    str(DATA / "model.ckpt"), "--outputs", OUTPUT, "-o", out], check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layers", type=int, default=1000, help="dense layers (2 variables each)")
    parser.add_argument("--tf-python", default=_default_python(".venv-tf"))
    parser.add_argument("--core-python", default=_default_python(".venv-core"))
    args = parser.parse_args(argv)

    build(args.tf_python, args.layers)
    print(f"model: {(DATA / f'built-{args.layers}').read_text().strip()}")
    tf_runs, our_runs, cli_runs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            our_runs.append(_worker(args.core_python, OURS_WORKER, os.path.join(tmp, "ours.pb")))
            tf_runs.append(_worker(args.tf_python, TF_WORKER, os.path.join(tmp, "tf.pb")))
            cli_runs.append(_cli(args.core_python, os.path.join(tmp, "cli.pb")))

    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    ours, theirs = med(our_runs, "total"), med(tf_runs, "total")
    print(f"frozen nodes: tfformats {our_runs[0]['nodes']}, TensorFlow {tf_runs[0]['nodes']}; "
          f"variables frozen: {our_runs[0]['frozen']}")
    print(f"medians of {args.runs} runs (seconds):")
    print(f"  TensorFlow   import_meta_graph {med(tf_runs, 'import_meta_graph'):.3f}  restore "
          f"{med(tf_runs, 'restore'):.3f}  convert {med(tf_runs, 'convert'):.3f}  total {theirs:.3f}  "
          f"(import tensorflow {med(tf_runs, 'import_tf'):.2f})")
    print(f"  tfformats    freeze {ours:.3f}  (import tfformats {med(our_runs, 'import'):.3f})")
    print(f"  ratio TensorFlow / tfformats: {theirs / ours:.1f}x "
          f"(convert step alone: {med(tf_runs, 'convert') / ours:.1f}x)")
    print(f"  'tfformats freeze' whole process: {statistics.median(cli_runs):.3f}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_freeze.json").write_text(json.dumps({"tf": tf_runs, "ours": our_runs, "cli": cli_runs},
                                                          indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
