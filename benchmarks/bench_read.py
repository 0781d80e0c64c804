"""Compare tfformats' checkpoint reader with TensorFlow's on the same files.

Usage (from the repository root)::

    python benchmarks/bench_read.py            # full sizes (~3 GB of data)
    python benchmarks/bench_read.py --quick    # small sizes, a minute or two

The data is written by TensorFlow into ``benchmarks/data/`` (or ``--data``) the
first time and reused afterwards. Every measurement runs in a fresh process,
tfformats and TensorFlow alternating, several times; the report gives medians,
the median of the pairwise ratios (tfformats / TensorFlow) and peak RSS.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name: (variables, elements per variable) or (count,) for the small one
SIZES = {
    "full": {"big": (200, 1600 * 1600), "small": 100_000, "tiny": 100_000, "sharded": (8, 32 << 20)},
    "quick": {"big": (50, 512 * 512), "small": 10_000, "tiny": 10_000, "sharded": (8, 1 << 20)},
}


def _default_python(env_dir: str) -> str:
    candidate = ROOT / env_dir / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


# -- data generation (runs inside the TensorFlow environment) ----------------------------

def _generate_big(path: Path, count: int, elements: int) -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    side = int(elements ** 0.5)
    variables = {f"layer_{i:03d}": tf.Variable(rng.standard_normal((side, elements // side), dtype=np.float32))
                 for i in range(count)}
    tf.train.Checkpoint(layers=variables).write(str(path / "ckpt"))


def _generate_small(path: Path, count: int) -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(1)
    shapes: list[tuple[int, ...]] = [(), (8,), (4, 4), (16,), (2, 3, 4)]
    names, tensors = [], []
    for i in range(count):
        names.append(f"block_{i // 1000:03d}/layer_{(i // 10) % 100:02d}/var_{i % 10}")
        shape = shapes[i % len(shapes)]
        if i % 7 == 0:
            tensors.append(tf.constant(rng.integers(-1000, 1000, shape, dtype=np.int64)))
        else:
            tensors.append(tf.constant(rng.standard_normal(shape, dtype=np.float32)))
    tf.raw_ops.SaveV2(prefix=str(path / "ckpt"), tensor_names=names, shape_and_slices=[""] * count,
                      tensors=tensors)


def _generate_tiny(path: Path, count: int) -> None:
    """``count`` float32[4] tensors written by one SaveV2: per-call overhead dominates reading them."""
    import numpy as np
    import tensorflow as tf

    values = np.random.default_rng(3).standard_normal((count, 4), dtype=np.float32)
    names = [f"layer_{i // 100:04d}/w_{i % 100:02d}" for i in range(count)]
    tf.raw_ops.SaveV2(prefix=str(path / "ckpt"), tensor_names=names, shape_and_slices=[""] * count,
                      tensors=[tf.constant(v) for v in values])


def _generate_sharded(path: Path, count: int, elements: int) -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(2)
    side = int(elements ** 0.5)
    variables = {f"w_{i}": tf.Variable(rng.standard_normal((side, elements // side), dtype=np.float32))
                 for i in range(count)}
    total = count * elements * 4
    # A limit a little above a quarter of the data: four shards, most tensors cut into slices.
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=total // 4 + (1 << 20))
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    tf.train.Checkpoint(weights=variables).write(str(path / "ckpt"), options=options)


def generate_in_tf(data_dir: Path, mode: str) -> None:
    sizes = SIZES[mode]
    jobs: dict[str, Callable[[Path], None]] = {
        "big": lambda p: _generate_big(p, *sizes["big"]),
        "small": lambda p: _generate_small(p, sizes["small"]),
        "tiny": lambda p: _generate_tiny(p, sizes["tiny"]),
        "sharded": lambda p: _generate_sharded(p, *sizes["sharded"]),
    }
    for name, job in jobs.items():
        target = data_dir / mode / name
        if (target / "ckpt.index").exists():
            continue
        target.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        job(target)
        print(f"generated {target} in {time.perf_counter() - start:.1f} s", file=sys.stderr)


# -- one measurement (runs in a fresh process) --------------------------------------------

def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(side: str, task: str, path: str) -> dict[str, Any]:
    """Run one task once; return seconds, bytes and memory figures."""
    if side == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        def load(p: str) -> Any:
            return tf.train.load_checkpoint(p)

        def names(r: Any) -> list[str]:
            return sorted(r.get_variable_to_shape_map())

        def listing(p: str) -> Any:
            return tf.train.list_variables(p)

        def read(r: Any, n: str, view: bool = False) -> Any:
            return r.get_tensor(n)
    else:
        import tfformats as tff

        def load(p: str) -> Any:
            return tff.load_checkpoint(p)

        def names(r: Any) -> list[str]:
            return sorted(r.get_variable_to_shape_map())

        def listing(p: str) -> Any:
            return tff.list_variables(p)

        def read(r: Any, n: str, view: bool = False) -> Any:
            return r.get_tensor(n, copy=False) if view else r.get_tensor(n)

    import numpy as np

    if task.endswith("_cold"):
        evict(path)
        task = task[: -len("_cold")]
    base = _rss_mb()
    nbytes = 0
    start = time.perf_counter()
    if task == "open":
        reader = load(path)
    elif task == "list":
        nbytes = len(listing(path))
    elif task in ("read_all", "read_view"):
        reader = load(path)
        for name in names(reader):
            value = read(reader, name, task == "read_view")
            nbytes += value.nbytes if isinstance(value, np.ndarray) else 0
            del value
    elif task == "read_items":  # tfformats only: reader.items()
        reader = load(path)
        for _, value in reader.items():
            nbytes += value.nbytes if isinstance(value, np.ndarray) else 0
            del value
    elif task == "read_biggest":
        reader = load(path)
        shapes = reader.get_variable_to_shape_map()
        biggest = max(shapes, key=lambda n: int(np.prod(shapes[n])))
        base = _rss_mb()
        start = time.perf_counter()
        value = read(reader, biggest)
        nbytes = value.nbytes
    else:
        raise SystemExit(f"unknown task {task}")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": nbytes, "rss_mb": _rss_mb(), "rss_growth_mb": _rss_mb() - base}


def checkpoint_files(prefix: str) -> list[Path]:
    p = Path(prefix)
    return sorted(p.parent.glob(p.name + ".*"))


def evict(prefix: str) -> None:
    """Drop a checkpoint's files from the page cache (posix_fadvise DONTNEED), so the next read is cold."""
    for file in checkpoint_files(prefix):
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def plain_read(prefix: str) -> dict[str, Any]:
    """The baseline: ``dd bs=16M`` of every data file after eviction, as a plain sequential read."""
    evict(prefix)
    files = [f for f in checkpoint_files(prefix) if ".data-" in f.name]
    start = time.perf_counter()
    for f in files:
        subprocess.run(["dd", f"if={f}", "of=/dev/null", "bs=16M"], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": sum(f.stat().st_size for f in files), "rss_mb": 0.0, "rss_growth_mb": 0.0}


def _run_worker(python: str, side: str, task: str, path: str) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", side, "--task", task, "--path", path]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{side} {task} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_process(cmd: list[str]) -> dict[str, Any]:
    """Wall time and peak RSS of one whole process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed with status {proc.returncode}: {proc.stderr.read()[-2000:]!r}")
    proc.stderr.close()
    return {"seconds": seconds, "bytes": 0, "rss_mb": usage.ru_maxrss / 1024.0, "rss_growth_mb": 0.0}


# -- the report ---------------------------------------------------------------------------

class Row:
    def __init__(self, label: str, unit: str = "s") -> None:
        self.label = label
        self.unit = unit
        self.tff: list[dict[str, Any]] = []
        self.tf: list[dict[str, Any]] = []

    @staticmethod
    def _median(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs) if runs else float("nan")

    def cells(self) -> list[str]:
        t_tff = self._median(self.tff, "seconds")
        t_tf = self._median(self.tf, "seconds")
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(self.tff, self.tf) if b["seconds"] > 0]
        ratio = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        gbps = ""
        if self.unit == "GB/s" and self.tff:
            nbytes = self.tff[0]["bytes"]
            gbps_tff = nbytes / t_tff / 1e9
            gbps_tf = nbytes / t_tf / 1e9 if self.tf else float("nan")
            gbps = f"{gbps_tff:.2f} / {gbps_tf:.2f}"
        return [self.label, _fmt_time(t_tff), _fmt_time(t_tf) if self.tf else "-", ratio, gbps,
                f"{self._median(self.tff, 'rss_mb'):.0f} / {self._median(self.tf, 'rss_mb'):.0f}"
                if self.tf else f"{self._median(self.tff, 'rss_mb'):.0f} / -",
                f"{self._median(self.tff, 'rss_growth_mb'):.0f} / {self._median(self.tf, 'rss_growth_mb'):.0f}"
                if self.tf else f"{self._median(self.tff, 'rss_growth_mb'):.0f} / -"]


def _fmt_time(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"


def _print_markdown(rows: list[Row], out: Any = sys.stdout) -> None:
    headers = ["task", "tfformats (median)", "TensorFlow (median)", "ratio tff/TF (median of pairs)",
               "GB/s tff / TF", "peak RSS MB tff / TF", "RSS growth MB tff / TF"]
    out.write("| " + " | ".join(headers) + " |\n")
    out.write("|" + "---|" * len(headers) + "\n")
    for row in rows:
        out.write("| " + " | ".join(row.cells()) + " |\n")


def _file_bytes(prefix: Path) -> int:
    return sum(p.stat().st_size for p in prefix.parent.glob(prefix.name + ".*"))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--runs", type=int, default=5, help="runs per side and task (default 5)")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where the checkpoints live")
    parser.add_argument("--tf-python", default=os.environ.get("TFFORMATS_TF_PYTHON") or _default_python(".venv-tf"),
                        help="Python with TensorFlow 2.21")
    parser.add_argument("--tff-python", default=os.environ.get("TFFORMATS_PYTHON") or _default_python(".venv-core"),
                        help="Python with tfformats and without TensorFlow")
    parser.add_argument("--only", nargs="*", help="run only these task labels (prefix match)")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--inspect-path", type=Path, default=None,
                        help="small checkpoint for the 'inspect' start-up test (default: the sample fixture)")
    parser.add_argument("--worker", choices=["tff", "tf"], help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--generate-in-tf", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"

    if args.worker:
        print(json.dumps(_worker(args.worker, args.task, args.path)))
        return 0
    if args.generate_in_tf:
        generate_in_tf(args.data, mode)
        return 0

    cmd = [args.tf_python, str(Path(__file__).resolve()), "--generate-in-tf", "--data", str(args.data)]
    if args.quick:
        cmd.append("--quick")
    subprocess.run(cmd, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if args.generate_only:
        return 0

    base = args.data / mode
    big, small, sharded = base / "big" / "ckpt", base / "small" / "ckpt", base / "sharded" / "ckpt"
    tiny = base / "tiny" / "ckpt"
    inspect_path = args.inspect_path
    if inspect_path is None:
        sample = ROOT / "tests" / "fixtures" / "ckpt" / "sample"
        inspect_path = sample if sample.exists() else ROOT / "tests" / "fixtures" / "ckpt" / "all_dtypes" / "all_dtypes"

    plan: list[tuple[Row, Callable[[str], dict[str, Any]], Optional[Callable[[str], dict[str, Any]]]]] = []

    def pair(label: str, task: str, path: Path, unit: str = "s", tf_task: Optional[str] = None) -> None:
        row = Row(label, unit)
        tf_name = tf_task or task
        plan.append((row, lambda _: _run_worker(args.tff_python, "tff", task, str(path)),
                     lambda _: _run_worker(args.tf_python, "tf", tf_name, str(path))))

    gb = _file_bytes(big) / 1e9
    pair(f"big ({gb:.2f} GB): read every tensor, owned arrays", "read_all", big, "GB/s")
    pair(f"big ({gb:.2f} GB): reader.items(), owned arrays (vs TF read)", "read_items", big, "GB/s",
         tf_task="read_all")
    pair(f"big ({gb:.2f} GB): zero-copy views (vs TF read)", "read_view", big, "GB/s", tf_task="read_all")
    pair(f"sharded ({_file_bytes(sharded) / 1e9:.2f} GB, 4 shards, sliced): read every tensor", "read_all",
         sharded, "GB/s")
    pair("big: peak memory reading the biggest tensor", "read_biggest", big)
    pair(f"small ({SIZES[mode]['small']:,} tensors): open", "open", small)
    pair("small: list_variables", "list", small)
    pair("small: read every tensor", "read_all", small)
    pair(f"tiny ({SIZES[mode]['tiny']:,} float32[4], one SaveV2): open + shape map + get_tensor of every key",
         "read_all", tiny)
    pair("tiny: list_variables", "list", tiny)
    pair(f"big ({gb:.2f} GB), cold cache: read every tensor, owned arrays", "read_all_cold", big, "GB/s")
    pair(f"big ({gb:.2f} GB), cold cache: reader.items() (vs TF read)", "read_items_cold", big, "GB/s",
         tf_task="read_all_cold")
    dd_row = Row(f"big ({gb:.2f} GB), cold cache: plain sequential read, dd bs=16M (baseline)", "GB/s")
    plan.append((dd_row, lambda _: plain_read(str(big)), None))
    inspect_row = Row(f"whole process: tfformats inspect vs TF inspect_checkpoint ({inspect_path.name})")
    plan.append((inspect_row,
                 lambda _: _run_process([args.tff_python, "-m", "tfformats", "inspect", str(inspect_path)]),
                 lambda _: _run_process([args.tf_python, "-m", "tensorflow.python.tools.inspect_checkpoint",
                                         f"--file_name={_tf_prefix(inspect_path)}"])))
    if args.only:
        plan = [p for p in plan if any(p[0].label.startswith(o) for o in args.only)]

    for row, run_tff, run_tf in plan:
        for i in range(args.runs):
            order = [("tff", run_tff), ("tf", run_tf)] if i % 2 == 0 else [("tf", run_tf), ("tff", run_tff)]
            for side, fn in order:
                if fn is None:
                    continue
                result = fn("")
                (row.tff if side == "tff" else row.tf).append(result)
        print(f"done: {row.label}", file=sys.stderr)
    rows = [p[0] for p in plan]
    print(f"\nmode: {mode}, runs per side: {args.runs}, tfformats python: {args.tff_python}\n")
    _print_markdown(rows)
    return 0


def _tf_prefix(path: Path) -> str:
    """TF's inspect_checkpoint wants a prefix; turn a folder into the prefix it holds."""
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if indexes:
            return str(indexes[-1])[: -len(".index")]
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
