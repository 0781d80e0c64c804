"""Batch mode of ``audit``, ``verify``, ``inspect`` and ``graph``: many models, one JSON record each.

Not a subcommand: the four commands call :func:`add_batch_arguments` and, at the top of ``run``,
:func:`wants_batch` / :func:`run_batch`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, Iterator, Optional, TextIO

from ..errors import ArgumentError

BATCH_HELP = """\
Several paths or URLs, a folder searched for models, or any option below turn on batch mode: each model
runs in a worker process with a time and memory limit, one JSON record per model is written
(stdout, or --jsonl OUT), then a summary. A folder that is itself one model (a SavedModel folder;
for audit, verify and inspect also a folder holding a 'checkpoint' state file or .index files) is
read as that model; any other folder is searched. Exit status: the worst of the single runs.
A record: {path, task, kind, status, exit_code, seconds, result (the --json document of one
model, or null), error, error_type, attempts, pid, [worker]}; status is ok, problem,
unreadable, timeout, memory, crashed or error."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_VERBS = {"audit": "auditing", "verify": "verifying", "inspect": "inspecting", "graph": "reading graphs"}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of workers of 1 or more, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds (0: no limit), got {text!r}")
    return value


def parse_size(text: str) -> int:
    """``4GiB``, ``512M``, ``1000000`` -> bytes (powers of 1024 for the suffixes)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size such as 4GiB, 512MiB or 0 (no limit), got {text!r}")
    number, unit, _ = match.groups()
    return int(float(number) * 1024 ** "bkmgt".index(unit.lower() or "b"))


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch options shared by audit, verify, inspect and graph."""
    group = parser.add_argument_group("batch mode", BATCH_HELP)
    group.add_argument("--from-file", metavar="LIST", help="read more inputs from LIST, one path or URL a line")
    group.add_argument("--jobs", type=_positive, metavar="N",
                       help="worker processes (default: one per core; with --dask local: workers)")
    group.add_argument("--dask", metavar="ADDRESS",
                       help="run on the Dask cluster at ADDRESS (tcp://host:8786), or 'local' to start a "
                            "LocalCluster; needs pip install 'tfformats[dask]'")
    group.add_argument("--jsonl", metavar="OUT", help="write the records to OUT (JSON Lines) instead of stdout")
    group.add_argument("--resume", action="store_true",
                       help="with --jsonl: skip the models OUT already has a record for, and append")
    group.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                       help="stop a model after this long and record a timeout (default 300; 0: no limit)")
    group.add_argument("--memory-limit", type=parse_size, metavar="SIZE",
                       help="memory a model may use beyond mapping its own files (default 4GiB; 0: no limit)")


def wants_batch(args: argparse.Namespace, task: str) -> bool:
    """Whether the command line asks for batch mode; if not, ``args.path`` becomes the one path given."""
    from ..batch.discover import is_single_model_folder, is_url

    paths: list[str] = list(args.path or [])
    flags = (args.from_file or args.jobs or args.dask or args.jsonl or args.resume or args.timeout is not None
             or args.memory_limit is not None)
    if flags or len(paths) > 1:
        return True
    if not paths:
        raise ArgumentError("give a path to read (or --from-file LIST)")
    single = paths[0]
    if not is_url(single) and os.path.isdir(single) and not is_single_model_folder(single, task):
        return True
    args.path = single
    return False


def _options(args: argparse.Namespace, task: str) -> dict[str, Any]:
    storage = getattr(args, "storage_options", None)
    return {**_task_options(args, task), **({"storage_options": storage} if storage else {})}


def _task_options(args: argparse.Namespace, task: str) -> dict[str, Any]:
    if task == "audit":
        if getattr(args, "format", None) not in (None, "json") or getattr(args, "output", None):
            raise ArgumentError("--format and -o write one model's report; batch mode writes JSON records "
                                "(--jsonl OUT)")
        return {"fail_on": args.fail_on, "check_variables": not args.no_variables, "ops": bool(args.ops),
                "allow": getattr(args, "allow", None)}
    if task == "inspect":
        if args.tensor is not None or args.all or args.full:
            raise ArgumentError("--tensor, --all and --full read one model; batch mode takes --stats and "
                                "--no-verify")
        return {"stats": bool(args.stats), "verify": not args.no_verify}
    return {}


