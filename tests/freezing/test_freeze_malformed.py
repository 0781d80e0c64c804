"""Damaged savers and graphs end in one-line errors naming the node, never a KeyError or IndexError."""

from __future__ import annotations

from pathlib import Path

import pytest

import tfformats as tff
from graph_cases import load_case
from tfformats.cli import main
from tfformats.errors import GraphError


def _broken_meta(tmp_path: Path, edit: object) -> tuple[Path, Path]:
    case = load_case("mlp")
    meta = tff.read_meta_graph(case.meta)
    edit(meta.graph_def)  # type: ignore[operator]
    path = tmp_path / "model.ckpt.meta"
    path.write_bytes(meta.SerializeToString())
    return path, Path(str(case.checkpoint))


def _drop_tensor_names(graph: object) -> None:
    kept = [n for n in graph.node if n.name != "save/RestoreV2/tensor_names"]  # type: ignore[attr-defined]
    del graph.node[:]  # type: ignore[attr-defined]
    graph.node.extend(kept)  # type: ignore[attr-defined]


def _short_restore(graph: object) -> None:
    restore = next(n for n in graph.node if n.op == "RestoreV2")  # type: ignore[attr-defined]
    del restore.input[1:]


def _bad_spec(graph: object) -> None:
    from tfformats.proto import TensorProto

    node = next(n for n in graph.node if n.name == "save/RestoreV2/shape_and_slices")  # type: ignore[attr-defined]
    tensor = node.attr["value"].tensor
    count = len(tensor.string_val)
    tensor.CopyFrom(TensorProto(dtype=tensor.dtype, tensor_shape=tensor.tensor_shape,
                                string_val=[b"3 x,y"] * count))


@pytest.mark.parametrize("edit, message", [
    (_drop_tensor_names, r"restore node 'save/RestoreV2' reads its tensor names from "
                         r"'save/RestoreV2/tensor_names', which is not in the graph"),
    (_short_restore, r"restore node 'save/RestoreV2' \(RestoreV2\) has 1 inputs, not 3"),
    (_bad_spec, r"bad slice spec '3 x,y' in save/RestoreV2"),
], ids=["missing-names", "short-restore", "bad-spec"])
def test_damaged_saver_is_a_graph_error_naming_the_node(tmp_path: Path, edit: object, message: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    meta, checkpoint = _broken_meta(tmp_path, edit)
    with pytest.raises(GraphError, match=message) as info:
        tff.freeze(str(meta), str(checkpoint), ["probs"])
    assert str(meta) in str(info.value)
    assert main(["freeze", str(meta), "-c", str(checkpoint), "--outputs", "probs", "-o",
                 str(tmp_path / "f.pb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "restore" in err or "slice" in err


def test_output_path_under_a_file_names_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = load_case("mlp")
    blocker = tmp_path / "README.md"
    blocker.write_text("not a folder")
    target = blocker / "f.pb"
    assert main(["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "probs", "-o",
                 str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "tempstate" not in err and err.count("\n") == 1


def test_output_in_a_missing_folder_names_the_output_not_its_temporary_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = load_case("mlp")
    target = tmp_path / "missing_dir" / "f.pb"
    assert main(["freeze", str(case.meta), "-c", str(case.checkpoint), "--outputs", "probs", "-o",
                 str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and ".tmp" not in err and "tempstate" not in err


def test_input_under_a_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "README.md"
    blocker.write_text("not a folder")
    for argv in (["graph", str(blocker / "x")], ["freeze", str(blocker / "f.pb"), "-c", "ckpt", "--outputs", "y",
                                                 "-o", str(tmp_path / "out.pb")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(blocker / ("x" if argv[0] == "graph" else "f.pb")) in err
