"""Fuzzing harness shared by the short CI run, the regression corpus and ``tools/fuzz.py``.

Every target feeds mutated bytes of a real fixture (written by TensorFlow,
under ``tests/fixtures/``) to one parser. The invariant: the parser returns,
or raises :class:`tfformats.FormatError` (any subclass) or
``FileNotFoundError`` (a missing shard); nothing else may escape, no input may
run longer than :data:`TIME_LIMIT` seconds, and no input may make Python
allocate more than :func:`memory_limit` bytes.

Mutations come from :func:`mutate`, driven by a ``random.Random``: hypothesis
supplies that generator in the tests (``st.randoms``, so failures shrink and
replay), ``tools/fuzz.py`` a seeded one for raw speed.

Corpus files live in ``tests/fuzz/corpus/<target>/<seed>--<digest>.bin``: the
seed part names the fixture whose other files (data shards beside a mutated
index, ...) complete the input.
"""

from __future__ import annotations

import contextlib
import io
import hashlib
import os
import random
import shutil
import signal
import struct
import tempfile
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from tfformats._wire import encode_varint
from tfformats.errors import FormatError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CKPT = FIXTURES / "ckpt"
CORPUS = Path(__file__).resolve().parent / "corpus"
TIME_LIMIT = 10  # seconds per input
ALLOWED = (FormatError, FileNotFoundError)

_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 31, 1 << 32, (1 << 63) - 1,
                1 << 63, (1 << 64) - 1, (1 << 64) - 48]


def memory_limit(input_size: int) -> int:
    """Bytes a parser may allocate for an input of ``input_size`` bytes (plus the fixture it came with)."""
    return (64 << 20) + 64 * input_size


class Violation(AssertionError):
    """The harness invariant failed for one input."""


@dataclass(frozen=True)
class Seed:
    name: str  # stable id used in corpus file names, e.g. "tf1_saver.model.ckpt-1"
    file: Path  # the fixture file that gets mutated


@dataclass(frozen=True)
class Target:
    name: str
    seeds: tuple[Seed, ...]
    run: Callable[[bytes, Seed, Path], None]  # (mutated bytes, seed, empty work dir)
    mutator: Callable[[bytes, random.Random], bytes] = lambda data, rng: mutate(data, rng)


# -- mutations ----------------------------------------------------------------------------------

