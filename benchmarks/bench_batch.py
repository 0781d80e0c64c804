"""Models per second of a batch: 1 and 2 local workers, and a Dask LocalCluster of 2 workers.

Usage (from the repository root)::

    python benchmarks/bench_batch.py                     # audit of benchmarks/data/hub (made if missing)
    python benchmarks/bench_batch.py --task verify --runs 3
    python benchmarks/bench_batch.py --hub /data/hub --backends local1,dask

The hub is written by ``tools/make_hub.py`` the first time (600 small models and 4 large ones). Each
backend runs the whole hub ``--runs`` times (default 3) and the median is reported. Times run from the
first model handed out to the last record received, so they include starting the worker processes
(and, on Dask, sending the tasks) but not discovering the models; starting the LocalCluster itself is
reported on its own line, and so is the time spent inside the models (summed over the workers: the rest is
the cost of isolation and distribution). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HUB = HERE / "data" / "hub"


def _options(task: str) -> dict[str, Any]:
    return {"fail_on": "high"} if task == "audit" else {}


def _one_run(task: str, paths: list[str], jobs: int, dask: Optional[str]) -> tuple[float, float, Counter[str]]:
    """Wall seconds, seconds spent inside the models (summed over workers), and the statuses."""
    from tfformats.batch import run_batch

    start = time.perf_counter()
    records = list(run_batch(task, paths, _options(task), jobs=jobs, dask=dask))
    return time.perf_counter() - start, sum(r["seconds"] for r in records), Counter(r["status"] for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub", type=Path, default=HUB)
    parser.add_argument("--task", default="audit", choices=["audit", "verify", "inspect", "graph"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="local1,local2,dask", help="comma-separated: local1, local2, dask")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    if not args.hub.exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_hub.py"), "--out", str(args.hub)], check=True)
    from tfformats.batch import discover

    models = discover(args.hub, task=args.task)
    paths = [m.path for m in models]
    size = sum(f.stat().st_size for f in args.hub.rglob("*") if f.is_file())
    print(f"{args.task} of {len(paths)} models ({dict(Counter(m.kind for m in models))}), "
          f"{size / 2**20:.0f} MiB, {args.runs} runs per backend")
    results: dict[str, Any] = {"task": args.task, "models": len(paths), "bytes": size, "backends": {}}
    for backend in args.backends.split(","):
        cluster = None
        address: Optional[str] = None
        jobs = 2
        if backend == "dask":
            from tfformats.batch.cluster import start_local_cluster

            start = time.perf_counter()
            cluster = start_local_cluster(2)
            address = cluster.scheduler_address
            print(f"  dask: LocalCluster of 2 workers started in {time.perf_counter() - start:.2f} s")
        elif backend in ("local1", "local2"):
            jobs = int(backend[-1])
        else:
            parser.error(f"unknown backend {backend!r}")
        try:
            runs = [_one_run(args.task, paths, jobs, address) for _ in range(args.runs)]
        finally:
            if cluster is not None:
                cluster.close()
        median = statistics.median(seconds for seconds, _, _ in runs)
        work = statistics.median(inside for _, inside, _ in runs)
        statuses = dict(runs[-1][2])
        results["backends"][backend] = {"seconds": [round(s, 3) for s, _, _ in runs],
                                        "median_seconds": round(median, 3), "median_model_seconds": round(work, 3),
                                        "models_per_second": round(len(paths) / median, 1), "statuses": statuses}
        print(f"  {backend:7} median {median:6.2f} s  {len(paths) / median:7.1f} models/s  "
              f"(inside the models: {work:.2f} s)   statuses {statuses}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
