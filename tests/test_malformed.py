"""Targeted damage to real TensorFlow fixtures: every reader ends in a tfformats error naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from fixture_data import CKPT_DIR
from tfformats import FormatError, load_checkpoint
from tfformats.bundle.reader import BundleReader
from tfformats.errors import GraphError, TFFormatsError, TruncatedError
from tfformats.checkpoint.v1 import V1Reader
from tfformats.proto import BundleEntryProto, BundleHeaderProto, GraphDef, TensorProto
from tfformats.table import TableReader
from tfformats.table import layout
from tfformats.table.layout import BlockHandle, Footer
from tfformats.table.writer import TableWriter
from tfformats._wire import decode_varint, encode_varint

SAMPLE = CKPT_DIR / "sample" / "sample-1"
V1_FILE = next(p for p in sorted((CKPT_DIR / "v1_legacy").iterdir())
               if not p.name.startswith(("checkpoint",)) and p.suffix not in (".json", ".npz", ".meta"))


def _copy_bundle(src: Path, dst: Path) -> Path:
    for f in src.parent.glob(src.name + ".*"):
        if ".expected." not in f.name and not f.name.endswith(".pbtxt"):
            shutil.copy(f, dst / f.name)
    return dst / src.name


def _items(path: Path) -> list[tuple[bytes, bytes]]:
    with TableReader(path) as t:
        return list(t.items())


def _write_table(path: Path, items: list[tuple[bytes, bytes]]) -> None:
    with open(path, "wb") as f:
        writer = TableWriter(f)
        for k, v in items:
            writer.add(k, v)
        writer.finish()


def _rewrite_entries(prefix: Path, edit: Callable[[bytes, bytes], bytes]) -> None:
    index = Path(f"{prefix}.index")
    _write_table(index, [(k, edit(k, v)) for k, v in _items(index)])


def _first_tensor(prefix: Path) -> bytes:
    return next(k for k, _ in _items(Path(f"{prefix}.index")) if k and k[0] != 0)


def _read_everything(prefix: Path) -> None:
    with load_checkpoint(prefix) as r:
        for name in r.keys():
            r.get_tensor(name)


def _expect_error(path_part: str, fn: Callable[[], object], err: type[Exception] = FormatError, *,
                  offset: int | None = None) -> FormatError:
    """Run ``fn``; it must raise ``err`` naming ``path_part`` and, when given, pointing at byte ``offset``."""
    with pytest.raises(err) as info:
        fn()
    assert path_part in str(info.value)
    if offset is not None:
        assert getattr(info.value, "offset", None) == offset, str(info.value)
        assert f"at offset {offset}" in str(info.value)
    return info.value  # type: ignore[return-value]


# -- tables -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [1 << 40, (1 << 64) - 1, (1 << 64) - 48])
def test_index_block_handle_past_end_or_near_2_64(tmp_path: Path, offset: int) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    index = Path(f"{prefix}.index")
    raw = bytearray(index.read_bytes())
    footer = layout.decode_footer(bytes(raw[-48:]))
    raw[-48:] = layout.encode_footer(Footer(footer.metaindex, BlockHandle(offset, 16)))
    index.write_bytes(bytes(raw))
    _expect_error(index.name, lambda: TableReader(index), TruncatedError, offset=len(raw) - 48)


def test_data_block_handle_with_size_near_2_64(tmp_path: Path) -> None:
    index = tmp_path / "t.index"
    items = _items(Path(f"{SAMPLE}.index"))
    _write_table(index, items)
    raw = bytearray(index.read_bytes())
    footer = layout.decode_footer(bytes(raw[-48:]))
    block = raw[footer.index.offset:footer.index.offset + footer.index.size]
    key, start, end = next(layout.iter_block(bytes(block)))
    # Replace the index entry's handle with one whose size is close to 2^64, and fix the CRC.
    new_block = layout.BlockBuilder(layout.INDEX_RESTART_INTERVAL)
    new_block.add(key, layout.encode_block_handle(BlockHandle(0, (1 << 64) - 7)))
    contents = new_block.finish()
    head = bytes(raw[:footer.index.offset])
    trailer = layout.encode_block_trailer(contents, layout.NO_COMPRESSION)
    new_footer = layout.encode_footer(Footer(footer.metaindex, BlockHandle(len(head), len(contents))))
    index.write_bytes(head + contents + trailer + new_footer)
    _expect_error("t.index", lambda: TableReader(index))


def _table_with_raw_block(path: Path, block: bytes, compression: int) -> None:
    """A table whose single data block is ``block`` stored as given (valid CRC), with its index and footer."""
    out = bytearray(block + layout.encode_block_trailer(block, compression))
    data = BlockHandle(0, len(block))
    meta_contents = layout.BlockBuilder().finish()
    meta = BlockHandle(len(out), len(meta_contents))
    out += meta_contents + layout.encode_block_trailer(meta_contents, 0)
    idx = layout.BlockBuilder(layout.INDEX_RESTART_INTERVAL)
    idx.add(b"\xff", layout.encode_block_handle(data))
    idx_contents = idx.finish()
    index = BlockHandle(len(out), len(idx_contents))
    out += idx_contents + layout.encode_block_trailer(idx_contents, 0) + layout.encode_footer(Footer(meta, index))
    path.write_bytes(bytes(out))


@pytest.mark.parametrize("declared", [1, 1 << 20, (1 << 63)])
def test_snappy_block_whose_declared_length_lies(tmp_path: Path, declared: int) -> None:
    import snappy

    block_builder = layout.BlockBuilder()
    for k, v in _items(Path(f"{SAMPLE}.index")):
        block_builder.add(k, v)
    packed = snappy.compress(block_builder.finish())
    _, pos = decode_varint(packed, 0)
    lying = encode_varint(declared) + packed[pos:]
    path = tmp_path / "snappy.index"
    _table_with_raw_block(path, lying, layout.SNAPPY_COMPRESSION)
    _expect_error("snappy.index", lambda: list(TableReader(path).items()), offset=0)  # the data block's start


def test_keys_out_of_order(tmp_path: Path) -> None:
    items = _items(Path(f"{SAMPLE}.index"))
    builder = layout.BlockBuilder()
    for k, v in [items[0], items[2], items[1]] + items[3:]:
        builder.add(k, v)
    path = tmp_path / "order.index"
    _table_with_raw_block(path, builder.finish(), layout.NO_COMPRESSION)
    _expect_error("order.index", lambda: list(TableReader(path).items()), offset=0)  # the data block's start


# -- bundle index -------------------------------------------------------------------------------------

def test_missing_header_entry(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    index = Path(f"{prefix}.index")
    _write_table(index, [(k, v) for k, v in _items(index) if k])
    _expect_error(index.name, lambda: BundleReader(prefix))


def test_empty_table(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    index = Path(f"{prefix}.index")
    _write_table(index, [])
    _expect_error(index.name, lambda: BundleReader(prefix))


def test_header_with_garbage_value(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    _rewrite_entries(prefix, lambda k, v: b"\x08\xff\xff\xff\xff\x0f\x1a" if not k else v)
    _expect_error("sample-1.index", lambda: BundleReader(prefix))


def _edit_entry(prefix: Path, edit: Callable[[BundleEntryProto], None]) -> bytes:
    target = _first_tensor(prefix)

    def change(key: bytes, value: bytes) -> bytes:
        if key != target:
            return value
        entry = BundleEntryProto()
        entry.ParseFromString(value)
        edit(entry)
        return entry.SerializeToString()

    _rewrite_entries(prefix, change)
    return target


def test_entry_size_disagrees_with_dtype_and_shape(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    _edit_entry(prefix, lambda e: setattr(e, "size", e.size + 4))
    _expect_error("sample-1", lambda: _read_everything(prefix))


@pytest.mark.parametrize("dims", [[-1], [2, -5], [1 << 40, 1 << 40], [(1 << 63) - 1, 2]])
def test_negative_or_overflowing_dimensions(tmp_path: Path, dims: list[int]) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)

    def edit(e: BundleEntryProto) -> None:
        del e.shape.dim[:]
        for d in dims:
            e.shape.dim.add().size = d

    _edit_entry(prefix, edit)
    _expect_error("sample-1", lambda: _read_everything(prefix))


def test_shard_id_beyond_num_shards(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    _edit_entry(prefix, lambda e: setattr(e, "shard_id", 7))
    _expect_error("sample-1", lambda: _read_everything(prefix))


def test_more_shards_in_header_than_on_disk(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)

    def header(k: bytes, v: bytes) -> bytes:
        if k:
            return v
        h = BundleHeaderProto()
        h.ParseFromString(v)
        h.num_shards = 3
        return h.SerializeToString()

    _rewrite_entries(prefix, header)
    _edit_entry(prefix, lambda e: setattr(e, "shard_id", 2))
    err = _expect_error("sample-1", lambda: _read_everything(prefix), FileNotFoundError)
    assert isinstance(err, FormatError)


@pytest.mark.parametrize("dtype", [101, 120, 77, 1000])
def test_reference_and_unknown_dtypes(tmp_path: Path, dtype: int) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    _edit_entry(prefix, lambda e: setattr(e, "dtype", dtype))
    _expect_error("sample-1", lambda: _read_everything(prefix))


def test_offset_past_end_of_shard(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    _edit_entry(prefix, lambda e: setattr(e, "offset", (1 << 62)))
    _expect_error("sample-1", lambda: _read_everything(prefix), TruncatedError, offset=1 << 62)


def test_empty_tensor_name_key_is_not_a_tensor(tmp_path: Path) -> None:
    prefix = _copy_bundle(SAMPLE, tmp_path)
    with BundleReader(prefix) as r:
        assert "" not in r.keys()
        with pytest.raises(KeyError):
            r.get_tensor("")


# -- legacy V1 ---------------------------------------------------------------------------------------

def test_v1_table_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / V1_FILE.name
    _write_table(path, [(k, v) for k, v in _items(V1_FILE) if k])
    _expect_error(V1_FILE.name, lambda: V1Reader(path))


def test_v1_metadata_with_negative_dimension(tmp_path: Path) -> None:
    from tfformats.proto import SavedTensorSlices

    path = tmp_path / V1_FILE.name
    items = _items(V1_FILE)
    meta = SavedTensorSlices()
    meta.ParseFromString(items[0][1])
    meta.meta.tensor[0].shape.dim.add().size = -3
    _write_table(path, [(b"", meta.SerializeToString())] + items[1:])
    _expect_error(V1_FILE.name, lambda: V1Reader(path))


def test_v1_metadata_with_reference_dtype(tmp_path: Path) -> None:
    from tfformats.proto import SavedTensorSlices

    path = tmp_path / V1_FILE.name
    items = _items(V1_FILE)
    meta = SavedTensorSlices()
    meta.ParseFromString(items[0][1])
    meta.meta.tensor[0].type = 101
    _write_table(path, [(b"", meta.SerializeToString())] + items[1:])
    _expect_error(V1_FILE.name, lambda: V1Reader(path))


# -- TensorProto ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"\x00" * 13])
def test_tensor_content_length_disagrees_with_shape(content: bytes) -> None:
    from tfformats.tensor_proto import to_numpy

    proto = TensorProto()
    proto.dtype = 1
    proto.tensor_shape.dim.add().size = 3
    proto.tensor_content = content or b"\x00" * 8
    _expect_error("graph.pb", lambda: to_numpy(proto, path="graph.pb"))


def test_tensor_proto_with_huge_shape_and_one_value_is_refused() -> None:
    from tfformats.tensor_proto import to_numpy

    proto = TensorProto()
    proto.dtype = 1
    proto.tensor_shape.dim.add().size = 1 << 40
    proto.float_val.append(1.0)
    _expect_error("graph.pb", lambda: to_numpy(proto, path="graph.pb"))


# -- graphs -------------------------------------------------------------------------------------------

def _recursive_graph(names: list[str]) -> GraphDef:
    graph = GraphDef()
    call = graph.node.add(name="call", op="PartitionedCall")
    call.attr["f"].func.name = names[0]
    for i, name in enumerate(names):
        fn = graph.library.function.add()
        fn.signature.name = name
        node = fn.node_def.add(name="again", op="PartitionedCall")
        node.attr["f"].func.name = names[(i + 1) % len(names)]
    return graph


@pytest.mark.parametrize("names", [["f"], ["f", "g"]])
def test_recursive_functions_end_with_a_clear_error_when_inlining(names: list[str]) -> None:
    from tfformats.graphs.inline import inline_calls

    with pytest.raises(GraphError, match="nest deeper"):
        inline_calls(_recursive_graph(names), {})


@pytest.mark.parametrize("names", [["f"], ["f", "g"]])
def test_recursive_functions_end_audit_and_summary(tmp_path: Path, names: list[str]) -> None:
    from tfformats.audit import audit_path
    from tfformats.graphs.summary import graph_summary

    path = tmp_path / "rec.pb"
    path.write_bytes(_recursive_graph(names).SerializeToString())
    assert any(f.category == "recursion" for f in audit_path(path).findings)
    graph_summary(_recursive_graph(names))


def test_node_inputs_naming_missing_nodes_or_outputs(tmp_path: Path) -> None:
    from tfformats.audit import audit_path
    from tfformats.graphs.prune import extract_sub_graph

    graph = GraphDef()
    graph.node.add(name="x", op="Placeholder")
    node = graph.node.add(name="y", op="Identity")
    node.input.extend(["missing:0", "x:99", "^gone"])
    path = tmp_path / "dangling.pb"
    path.write_bytes(graph.SerializeToString())
    report = audit_path(path)
    assert {s.node for s in report.sites} == {"x", "y"}
    # Pruning (and so freezing) refuses an input that names no node, and says which.
    with pytest.raises(GraphError, match="missing"):
        extract_sub_graph(graph, ["y"])


def test_truncated_graph_file_names_the_file(tmp_path: Path) -> None:
    from tfformats.graphs.read import read_meta_graph

    meta = next(CKPT_DIR.glob("*/*.meta"))
    path = tmp_path / "cut.meta"
    path.write_bytes(meta.read_bytes()[:-7])
    _expect_error("cut.meta", lambda: read_meta_graph(path), TFFormatsError)  # type: ignore[arg-type]
