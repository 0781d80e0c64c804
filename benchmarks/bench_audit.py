"""Compare ``tfformats audit`` with modelscan and ModelAudit on the audit corpus, in the same run.

Usage (from the repository root)::

    python benchmarks/bench_audit.py                 # the whole corpus, all three tools
    python benchmarks/bench_audit.py --tools tfformats,modelscan --json out.json

The corpus is ``tests/fixtures/audit/corpus`` (written by TensorFlow through
``tools/fixtures/audit_corpus.py``; ``corpus.json`` says which models are
malicious and which op is the payload). Each tool runs as its users install
it, in its own environment, created here when missing:

- tfformats: ``.venv-core`` (``pip install -e '.[test]'``), ``tfformats audit --json``;
- modelscan 0.8.8: ``.venv-modelscan`` (``pip install 'modelscan[tensorflow]==0.8.8'``; its SavedModel
  scanners need TensorFlow), ``modelscan -p PATH -r json -o OUT``;
- ModelAudit: ``.venv-modelaudit`` (``pip install modelaudit==0.2.54``), ``modelaudit scan PATH --format json``
  with telemetry off.

Scoring, the same for every tool:

- a malicious model is *detected* when the tool flags it (tfformats: a finding at ``--fail-on high``;
  modelscan: an issue; ModelAudit: an issue of severity warning or critical) and that finding names the
  payload op (for the Keras case: the Lambda layer);
- a benign model is a *false positive* when the tool flags it at all;
- seconds per model: wall time of one tool process per model (start-up included), median and mean;
- the exit status is reported too (ModelAudit exits 1 on every SavedModel).

Nothing here asserts anything; the report is a markdown table on stdout.
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
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT / "tests" / "fixtures" / "audit" / "corpus"
MODELSCAN = "modelscan[tensorflow]==0.8.8"
MODELAUDIT = "modelaudit==0.2.54"
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_ANALYTICS": "1"}


def ensure_venv(name: str, requirement: str, probe: str) -> Path:
    """The bin folder of ``.venv-<name>``, created with ``requirement`` installed when missing."""
    venv = ROOT / f".venv-{name}"
    binary = venv / "bin" / probe
    if not binary.exists():
        print(f"[bench_audit] creating {venv.name} with {requirement} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", requirement],
                       check=True)
    return venv / "bin"


Scan = Callable[[Path, str, float], "tuple[bool, bool, float, int]"]


def _run(cmd: list[str], timeout: float) -> tuple[int, str, float]:
    env = dict(os.environ, **QUIET_ENV)
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        code, out = done.returncode, done.stdout
    except subprocess.TimeoutExpired:
        code, out = -1, ""
    return code, out, time.perf_counter() - start


# -- one function per tool: (path, payload) -> (flagged, named the payload, seconds, exit status) -----

def tfformats_tool(python: str) -> Scan:
    def scan(path: Path, payload: str, timeout: float) -> tuple[bool, bool, float, int]:
        code, out, seconds = _run([python, "-m", "tfformats", "audit", "--json", str(path)], timeout)
        try:
            doc = json.loads(out) if code in (0, 1) else None
        except ValueError:
            doc = None
        if doc is None:
            return False, False, seconds, code
        high = [f for f in doc["findings"] if f["severity"] in ("high", "critical")]
        named = any(f["op"] == payload or payload in f["message"] for f in high)
        return bool(high), named, seconds, code
    return scan


def modelscan_tool(bin_dir: Path) -> Scan:
    def scan(path: Path, payload: str, timeout: float) -> tuple[bool, bool, float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            code, _, seconds = _run([str(bin_dir / "modelscan"), "-p", str(path), "-r", "json", "-o", str(report)],
                                    timeout)
            if not report.exists():
                return False, False, seconds, code
            doc = json.loads(report.read_text(encoding="utf-8"))
        issues = doc.get("issues", [])
        named = any(payload in (i.get("operator") or "") or payload in (i.get("description") or "")
                    for i in issues)
        return bool(issues), named, seconds, code
    return scan


def modelaudit_tool(bin_dir: Path) -> Scan:
    def scan(path: Path, payload: str, timeout: float) -> tuple[bool, bool, float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            code, _, seconds = _run([str(bin_dir / "modelaudit"), "scan", str(path), "--format", "json",
                                     "-o", str(report)], timeout)
            if not report.exists():
                return False, False, seconds, code
            doc = json.loads(report.read_text(encoding="utf-8"))
        issues = [i for i in doc.get("issues", []) if str(i.get("severity", "")).lower() in ("critical", "warning")]
        named = any(payload in json.dumps(i) for i in issues)
        return bool(issues), named, seconds, code
    return scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--tools", default="tfformats,modelscan,modelaudit")
    parser.add_argument("--tff-python", default=str(ROOT / ".venv-core" / "bin" / "python"))
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args(argv)

    cases = json.loads((args.corpus / "corpus.json").read_text(encoding="utf-8"))["cases"]
    tools: dict[str, Scan] = {}
    for name in args.tools.split(","):
        if name == "tfformats":
            tools[name] = tfformats_tool(args.tff_python)
        elif name == "modelscan":
            tools["modelscan 0.8.8"] = modelscan_tool(ensure_venv("modelscan", MODELSCAN, "modelscan"))
        elif name == "modelaudit":
            tools["ModelAudit 0.2.54"] = modelaudit_tool(ensure_venv("modelaudit", MODELAUDIT, "modelaudit"))
        else:
            parser.error(f"unknown tool {name!r}")

    results: dict[str, dict[str, Any]] = {tool: {} for tool in tools}
    for case_name in sorted(cases):
        case = cases[case_name]
        path = args.corpus / case_name / case["target"]
        for tool, scan in tools.items():  # the tools alternate on each model, same files, same run
            hit, named, seconds, code = scan(path, case.get("payload", ""), args.timeout)
            results[tool][case_name] = {"malicious": case["malicious"], "flagged": hit, "named": named,
                                        "seconds": seconds, "exit": code}
        print(f"[bench_audit] {case_name}: " + ", ".join(
            f"{t}={'flag' if results[t][case_name]['flagged'] else 'pass'}" for t in tools), file=sys.stderr)

    malicious = sorted(n for n, c in cases.items() if c["malicious"])
    benign = sorted(n for n, c in cases.items() if not c["malicious"])
    print("| tool | detected (payload named) | malicious flagged | benign flagged (false positives) | "
          "benign with exit status != 0 | seconds / model (median, mean) |")
    print("|---|---|---|---|---|---|")
    for tool, by_case in results.items():
        detected = sum(1 for n in malicious if by_case[n]["flagged"] and by_case[n]["named"])
        flagged = sum(1 for n in malicious if by_case[n]["flagged"])
        false_pos = sum(1 for n in benign if by_case[n]["flagged"])
        nonzero = sum(1 for n in benign if by_case[n]["exit"] != 0)
        times = [r["seconds"] for r in by_case.values()]
        print(f"| {tool} | {detected} of {len(malicious)} | {flagged} of {len(malicious)} | "
              f"{false_pos} of {len(benign)} | {nonzero} of {len(benign)} | "
              f"{statistics.median(times):.2f}, {statistics.fmean(times):.2f} |")
    print()
    missed = {tool: [n for n in malicious if not (r[n]["flagged"] and r[n]["named"])] for tool, r in results.items()}
    for tool, names in missed.items():
        print(f"- {tool} missed: {', '.join(names) or 'none'}")
    for tool, by_case in results.items():
        fps = [n for n in benign if by_case[n]["flagged"]]
        print(f"- {tool} false positives: {', '.join(fps) or 'none'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
