"""Writing and rewriting speed: save_checkpoint vs TensorFlow, edit/convert vs a plain copy.

Usage (from the repository root)::

    python benchmarks/bench_write.py            # 2 GiB of float32 in 16 tensors of 128 MiB
    python benchmarks/bench_write.py --quick    # 128 MiB, a few seconds

Measured, each in a fresh process, tfformats and TensorFlow alternating:

* ``save``: the same tensors (generated before the clock starts) written by
  ``tfformats.save_checkpoint`` and by ``tf.train.Checkpoint.write``;
* ``edit --drop``: ``tfformats edit`` dropping one tensor from the TensorFlow-written checkpoint;
* ``convert``: ``tfformats convert`` of that checkpoint to ``.safetensors``;
* ``cp``: a plain copy of the same checkpoint's data file, for the disk-speed reference.

cp, edit and convert are whole processes (start-up included) run in turn, each
going first in a different run; every output is deleted before the next task so
all of them write into memory the kernel has just freed. The table gives median
times, GB/s of the bytes each writes, that rate over cp's, and each process's
peak RSS (``ru_maxrss``).

Files go to ``benchmarks/data/write/`` (gitignored) and are removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {"full": (16, 4096, 8192), "quick": (8, 1024, 4096)}  # tensors, rows, columns (float32)


def _default_python(env_dir: str) -> str:
    candidate = ROOT / env_dir / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def _tensors(mode: str) -> dict[str, Any]:
    import numpy as np

    count, rows, cols = SIZES[mode]
    rng = np.random.default_rng(0)
    return {f"w_{i:02d}": rng.standard_normal((rows, cols), dtype=np.float32) for i in range(count)}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _save_worker(side: str, mode: str, prefix: str) -> dict[str, Any]:
    tensors = _tensors(mode)
    nbytes = sum(t.nbytes for t in tensors.values())
    if side == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        ckpt = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in tensors.items()})
        start = time.perf_counter()
        ckpt.write(prefix)
    else:
        sys.path.insert(0, str(ROOT))
        import tfformats.checkpoint.save as save

        start = time.perf_counter()
        save.save_checkpoint(prefix, tensors)
    return {"seconds": time.perf_counter() - start, "bytes": nbytes, "rss_mb": _rss_mb()}


def _run_rss(cmd: list[str]) -> dict[str, Any]:
    """Wall time and peak RSS of one child process (os.wait4).

    Dirty pages left by the previous task are flushed first (not timed), so
    each task starts from the same state of the page cache's write-back.
    """
    os.sync()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd} failed with status {code}: {err[-2000:]}")
    return {"seconds": seconds, "stdout": out, "rss_mb": usage.ru_maxrss / 1024.0}


def _files(prefix: Path) -> list[Path]:
    return sorted(prefix.parent.glob(prefix.name + ".*"))


def _size(prefix: Path) -> int:
    return sum(p.stat().st_size for p in _files(prefix))


def _remove(prefix: Path) -> None:
    for p in _files(prefix):
        p.unlink()


def _med(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--runs", type=int, default=3, help="runs per side and task (default 3)")
    parser.add_argument("--data", type=Path, default=HERE / "data" / "write", help="scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the files written")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--tf-python", default=os.environ.get("TFFORMATS_TF_PYTHON") or _default_python(".venv-tf"))
    parser.add_argument("--tff-python", default=os.environ.get("TFFORMATS_PYTHON") or _default_python(".venv-core"))
    parser.add_argument("--worker", choices=["tff", "tf"], help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    if args.worker:
        print(json.dumps(_save_worker(args.worker, mode, args.prefix)))
        return 0

    data = args.data / mode
    data.mkdir(parents=True, exist_ok=True)
    me = str(Path(__file__).resolve())
    quick = ["--quick"] if args.quick else []
    saves: dict[str, list[dict[str, Any]]] = {"tff": [], "tf": []}
    for i in range(args.runs):
        for side in (["tff", "tf"] if i % 2 == 0 else ["tf", "tff"]):
            prefix = data / f"save_{side}"
            _remove(prefix)
            python = args.tff_python if side == "tff" else args.tf_python
            done = _run_rss([python, me, "--worker", side, "--prefix", str(prefix), *quick])
            result = json.loads(done["stdout"].strip().splitlines()[-1])
            result["process_rss_mb"] = done["rss_mb"]
            saves[side].append(result)
    nbytes = saves["tff"][0]["bytes"]

    src = data / "save_tf"  # the TensorFlow-written checkpoint is the source of the rewrites
    data_file = next(p for p in _files(src) if ".data-" in p.name)
    largest = max(nbytes // SIZES[mode][0], 1)
    rewrites: dict[str, list[dict[str, Any]]] = {"cp": [], "edit": [], "convert": []}

    def run_cp() -> None:
        copy = data / "copy.data"
        t = _run_rss(["cp", str(data_file), str(copy)])
        t["bytes"] = data_file.stat().st_size
        rewrites["cp"].append(t)
        copy.unlink()

    def run_edit() -> None:
        dst = data / "edited"
        t = _run_rss([args.tff_python, "-m", "tfformats", "edit", str(src), str(dst), "--drop", "^w_00/",
                      "--no-state"])
        t["bytes"] = _size(dst)
        rewrites["edit"].append(t)
        _remove(dst)

    def run_convert() -> None:
        out = data / "out.safetensors"
        t = _run_rss([args.tff_python, "-m", "tfformats", "convert", str(src), str(out)])
        t["bytes"] = out.stat().st_size
        rewrites["convert"].append(t)
        out.unlink()

    def run_startup() -> None:
        t = _run_rss([args.tff_python, "-c", "import tfformats.cli, tfformats.rewrite.edit, tfformats.rewrite.export"])
        t["bytes"] = 0
        rewrites["startup"].append(t)

    rewrites["startup"] = []
    tasks = [run_cp, run_edit, run_convert, run_startup]
    for i in range(args.runs):
        for task in tasks[i % len(tasks):] + tasks[:i % len(tasks)]:  # each task goes first in turn
            task()

    t_tff = _med([r["seconds"] for r in saves["tff"]])
    t_tf = _med([r["seconds"] for r in saves["tf"]])
    ratios = [a["seconds"] / b["seconds"] for a, b in zip(saves["tff"], saves["tf"])]
    budget = largest / 2**20 + 200
    cp_rate = _med([r["bytes"] / r["seconds"] for r in rewrites["cp"]])
    rows = []
    start_up = _med([r["seconds"] for r in rewrites["startup"]])
    net: list[str] = []
    print(f"\nmode: {mode}, runs: {args.runs}, tensor bytes: {nbytes / 2**30:.2f} GiB in {SIZES[mode][0]} tensors "
          f"(largest {largest / 2**20:.0f} MiB)\n")
    print("| task | median time | GB/s | vs cp | peak RSS MB (process) |")
    print("|---|---|---|---|---|")
    for key, label, runs, rss_key in [
            ("save_tff", "save_checkpoint (tfformats)", saves["tff"], "process_rss_mb"),
            ("save_tf", "tf.train.Checkpoint.write (TensorFlow)", saves["tf"], "process_rss_mb"),
            ("cp", "cp of the .data file (reference)", rewrites["cp"], "rss_mb"),
            ("edit", "tfformats edit --drop one tensor", rewrites["edit"], "rss_mb"),
            ("convert", "tfformats convert to .safetensors", rewrites["convert"], "rss_mb")]:
        t = _med([r["seconds"] for r in runs])
        rate = _med([r["bytes"] / r["seconds"] for r in runs])
        if key in ("edit", "convert"):
            rate_net = _med([r["bytes"] / max(r["seconds"] - start_up, 1e-9) for r in runs])
            net.append(f"{label}: {rate_net / 1e9:.2f} GB/s ({rate_net / cp_rate:.2f} of cp)")
        rss = _med([r[rss_key] for r in runs])
        vs_cp = f"{rate / cp_rate:.2f}" if key in ("cp", "edit", "convert") else ""
        print(f"| {label} | {t:.3f} s | {rate / 1e9:.2f} | {vs_cp} | {rss:.0f} |")
        rows.append({"task": key, "label": label, "median_seconds": t, "gb_per_s": rate / 1e9,
                     "peak_rss_mb": rss, "runs_seconds": [r["seconds"] for r in runs]})
    print(f"| start-up alone (python importing tfformats.rewrite.edit, .export) | {start_up:.3f} s |  |  | "
          f"{_med([r['rss_mb'] for r in rewrites['startup']]):.0f} |")
    print(f"\nwithout the start-up time: {'; '.join(net)}")
    print(f"save time ratio tfformats / TensorFlow (median of pairs): {_med(ratios):.2f}")
    print(f"RSS budget for edit/convert (largest tensor + 200 MB): {budget:.0f} MB")
    print("edit/convert times are whole processes (start-up and imports included), like cp's.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"mode": mode, "runs": args.runs, "tensor_bytes": nbytes,
                                         "largest_tensor_bytes": largest, "rss_budget_mb": budget,
                                         "save_ratio_tff_over_tf": _med(ratios), "startup_seconds": start_up,
                                         "rows": rows}, indent=1))
    if not args.keep:
        shutil.rmtree(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
