"""Convert the same models with tfformats and with tf2onnx, and run both outputs in onnxruntime.

For each model (Keras applications with random weights, a transformer block, LSTM, GRU, an embedding
classifier, Conv1D): whole-process conversion time (a fresh interpreter per run, imports included), node and
Transpose counts, max difference against TensorFlow running the SavedModel on the same inputs, and latency
(median over --runs calls, one thread) of TensorFlow, of onnxruntime on our model and on tf2onnx's. A benchmark,
not a test: it prints ratios and asserts nothing.

    python benchmarks/bench_onnx.py                 # every model
    python benchmarks/bench_onnx.py --only mobilenet_v2,lstm --runs 50

Needs three environments: tfformats without TensorFlow (--core-python, default .venv-core), TensorFlow with
onnxruntime (--tf-python, default .venv-tf), and tf2onnx 1.17 with tensorflow-cpu 2.21 in its own environment
(--tf2onnx-python, default .venv-tf2onnx, created with pip when missing, as tf2onnx's users install it).
Models are exported once into benchmarks/data/onnx/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "onnx"
MODELS = ["mobilenet_v2", "resnet50", "efficientnet_b0", "densenet121", "inception_v3", "transformer", "lstm", "gru",
          "embedding", "conv1d"]
TF2ONNX_PINS = ["tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnxruntime"]


# -- workers (run inside the TensorFlow environment) -------------------------------------------------------------

def _build(name: str) -> Any:
    import keras

    a = keras.applications
    apps = {"mobilenet_v2": lambda: a.MobileNetV2(weights=None, input_shape=(96, 96, 3)),
            "resnet50": lambda: a.ResNet50(weights=None, input_shape=(96, 96, 3)),
            "efficientnet_b0": lambda: a.EfficientNetB0(weights=None, input_shape=(96, 96, 3)),
            "densenet121": lambda: a.DenseNet121(weights=None, input_shape=(96, 96, 3)),
            "inception_v3": lambda: a.InceptionV3(weights=None, input_shape=(75, 75, 3))}
    if name in apps:
        return apps[name]()
    L = keras.layers
    if name == "transformer":
        inp = keras.Input((None, 64))
        x = L.LayerNormalization()(L.MultiHeadAttention(4, 16)(inp, inp) + inp)
        x = L.LayerNormalization()(x + L.Dense(64)(L.Dense(128, activation="gelu")(x)))
        return keras.Model(inp, x)
    if name in ("lstm", "gru"):
        inp = keras.Input((None, 32))
        return keras.Model(inp, (L.LSTM if name == "lstm" else L.GRU)(64)(inp))
    if name == "embedding":
        inp = keras.Input((None,), dtype="int32")
        x = L.GlobalAveragePooling1D()(L.Embedding(1000, 32)(inp))
        return keras.Model(inp, L.Dense(4, activation="softmax")(x))
    if name == "conv1d":
        inp = keras.Input((64, 8))
        x = L.MaxPooling1D()(L.Conv1D(32, 5, activation="relu")(L.Conv1D(16, 3, activation="relu")(inp)))
        return keras.Model(inp, L.Dense(3)(L.Flatten()(x)))
    raise SystemExit(f"unknown model {name}")


def worker_export(names: list[str]) -> None:
    import keras

    for name in names:
        path = DATA / name / "saved_model"
        if not (path / "saved_model.pb").exists():
            keras.utils.set_random_seed(0)
            _build(name).export(str(path), verbose=False)


def _feeds(model_path: Path) -> dict[str, Any]:
    import numpy as np
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    rng = np.random.default_rng(0)
    feeds = {}
    for info in model.graph.input:
        t = info.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (1 if i == 0 else 24) for i, d in enumerate(t.shape.dim)]
        np_dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        feeds[info.name] = (rng.standard_normal(dims).astype(np_dtype) if np.issubdtype(np_dtype, np.floating)
                            else rng.integers(0, 900, dims).astype(np_dtype))
    return feeds


def _median_call(fn: Any, runs: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def worker_run(name: str, runs: int) -> None:
    """Latency of TensorFlow, of onnxruntime on each .onnx, and max differences; one JSON line."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    d = DATA / name
    ours = d / "tfformats.onnx"
    feeds = _feeds(ours)
    fn = tf.saved_model.load(str(d / "saved_model")).signatures["serving_default"]
    tf_feeds = {k: tf.constant(v) for k, v in feeds.items()}
    want = {k: v.numpy() for k, v in fn(**tf_feeds).items()}
    result: dict[str, Any] = {"model": name, "tf_seconds": _median_call(lambda: fn(**tf_feeds), runs)}
    for side, path in (("tfformats", ours), ("tf2onnx", d / "tf2onnx.onnx")):
        if not path.exists():
            continue
        model = onnx.load(str(path))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime refuses the model: report it, keep measuring the other side
            result[side] = {"nodes": len(model.graph.node), "error": str(exc).splitlines()[0][:200],
                            "transposes": sum(n.op_type == "Transpose" for n in model.graph.node)}
            continue
        names = [i.name for i in session.get_inputs()]
        side_feeds = dict(zip(names, feeds.values())) if set(names) != set(feeds) else feeds
        got = session.run(None, side_feeds)
        outs = [o.name for o in session.get_outputs()]
        diffs = []
        for out, value in zip(outs, got):
            ref = want.get(out, next(iter(want.values())) if len(want) == 1 else None)
            if ref is not None and ref.shape == value.shape:
                diffs.append(float(np.max(np.abs(ref.astype(np.float64) - value))))
        result[side] = {"nodes": len(model.graph.node),
                        "transposes": sum(n.op_type == "Transpose" for n in model.graph.node),
                        "seconds": _median_call(lambda: session.run(None, side_feeds), runs),
                        "max_diff": max(diffs) if diffs else None}
    print(json.dumps(result))


