"""Check a checkpoint end to end and say in plain words what is wrong with it.

:func:`verify_checkpoint` reads every table block and every tensor's bytes,
compares every stored checksum, checks that every data shard is present and
long enough, and turns what it finds into a likely cause: an ``.index`` and
``.data`` from different saves, a missing or truncated shard, a damaged file, a
legacy V1 file opened as a V2 index, or a path that is not a checkpoint.

Example:
    >>> report = verify_checkpoint("train/model.ckpt-1000")
    >>> report.intact, report.diagnosis
    (True, [])
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from .._io import fs
from .._io.source import StorageOptions, is_url
from ..errors import (ChecksumError, FormatError, MissingShardError, PathLike, TFFormatsError, TruncatedError,
                      WrongFormatError)

# When at least this share of the tensors checked (and at least this many) fail
# their checksums, one damaged spot is unlikely: the index and data files
# probably come from different saves.
_MISMATCH_SHARE = 0.3
_MISMATCH_MIN = 2
# Writers may pad after the last tensor (data_alignment > 1); more than this is not padding.
_PADDING_SLACK = 4096


@dataclass
class Problem:
    """One thing found wrong."""

    kind: str  # "checksum", "truncated", "missing_shard", "index", "entry", "data", "slices"
    message: str
    tensor: Optional[str] = None
    path: Optional[str] = None
    offset: Optional[int] = None


@dataclass
class ShardStatus:
    path: str
    present: bool
    size: Optional[int]  # bytes on disk, None when missing
    needed: int  # bytes the index places data in
    shard_id: int = 0


@dataclass
class VerifyReport:
    """What :func:`verify_checkpoint` found.

    ``readable`` is False when the path could not be opened as a checkpoint at
    all; ``intact`` is True when it was opened and nothing was wrong.
    """

    path: str
    readable: bool = True
    format: Optional[str] = None  # "V1" or "V2"
    prefix: Optional[str] = None
    num_shards: int = 0
    tensors: int = 0  # tensors listed
    entries_checked: int = 0  # whole tensors and slices whose bytes were checked
    bytes_checked: int = 0
    blocks_checked: int = 0
    shards: list[ShardStatus] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.readable and not self.problems

    @property
    def exit_code(self) -> int:
        """0 intact, 1 damaged, 2 unreadable (the command's exit status)."""
        return 2 if not self.readable else (1 if self.problems else 0)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["intact"] = self.intact
        doc["exit_status"] = self.exit_code
        return doc


def _problem_from(exc: BaseException, kind: str, tensor: Optional[str] = None) -> Problem:
    if isinstance(exc, FormatError):
        return Problem(kind, str(exc), tensor, exc.path, exc.offset)
    return Problem(kind, str(exc), tensor, getattr(exc, "filename", None))


def verify_checkpoint(path: PathLike, *, progress: Optional[Callable[[int, int], None]] = None,
                      storage_options: StorageOptions = None) -> VerifyReport:
    """Check every block and tensor checksum and every shard of the checkpoint at ``path``.

    ``path`` is anything :func:`tfformats.load_checkpoint` accepts. Never
    raises for a damaged or foreign file: the report says what is wrong.
    ``progress(done_bytes, total_bytes)`` is called as tensors are checked.
    ``storage_options`` go to fsspec when ``path`` is a URL.
    """
    from .loading import resolve_checkpoint

    text = os.fspath(path)
    report = VerifyReport(path=text)
    try:
        fmt, prefix = resolve_checkpoint(text, storage_options=storage_options)
    except (FileNotFoundError, NotADirectoryError, PermissionError, TFFormatsError) as exc:
        report.readable = False
        report.problems.append(_problem_from(exc, "open"))
        report.diagnosis.append(_why_unresolvable(text, exc))
        return report
    report.format, report.prefix = fmt, prefix
    if fmt == "V2":
        _verify_v2(report, prefix, progress, storage_options)
    else:
        _verify_v1(report, prefix, storage_options)
    if report.readable and report.problems and not report.diagnosis:
        report.diagnosis.extend(_diagnose(report))
    return report


# -- V2 bundles -------------------------------------------------------------------------------

def _verify_v2(report: VerifyReport, prefix: str,
               progress: Optional[Callable[[int, int], None]], storage_options: StorageOptions = None) -> None:
    from ..bundle import naming
    from ..bundle.reader import BundleReader

    index = naming.index_path(prefix)
    try:
        reader = BundleReader(prefix, verify_checksums=True, storage_options=storage_options)
    except (FormatError, OSError) as exc:
        # A table whose checksums fail is a damaged checkpoint; anything else cannot be read as one.
        report.readable = isinstance(exc, ChecksumError)
        report.problems.append(_problem_from(exc, "index"))
        report.diagnosis.append(_why_index_unreadable(index, exc))
        return
    with reader:
        report.num_shards = reader.num_shards
        names, slice_values = _index_contents(report, reader)
        data = _data_entries(report, reader, names, slice_values)
        _check_shards(report, reader, data)
        _check_data(report, reader, data, progress)


def _index_contents(report: VerifyReport, reader: Any) -> tuple[list[tuple[str, bytes]], dict[bytes, bytes]]:
    """Tensor entries and slice entries of every index block that can be read; damaged blocks are problems."""
    report.blocks_checked = 1  # the index block, checked on open
    names: list[tuple[str, bytes]] = []
    slice_values: dict[bytes, bytes] = {}
    for block in reader.index_blocks():
        if isinstance(block, FormatError):
            report.problems.append(_problem_from(block, "index"))
            continue
        report.blocks_checked += 1
        for key, value in zip(*block):
            if not key:
                continue
            if key[0] == 0:
                slice_values[key] = value
            else:
                names.append((key.decode("utf-8", "backslashreplace"), value))
    report.tensors = len(names)
    return names, slice_values


def _slice_label(name: str, extents: Any) -> str:
    return f"{name}[{', '.join(':' if x.length < 0 else f'{x.start}:{x.start + x.length}' for x in extents)}]"


def _data_entries(report: VerifyReport, reader: Any, names: list[tuple[str, bytes]],
                  slice_values: dict[bytes, bytes]) -> list[tuple[str, Any]]:
    """``(label, entry)`` of every stored piece of data: whole tensors and the slices of partitioned ones."""
    from ..bundle.entries import decode_entry
    from ..bundle.slices import encode_slice_key

    index, header = reader.index_path, reader.header
    index_damaged = bool(report.problems)
    data: list[tuple[str, Any]] = []
    for name, value in names:
        try:
            entry = decode_entry(name, value, header, index)
        except FormatError as exc:
            report.problems.append(_problem_from(exc, "entry", name))
            continue
        if not entry.slices:
            data.append((name, entry))
            continue
        problem = _tiling_problem(name, entry)
        if problem is not None:
            report.problems.append(Problem("slices", problem, name, index))
        for extents in entry.slices:
            raw = slice_values.pop(encode_slice_key(name, extents), None)
            label = _slice_label(name, extents)
            if raw is None:
                if not index_damaged:
                    report.problems.append(Problem(
                        "slices", f"partitioned tensor {name!r} lists slice {label} that has no entry", name, index))
                continue
            try:
                data.append((label, decode_entry(name, raw, header, index)))
            except FormatError as exc:
                report.problems.append(_problem_from(exc, "entry", label))
    return data


def _tiling_problem(name: str, entry: Any) -> Optional[str]:
    """Why the slices of a partitioned tensor do not tile it exactly, or None."""
    from ..bundle.slices import check_tiling, resolve

    try:
        check_tiling(entry.shape, [resolve(extents, entry.shape) for extents in entry.slices])
    except FormatError as exc:
        return f"slices of tensor {name!r}: {exc.detail}"
    return None


def _check_data(report: VerifyReport, reader: Any, data: list[tuple[str, Any]],
                progress: Optional[Callable[[int, int], None]]) -> None:
    missing = {s.shard_id for s in report.shards if not s.present}
    total = sum(e.size for _, e in data)
    done = 0
    for label, entry in data:
        if entry.shard_id in missing:
            continue
        report.entries_checked += 1
        report.bytes_checked += entry.size
        try:
            reader.check_data(label, entry)
        except ChecksumError as exc:
            report.problems.append(_problem_from(exc, "checksum", label))
        except MissingShardError as exc:  # pragma: no cover - shards were checked before
            report.problems.append(_problem_from(exc, "missing_shard", label))
        except TruncatedError as exc:
            report.problems.append(_problem_from(exc, "truncated", label))
        except FormatError as exc:
            report.problems.append(_problem_from(exc, "data", label))
        done += entry.size
        if progress is not None:
            progress(done, total)


def _check_shards(report: VerifyReport, reader: Any, data: list[tuple[str, Any]]) -> None:
    """Check the shards the entries use and those on disk; summarise the rest in one problem.

    The header's shard count is just a number in the file: a damaged or hostile index may claim a million
    shards. Work is bounded by what the entries reference and what the folder holds, not by that number.
    """
    from ..bundle import naming

    num_shards = report.num_shards
    needed: dict[int, int] = {}
    for _, entry in data:
        if 0 <= entry.shard_id < num_shards:
            needed[entry.shard_id] = max(needed.get(entry.shard_id, 0), entry.offset + entry.size)
    on_disk: dict[int, int] = {}
    if is_url(reader.prefix):  # no folder listing: ask for the size of each shard the entries use
        for shard_id in needed:
            found = fs.info(naming.data_path(reader.prefix, shard_id, num_shards),
                            storage_options=reader.storage_options)
            if found is not None:
                on_disk[shard_id] = int(found.get("size") or 0)
    for path in naming.data_shards(reader.prefix) if not is_url(reader.prefix) else []:
        parsed = naming.parse_data_path(path)
        if parsed is not None and parsed[1] == num_shards:
            on_disk[parsed[0]] = os.stat(path).st_size
    for shard_id in sorted(set(needed) | set(on_disk)):
        shard_path = naming.data_path(reader.prefix, shard_id, num_shards)
        size = on_disk.get(shard_id)
        report.shards.append(ShardStatus(shard_path, size is not None, size, needed.get(shard_id, 0), shard_id))
        if size is None:
            report.problems.append(Problem(
                "missing_shard", f"{shard_path}: data shard {shard_id} of {num_shards} is missing",
                None, shard_path))
        elif size < needed.get(shard_id, 0):
            report.problems.append(Problem(
                "truncated", f"{shard_path}: {size} bytes, but the index places data up to byte "
                             f"{needed[shard_id]}", None, shard_path, size))
    unaccounted = num_shards - len(set(needed) | set(on_disk))
    if unaccounted > 0:
        first = next(i for i in range(num_shards) if i not in needed and i not in on_disk)
        example = naming.data_path(reader.prefix, first, num_shards)
        report.problems.append(Problem(
            "missing_shard", f"{unaccounted} of the {num_shards} data shards the header names are missing "
                             f"and hold no tensor (first: {os.path.basename(example)})", None, example))


# -- V1 tables -----------------------------------------------------------------------------

def _verify_v1(report: VerifyReport, path: str, storage_options: StorageOptions = None) -> None:
    from .v1 import V1Reader, v1_files
    from ..table import TableReader

    files = v1_files(path, storage_options=storage_options)
    report.num_shards = len(files)
    for file in files:
        found = fs.info(file, storage_options=storage_options) if is_url(file) else None
        size = int(found.get("size") or 0) if found is not None else os.path.getsize(file)
        report.shards.append(ShardStatus(file, True, size, size))
        try:
            with TableReader(file, storage_options=storage_options) as table:
                report.blocks_checked += 1
                for handle in table.index_handles:
                    try:
                        table.block_lists(handle)
                        report.blocks_checked += 1
                    except FormatError as exc:
                        report.problems.append(_problem_from(exc, "index"))
        except FormatError as exc:
            report.readable = False
            report.problems.append(_problem_from(exc, "index"))
            report.diagnosis.append(_why_index_unreadable(file, exc))
            return
    if report.problems:
        return
    try:
        reader = V1Reader(path, storage_options=storage_options)
    except FormatError as exc:
        report.readable = False
        report.problems.append(_problem_from(exc, "index"))
        report.diagnosis.append(_why_index_unreadable(path, exc))
        return
    with reader:
        names = reader.keys()
        report.tensors = len(names)
        for name in names:
            try:
                value = reader.get_tensor(name)
                report.entries_checked += 1
                report.bytes_checked += value.nbytes if value.dtype != object else 0
            except FormatError as exc:
                report.problems.append(_problem_from(exc, "data", name))


# -- plain-words causes ---------------------------------------------------------------------

def _why_unresolvable(path: str, exc: BaseException) -> str:
    from ..bundle import naming
    from .loading import is_table_file

    if path.endswith(naming.INDEX_SUFFIX):
        bare = path[: -len(naming.INDEX_SUFFIX)]
        if os.path.isfile(bare) and is_table_file(bare):
            return (f"there is no {os.path.basename(path)}, but {os.path.basename(bare)} is a legacy V1 checkpoint "
                    "(a single table file with no .index or .data files): open that file itself")
    prefix = naming.prefix_of(path)
    if prefix is not None and not os.path.exists(naming.index_path(prefix)) and naming.data_shards(prefix):
        return (f"the .index file of {os.path.basename(prefix)} is missing (only its .data files are there); "
                "a V2 checkpoint cannot be read without its .index")
    if os.path.isdir(path):
        indexes = sorted(n for n in os.listdir(path) if n.endswith(naming.INDEX_SUFFIX))
        if len(indexes) > 1:
            names = ", ".join(n[: -len(naming.INDEX_SUFFIX)] for n in indexes)
            return (f"{path} holds {len(indexes)} checkpoints ({names}) and no 'checkpoint' state file telling "
                    "which is the latest: pass one prefix")
        return f"{path} is a folder without a checkpoint: no 'checkpoint' state file, .index file or SavedModel variables"
    if not os.path.exists(path) and not isinstance(exc, FormatError):
        prefix = naming.prefix_of(path) or path
        shards = naming.data_shards(prefix)
        if shards:
            return (f"the .index file of {os.path.basename(prefix)} is missing (only its .data files are there); "
                    "a V2 checkpoint cannot be read without its .index")
        return f"nothing at {path}: not a checkpoint prefix, file or folder"
    return (f"{path} is not a TensorFlow checkpoint: not a V2 prefix (no .index beside it) and not a "
            "table file (V1 checkpoints and .index files end with the table magic number)")


def _why_index_unreadable(index: str, exc: BaseException) -> str:
    detail = str(exc)
    actual = exc.actual if isinstance(exc, WrongFormatError) else None
    if actual == "V1":
        return (f"{os.path.basename(index)} is a legacy V1 checkpoint, not a V2 index: open it as a V1 checkpoint "
                "(pass the file itself, without renaming it to .index)")
    if actual == "V2-index":
        return (f"{os.path.basename(index)} is a V2 bundle index, not a V1 checkpoint: open its prefix "
                "(the name without .index), with the .data files beside it")
    if isinstance(exc, ChecksumError):
        return f"{os.path.basename(index)} is damaged (a block fails its checksum); restore it from a good copy"
    return (f"{os.path.basename(index)} cannot be read as a checkpoint table ({detail}); it is truncated, "
            "damaged, or not a checkpoint at all")


def _diagnose(report: VerifyReport) -> list[str]:
    causes = []
    kinds = [p.kind for p in report.problems]
    missing = [s for s in report.shards if not s.present]
    if missing:
        names = ", ".join(os.path.basename(s.path) for s in missing)
        causes.append(f"missing data shard(s): {names}. A checkpoint needs its .index and all "
                      f"{report.num_shards} .data files from the same save; copy the missing ones.")
    mismatched = kinds.count("checksum")
    checked = report.entries_checked
    size_off = [s for s in report.shards
                if s.present and s.size is not None and s.size > s.needed + _PADDING_SLACK]
    truncated = [s for s in report.shards if s.present and s.size is not None and s.size < s.needed]
    different_saves = mismatched >= _MISMATCH_MIN and mismatched >= _MISMATCH_SHARE * checked
    if different_saves or (mismatched and (size_off or truncated)):
        detail = f"{mismatched} of {checked} tensors fail their checksums"
        if size_off or truncated:
            detail += " and the data file size does not match what the index describes"
        causes.append(f"the .index and .data files probably come from different saves (steps): {detail}. "
                      "Use the .index and .data-* files written by the same save (same step number).")
    elif truncated:
        for s in truncated:
            causes.append(f"{os.path.basename(s.path)} is truncated: it has {s.size} bytes but the index needs "
                          f"{s.needed} (an interrupted save, copy or download); tensors past byte {s.size} are lost.")
    elif mismatched:
        first = next(p for p in report.problems if p.kind == "checksum")
        where = f"{os.path.basename(first.path)} at offset {first.offset}" if first.path else "the data file"
        causes.append(f"the data is damaged: {mismatched} tensor(s) fail their checksum (first: {first.tensor!r}, "
                      f"{where}); the rest checks out. Restore the file from a good copy.")
    elif size_off:
        for s in size_off:
            causes.append(f"{os.path.basename(s.path)} is {s.size} bytes but the index only uses {s.needed}: "
                          "it may come from a different save than the .index")
    if "index" in kinds or "entry" in kinds or "slices" in kinds:
        causes.append("the .index file is damaged: some of its blocks or entries cannot be read; "
                      "restore it from a good copy")
    if "data" in kinds and not causes:
        causes.append("some tensors' stored bytes are malformed: the data file is damaged")
    return causes