def mutate(data: bytes, rng: random.Random, max_ops: int = 6) -> bytes:
    """Apply 1..max_ops random byte-level edits; positions favour the end, where tables keep their index."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, max_ops)):
        size = len(buf)
        if size and rng.random() < 0.4:
            pos = size - 1 - rng.randrange(min(size, 256))  # near the end (footer, index block)
        else:
            pos = rng.randrange(size + 1)
        op = rng.choice(("flip", "byte", "int", "varint", "insert", "delete", "truncate", "dup"))
        if op == "flip" and size:
            buf[min(pos, size - 1)] ^= 1 << rng.randrange(8)
        elif op == "byte" and size:
            buf[min(pos, size - 1)] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == "int":
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
            buf[pos:pos + width] = value.to_bytes(width, "little")
        elif op == "varint":
            raw = encode_varint(rng.choice(_INTERESTING) & ((1 << 64) - 1))
            buf[pos:pos + len(raw)] = raw
        elif op == "insert":
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == "delete" and size:
            del buf[pos:pos + rng.randint(1, 32)]
        elif op == "truncate":
            del buf[pos:]
        elif op == "dup" and size:
            start = rng.randrange(size)
            buf[pos:pos] = buf[start:start + rng.randint(1, 64)]
    return bytes(buf)


# -- structure-aware mutations ------------------------------------------------------------------
# Byte edits mostly stop at the table checksums. These decode the structure, change it, and encode it again
# with valid checksums, so that the code behind the checks (entries, slices, allocation) is reached.

_HUGE_DIMS = (1 << 31, 1 << 40, (1 << 62) - 1, 0, 1, 3)


def _table_items(data: bytes) -> list[tuple[bytes, bytes]]:
    from tfformats.table import layout

    footer = layout.decode_footer(data[-layout.FOOTER_SIZE:])
    index = data[footer.index.offset:footer.index.offset + footer.index.size]
    items: list[tuple[bytes, bytes]] = []
    for _, start, end in layout.iter_block(index):
        handle, _ = layout.decode_block_handle(index, start, end)
        block = data[handle.offset:handle.offset + handle.size]
        if data[handle.offset + handle.size] != layout.NO_COMPRESSION:
            raise ValueError("compressed block")
        keys, values = layout.decode_block(block)
        items.extend(zip(keys, values))
    return items


def _table_bytes(items: list[tuple[bytes, bytes]]) -> bytes:
    from tfformats.table.writer import TableWriter

    out = io.BytesIO()
    writer = TableWriter(out)
    for key, value in sorted(dict(items).items()):
        writer.add(key, value)
    writer.finish()
    return out.getvalue()


def mutate_bundle_entries(data: bytes, rng: random.Random) -> bytes:
    """Edit decoded BundleEntryProtos (huge dims, overlapping slices, sizes, shards) and re-encode the index."""
    from tfformats.bundle.slices import Extent, encode_slice_key
    from tfformats.proto import BundleEntryProto, BundleHeaderProto

    try:
        items = _table_items(data)
    except Exception:  # not a table this mutator understands: fall back to byte edits
        return mutate(data, rng)
    tensors = [i for i, (k, _) in enumerate(items) if k and k[0] != 0]
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        if op == 6 or not tensors:
            header = BundleHeaderProto()
            header.ParseFromString(items[0][1])
            header.num_shards = rng.choice((1 << 20, 0, 2, 99999, 100000))
            items[0] = (items[0][0], header.SerializeToString())
            continue
        i = rng.choice(tensors)
        key, value = items[i]
        entry = BundleEntryProto()
        entry.ParseFromString(value)
        if op == 0 and entry.shape.dim:
            rng.choice(entry.shape.dim).size = rng.choice(_HUGE_DIMS)
        elif op == 1:
            entry.size = rng.choice((0, 1, min(entry.size * 2, 1 << 62), 4 << 30, 1 << 62))
        elif op == 2:
            entry.offset = rng.choice((0, entry.offset + 1, 1 << 40))
        elif op == 3:
            entry.shard_id = rng.choice((1, 7, 1 << 20))
        elif op == 4 or op == 5:
            # Make the tensor partitioned: row slices that overlap, leave gaps or claim huge extents.
            rows = entry.shape.dim[0].size if entry.shape.dim else 1
            name = key.decode("utf-8", "surrogateescape")
            cuts = sorted(rng.randrange(max(rows, 1) + 1) for _ in range(rng.randint(1, 3)))
            starts = [0] + cuts
            del entry.slices[:]
            for s in starts:
                length = rng.choice((max(rows - s, 0), 1, rows, 1 << 31))
                extents = [Extent(s, length)] + [Extent(0, -1)] * (len(entry.shape.dim) - 1)
                piece = entry.slices.add()
                for ext in extents:
                    e = piece.extent.add()
                    e.start = ext.start
                    if ext.length != -1:
                        e.length = ext.length
                part = BundleEntryProto()
                part.CopyFrom(entry)
                del part.slices[:]
                items.append((encode_slice_key(name, extents), part.SerializeToString()))
            entry.ClearField("size")
            entry.ClearField("offset")
            entry.ClearField("crc32c")
        items[i] = (key, entry.SerializeToString())
    return _table_bytes(items)


def mutate_tensor_proto(data: bytes, rng: random.Random) -> bytes:
    """TensorProtos whose shape and stored values disagree: content length mismatches, broadcasts of one value."""
    from tfformats.proto import TensorProto

    proto = TensorProto()
    try:
        proto.ParseFromString(data)
    except Exception:
        return mutate(data, rng)
    op = rng.randrange(4)
    if op == 0:
        proto.tensor_shape.dim.add().size = rng.choice(_HUGE_DIMS)
    elif op == 1 and proto.tensor_content:
        proto.tensor_content = proto.tensor_content[:rng.randrange(len(proto.tensor_content) + 1)]
    elif op == 2:
        del proto.tensor_shape.dim[:]
        proto.tensor_shape.dim.add().size = rng.choice((1 << 29, 1 << 31))
        proto.ClearField("tensor_content")
        proto.float_val.append(1.0)
        proto.dtype = 1
    else:
        proto.tensor_shape.unknown_rank = True
    return proto.SerializeToString()


def function_library(kind: str, count: int) -> bytes:
    """A GraphDef whose library holds ``count`` functions: a call chain, a fan-out of two calls per level, or
    many independent functions; the root node calls the first."""
    from tfformats.proto import GraphDef

    graph = GraphDef()
    for i in range(count):
        fn = graph.library.function.add()
        fn.signature.name = f"f{i}"
        if kind == "independent" or i + 1 == count:
            fn.node_def.add(name="n", op="NoOp")
            continue
        for j in range(2 if kind == "fanout" else 1):
            call = fn.node_def.add(name=f"call{j}", op="PartitionedCall")
            call.attr["f"].func.name = f"f{i + 1}"
    root = graph.node.add(name="root", op="PartitionedCall")
    root.attr["f"].func.name = "f0"
    return graph.SerializeToString()


def mutate_library(data: bytes, rng: random.Random) -> bytes:
    """Replace the input by a large function library (chains, fan-outs, 10^3..10^4 functions)."""
    kind = rng.choice(("chain", "fanout", "independent"))
    count = rng.choice((40, 1000, 10000)) if kind != "fanout" else rng.choice((16, 24, 40))
    return function_library(kind, count)


# -- running one input ------------------------------------------------------------------------------

@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"input ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_one(target: Target, seed: Seed, data: bytes, *, track_memory: bool = True) -> Optional[str]:
    """Run one input; return None if the invariant holds, else a one-line description."""
    work = Path(tempfile.mkdtemp(prefix="tff-fuzz-"))
    started_tracing = False
    try:
        if track_memory and not tracemalloc.is_tracing():
            tracemalloc.start()
            started_tracing = True
        if track_memory:
            tracemalloc.reset_peak()
        try:
            with _time_limit(TIME_LIMIT):
                target.run(data, seed, work)
        except ALLOWED:
            pass
        except RecursionError as exc:
            return f"RecursionError: {exc}"
        except Exception as exc:  # the point of the harness: anything else is a bug
            return f"{type(exc).__name__}: {exc}"
        if track_memory:
            peak = tracemalloc.get_traced_memory()[1]
            limit = memory_limit(len(data))
            if peak > limit:
                return f"allocated {peak} bytes for an input of {len(data)} bytes (limit {limit})"
        return None
    finally:
        if started_tracing:
            tracemalloc.stop()
        shutil.rmtree(work, ignore_errors=True)


def corpus_name(seed: Seed, data: bytes) -> str:
    return f"{seed.name}--{hashlib.sha1(data).hexdigest()[:12]}.bin"


def save_to_corpus(target: Target, seed: Seed, data: bytes, corpus: Path = CORPUS) -> Path:
    folder = corpus / target.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / corpus_name(seed, data)
    path.write_bytes(data)
    return path


def corpus_entries(corpus: Path = CORPUS) -> list[tuple[Target, Seed, Path]]:
    """Every committed corpus input with the target and seed it belongs to."""
    out = []
    for name, target in sorted(TARGETS.items()):
        seeds = {s.name: s for s in target.seeds}
        for path in sorted((corpus / name).glob("*.bin")):
            seed = seeds.get(path.name.split("--", 1)[0])
            if seed is not None:
                out.append((target, seed, path))
    return out


# -- targets ------------------------------------------------------------------------------------------

def _drain_reader(reader: object, max_tensors: int = 64) -> None:
    from tfformats.checkpoint.interface import CheckpointReader

    assert isinstance(reader, CheckpointReader)
    with reader:
        infos = reader.tensor_infos()
        for name in sorted(infos)[:max_tensors]:
            reader.get_tensor(name)
        reader.kind  # noqa: B018 - reads the object graph when there is one
        if reader.format == "V2":
            reader.object_graph  # noqa: B018


def _run_table(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.table import TableReader
    from tfformats.table.columns import decode_columns

    path = work / "table"
    path.write_bytes(data)
    with TableReader(path, verify_checksums=False) as table:
        items = list(table.items())
        keys = [k for k, _ in items]
        for key in keys[:8] + [b"", b"\xff" * 4]:
            table.get(key)
        # Differential: the column-wise decoder gives the same entries or declines (and the fallback agrees).
        blocks = [table.read_block(handle) for handle in table.index_handles]
        columns = decode_columns(blocks)
        if columns is not None:
            assert [(columns.key(i), columns.value(i)) for i in range(len(columns))] == items


def _prefix_of(index: Path) -> str:
    return index.name[: -len(".index")]


def _run_bundle_index(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.bundle.reader import BundleReader

    prefix = _prefix_of(seed.file)
    for shard in seed.file.parent.glob(f"{prefix}.data-*"):
        os.symlink(shard, work / shard.name)
    (work / f"{prefix}.index").write_bytes(data)
    from tfformats.table import reader as table_reader

    # Fixture indexes are small: every other input takes the column-wise listing, as a large index would.
    saved = table_reader._COLUMNS_MIN
    if len(data) % 2:
        table_reader._COLUMNS_MIN = 0
    try:
        _drain_reader(BundleReader(work / prefix, verify_checksums=False))
    finally:
        table_reader._COLUMNS_MIN = saved


def _run_bundle_data(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.bundle.reader import BundleReader

    prefix = seed.file.name.split(".data-", 1)[0]
    for other in seed.file.parent.glob(f"{prefix}.*"):
        if other.name.endswith(".index") or ".data-" in other.name and other != seed.file:
            os.symlink(other, work / other.name)
    (work / seed.file.name).write_bytes(data)
    _drain_reader(BundleReader(work / prefix, verify_checksums=False))


def _run_v1(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.checkpoint.v1 import V1Reader

    path = work / seed.file.name
    path.write_bytes(data)
    _drain_reader(V1Reader(path, verify_checksums=False))


def _run_state(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.checkpoint import loading as checkpoint, state

    for other in seed.file.parent.iterdir():
        if other.name != "checkpoint" and ".expected." not in other.name:
            os.symlink(other, work / other.name)
    (work / "checkpoint").write_bytes(data)
    state.read_state(work)
    state.latest_checkpoint(work)
    fmt, prefix = checkpoint.resolve_checkpoint(work)
    # A state file may name any path; only open what lies inside the work folder.
    if os.path.realpath(prefix).startswith(os.path.realpath(work)):
        _drain_reader(checkpoint.load_checkpoint(work), max_tensors=4)


def _run_graph(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.audit import audit_path
    from tfformats.graphs.read import read_message

    if seed.file.name.startswith("saved_model"):
        path = work / "saved_model.pb"
        path.write_bytes(data)
        read_message(work)
        audit_path(work, check_variables=False)
    else:
        path = work / seed.file.name
        path.write_bytes(data)
        read_message(path)
        audit_path(path)


def _run_tensor_proto(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.proto import TensorProto
    from tfformats.tensor_proto import to_numpy

    proto = TensorProto()
    try:
        proto.ParseFromString(data)
    except Exception:  # not a TensorProto at all: protobuf's verdict, not ours
        return
    to_numpy(proto, path=work / "tensor")


_GRAPH_OPS = ("Const", "WriteFile", "PartitionedCall", "StatefulPartitionedCall", "DatasetFromGraph", "NoOp",
              "SaveV2", "PrintV2", "", "Unknown>Op")


def mutate_graph(data: bytes, rng: random.Random) -> bytes:
    """Structure-aware edits of a GraphDef: op names, function references, self-embedding, recursion."""
    from tfformats.proto import GraphDef

    graph = GraphDef()
    graph.ParseFromString(data)
    functions = [f.signature.name for f in graph.library.function] or ["missing_fn"]
    for _ in range(rng.randint(1, 4)):
        containers = [graph.node] + [f.node_def for f in graph.library.function]
        nodes = rng.choice(containers)
        if not nodes:
            continue
        node = rng.choice(nodes)
        op = rng.randrange(7)
        if op == 0:
            node.op = rng.choice(_GRAPH_OPS + tuple(functions))
        elif op == 1:
            node.attr["f"].func.name = rng.choice(functions)
        elif op == 2:
            node.op = "Const"
            node.attr["value"].tensor.dtype = 7
            node.attr["value"].tensor.string_val.append(graph.SerializeToString())
        elif op == 3 and graph.library.function:
            fn = rng.choice(graph.library.function)
            call = fn.node_def.add(name=f"call{rng.randrange(99)}", op=rng.choice(functions))
            call.attr["f"].func.name = rng.choice(functions)
        elif op == 4:
            node.input.append(rng.choice(("missing", "^missing", f"{node.name}:99", "x:out:7", ":", "^")))
        elif op == 5:
            node.attr["output_stream"].s = rng.choice((b"file://x", b"stderr", b"\xff\xfe"))
        else:
            del nodes[rng.randrange(len(nodes))]
    out = graph.SerializeToString()
    return mutate(out, rng, 2) if rng.random() < 0.3 else out


def _run_graph_struct(data: bytes, seed: Seed, work: Path) -> None:
    from tfformats.audit import audit_path

    path = work / "graph.pb"
    path.write_bytes(data)
    audit_path(path)


def _seeds(files: list[Path], root: Path = FIXTURES) -> tuple[Seed, ...]:
    out = []
    for f in sorted(set(files)):
        rel = f.relative_to(root)
        out.append(Seed(".".join(rel.parts[1:]) if rel.parts[0] == "ckpt" else ".".join(rel.parts), f))
    return tuple(out)


def _is_v1_table(path: Path) -> bool:
    if not path.is_file() or path.suffix in (".index", ".json", ".npz", ".meta", ".pbtxt") or \
            ".data-" in path.name or path.name == "checkpoint":
        return False
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 48:
            return False
        f.seek(-8, os.SEEK_END)
        return f.read(8) == struct.pack("<Q", 0xDB4775248B80FB57)


def tensor_proto_seeds(root: Path = FIXTURES) -> tuple[Seed, ...]:
    """Serialized TensorProtos taken from Const nodes of the fixture graphs (written once to a cache folder)."""
    from tfformats.proto import GraphDef, MetaGraphDef

    cache = Path(tempfile.gettempdir()) / "tfformats-fuzz-seeds"
    cache.mkdir(exist_ok=True)
    out = []
    sources = [(p, MetaGraphDef) for p in sorted((root / "ckpt").glob("*/*.meta"))[:2]] + \
              [(p, GraphDef) for p in sorted((root / "audit").glob("*__top.pb"))]
    for path, cls in sources:
        msg = cls()
        msg.ParseFromString(path.read_bytes())
        graph = msg.graph_def if cls is MetaGraphDef else msg
        seen = 0
        for node in graph.node:
            if node.op == "Const" and seen < 6:
                blob = node.attr["value"].tensor.SerializeToString()
                name = f"tensor.{path.stem}.{len(out)}"
                file = cache / f"{name}.bin"
                if not file.exists():
                    file.write_bytes(blob)
                out.append(Seed(name, file))
                seen += 1
    return tuple(out)


def build_targets(root: Path = FIXTURES) -> dict[str, Target]:
    """Targets seeded from the fixtures under ``root`` (a copy of tests/fixtures works too)."""
    ckpt, audit = root / "ckpt", root / "audit"
    indexes = sorted(ckpt.glob("*/*.index")) + sorted(ckpt.glob("*/*/variables/variables.index"))
    data = list(ckpt.glob("*/*.data-00000-of-00001"))
    v1 = [p for p in ckpt.glob("*/*") if _is_v1_table(p)]
    states = sorted(ckpt.glob("*/checkpoint"))
    graphs = sorted(ckpt.glob("*/*.meta")) + sorted(ckpt.glob("*/*/saved_model.pb")) + \
        sorted(audit.glob("*__*.pb"))[::3] + sorted(audit.glob("*/saved_model.pb"))
    targets = [
        Target("table", _seeds(indexes + v1, root), _run_table),
        Target("bundle_index", _seeds(indexes, root), _run_bundle_index),
        Target("bundle_data", _seeds(data, root), _run_bundle_data),
        Target("v1", _seeds(v1, root), _run_v1),
        Target("state", _seeds(states, root), _run_state),
        Target("graph", _seeds(graphs, root), _run_graph),
        Target("tensor_proto", tensor_proto_seeds(root), _run_tensor_proto),
        Target("graph_struct", _seeds(sorted(audit.glob("*__*.pb")), root), _run_graph_struct, mutate_graph),
        Target("bundle_entries", _seeds(indexes, root), _run_bundle_index, mutate_bundle_entries),
        Target("tensor_fields", tensor_proto_seeds(root), _run_tensor_proto, mutate_tensor_proto),
        Target("function_library", _seeds(sorted(audit.glob("*__top.pb"))[:1], root), _run_graph_struct,
               mutate_library),
    ]
    return {t.name: t for t in targets if t.seeds}


TARGETS = build_targets()