# -- driver ------------------------------------------------------------------------------------------------------

def _ensure_tf2onnx(python: Path) -> bool:
    if python.exists():
        return True
    venv = python.parent.parent
    print(f"creating {venv.name} with {' '.join(TF2ONNX_PINS)} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *TF2ONNX_PINS], check=True)
    except subprocess.CalledProcessError as exc:
        print(f"could not install tf2onnx: {exc}")
        return False
    return True


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, bool, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] if proc.returncode else []
    return seconds, proc.returncode == 0, tail[0] if tail else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--runs", type=int, default=30, help="latency calls per side (median)")
    parser.add_argument("--convert-runs", type=int, default=3, help="conversions per converter (median)")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--core-python", default=str(ROOT / ".venv-core" / "bin" / "python"))
    parser.add_argument("--tf-python", default=str(ROOT / ".venv-tf" / "bin" / "python"))
    parser.add_argument("--tf2onnx-python", default=str(ROOT / ".venv-tf2onnx" / "bin" / "python"))
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker[0] == "export":
            worker_export(args.worker[1:])
        else:
            worker_run(args.worker[1], args.runs)
        return
    names = args.only.split(",") if args.only else MODELS
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    me = str(Path(__file__).resolve())
    subprocess.run([args.tf_python, me, "--worker", "export", *names], check=True, env=env)
    have_tf2onnx = _ensure_tf2onnx(Path(args.tf2onnx_python))
    rows = []
    for name in names:
        d = DATA / name
        ours_cmd = [args.core_python, "-m", "tfformats", "onnx", str(d / "saved_model"),
                    "-o", str(d / "tfformats.onnx"), "--opset", str(args.opset)]
        ours = [_timed(ours_cmd, env) for _ in range(args.convert_runs)]
        theirs: list[tuple[float, bool, str]] = []
        if have_tf2onnx:
            (d / "tf2onnx.onnx").unlink(missing_ok=True)
            cmd = [args.tf2onnx_python, "-m", "tf2onnx.convert", "--saved-model", str(d / "saved_model"),
                   "--output", str(d / "tf2onnx.onnx"), "--opset", str(args.opset)]
            theirs = [_timed(cmd, env) for _ in range(max(1, args.convert_runs - 1))]
        out = subprocess.run([args.tf_python, me, "--worker", "run", name, "--runs", str(args.runs)],
                             capture_output=True, text=True, env=env)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"model": name, "error": out.stderr.strip()[-300:]}
        result["convert"] = {"tfformats": (statistics.median(t for t, _, _ in ours), all(ok for _, ok, _ in ours),
                                           ours[0][2]),
                             "tf2onnx": (statistics.median(t for t, _, _ in theirs), all(ok for _, ok, _ in theirs),
                                         theirs[0][2]) if theirs else None}
        rows.append(result)
        _print_row(result)
        (DATA / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"\nraw results: {DATA / 'results.json'}")


def _fmt_ms(seconds: Any) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}"


def _ratio(num: Any, den: Any) -> str:
    return f"x{num / den:.2f}" if num and den else "-"


def _print_row(r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"{r['model']}: worker failed: {r['error']}")
        return
    ours, theirs = r.get("tfformats", {}), r.get("tf2onnx") or {}
    for side, doc in (("tfformats", ours), ("tf2onnx", theirs)):
        if "error" in doc:
            print(f"{r['model']}: onnxruntime cannot load the {side} model: {doc['error']}")
    conv_ours, conv_theirs = r["convert"]["tfformats"], r["convert"]["tf2onnx"]
    tf_s = r["tf_seconds"]
    theirs_conv = "-" if not conv_theirs else f"{conv_theirs[0]:.2f}s" + ("" if conv_theirs[1] else " FAILED")
    speedup = _ratio(conv_theirs[0], conv_ours[0]) if conv_theirs and conv_theirs[1] else "-"
    pad = " " * 16
    lines = [
        f"{r['model']:<16} convert: ours {conv_ours[0]:.2f}s{'' if conv_ours[1] else ' FAILED'}"
        f" | tf2onnx {theirs_conv} (tf2onnx/ours {speedup})",
        f"{pad} nodes/Transpose: ours {ours.get('nodes')}/{ours.get('transposes')}"
        f" | tf2onnx {theirs.get('nodes', '-')}/{theirs.get('transposes', '-')}"
        f"   max|diff| vs TF: ours {ours.get('max_diff')} | tf2onnx {theirs.get('max_diff', '-')}",
        f"{pad} latency ms: TF {_fmt_ms(tf_s)} | ort(ours) {_fmt_ms(ours.get('seconds'))}"
        f" | ort(tf2onnx) {_fmt_ms(theirs.get('seconds'))}"
        f"   TF/ort(ours) {_ratio(tf_s, ours.get('seconds'))}"
        f"   ort(tf2onnx)/ort(ours) {_ratio(theirs.get('seconds'), ours.get('seconds'))}",
    ]
    if not conv_theirs or not conv_theirs[1]:
        lines.append(f"{pad} tf2onnx: {conv_theirs[2] if conv_theirs else 'not installed'}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