def _inputs(args: argparse.Namespace) -> list[str]:
    from ..batch.discover import read_list

    inputs = list(args.path or [])
    if args.from_file:
        try:
            inputs += read_list(args.from_file)
        except OSError as exc:
            raise ArgumentError(f"--from-file {args.from_file}: {exc.strerror or exc}") from None
    if not inputs:
        raise ArgumentError("no inputs: give paths or --from-file LIST")
    return inputs


def _progress(total: int, task: str) -> Any:
    """A tqdm bar when tqdm is installed and stderr is a terminal, else the one-line progress."""
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc=_VERBS[task], unit="model", file=sys.stderr, leave=False)
        except ImportError:
            pass
    from .output import Progress

    return _LineProgress(Progress(total, _VERBS[task], stream=sys.stderr))


class _LineProgress:
    """The update/close interface of tqdm over cli.output.Progress."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.done = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        self.progress.update(self.done, f"{self.done}/{self.progress.total}")

    def close(self) -> None:
        self.progress.close()


def _records(task: str, paths: list[str], options: dict[str, Any],
             args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from ..batch import Limits, run_batch
    from ..batch.isolate import DEFAULT_MEMORY, DEFAULT_TIMEOUT

    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    memory = DEFAULT_MEMORY if args.memory_limit is None else args.memory_limit
    limits = Limits(timeout=timeout or None, memory=memory or None)
    return run_batch(task, paths, options, jobs=args.jobs, dask=args.dask, limits=limits)


def _backend_name(args: argparse.Namespace, models: int) -> str:
    if args.dask:
        return f"Dask ({args.dask})"
    from ..batch.local import default_jobs

    jobs = max(1, min(args.jobs or default_jobs(), models))
    return f"{jobs} local worker{'s' if jobs != 1 else ''}"


def run_batch(args: argparse.Namespace, task: str) -> int:
    """Run ``task`` on every model the command line names; returns the worst exit status."""
    from ..batch import RecordFile, Summary, expand, read_records
    from ..batch.records import dumps
    from .output import print_json

    if args.resume and not args.jsonl:
        raise ArgumentError("--resume needs --jsonl OUT (the records to resume from)")
    options = _options(args, task)
    inputs = _inputs(args)
    models = expand(inputs, task, storage_options=getattr(args, "storage_options", None))
    if not models:
        raise ArgumentError(f"no models for {task} found in {', '.join(inputs[:3])}"
                            f"{' ...' if len(inputs) > 3 else ''}")
    summary = Summary(task, _backend_name(args, len(models)))
    if args.resume:
        previous = {r["path"]: r for r in read_records(args.jsonl)}
        summary.add_skipped(previous[m.path] for m in models if m.path in previous)
        models = [m for m in models if m.path not in previous]
    sink: Optional[RecordFile] = RecordFile(args.jsonl, resume=args.resume) if args.jsonl else None
    stream: TextIO = sys.stdout
    progress = _progress(len(models), task)
    kinds = {m.path: m.kind for m in models}
    try:
        if models:
            for record in _records(task, [m.path for m in models], options, args):
                record.setdefault("kind", kinds.get(record["path"]))
                summary.add(record)
                if sink is not None:
                    sink.write(record)
                else:
                    stream.write(dumps(record) + "\n")
                    stream.flush()
                progress.update(1)
    finally:
        progress.close()
        if sink is not None:
            sink.close()
    if args.json:
        doc = {"summary": summary.to_dict()}
        if sink is None:
            stream.write(dumps(doc) + "\n")  # one line, so stdout stays JSON Lines
        else:
            print_json(doc, out=stream)
    else:
        print(summary.text(), file=stream if sink is not None else sys.stderr)
    return summary.exit_status
