"""Variable writes and tables freezing cannot reproduce are refused with one error naming them."""

from __future__ import annotations

import re

import pytest

from graph_cases import case_names, freeze_case_report, load_case
from tfformats.errors import GraphError
from tfformats.freezing.writes import check_writes
from tfformats.proto import GraphDef, parse_text

REFUSED = case_names(refused=True)


def test_the_refused_fixtures_exist() -> None:
    assert {"assign_on_output", "assign_resource_on_output", "scatter_on_output", "mutable_table_v1",
            "vocab_file_meta"} <= set(REFUSED)


@pytest.mark.parametrize("name", REFUSED)
def test_refused_case_names_the_node_or_table_and_the_file(name: str) -> None:
    case = load_case(name)
    with pytest.raises(GraphError) as info:
        freeze_case_report(case)
    message = str(info.value)
    assert re.search(case.refuse, message), message
    assert "\n" not in message
    assert str(case.meta or case.saved_model) in message


def test_assign_add_inside_a_tf1_cond_still_freezes_exactly() -> None:
    """cond_while_v1: AssignAdd in one cond branch, a read in the other: rewritten to Add, not refused."""
    result = freeze_case_report(load_case("cond_while_v1"))
    ops = {n.name: n.op for n in result.graph_def.node}
    assert ops["cond_1/AssignAdd"] == "Add"
    assert "counter" in result.frozen


def _graph(text: str) -> GraphDef:
    return parse_text(text, GraphDef())


REF_VAR = 'node { name: "v" op: "VariableV2" attr { key: "dtype" value { type: DT_FLOAT } } }\n' \
          'node { name: "v/read" op: "Identity" input: "v" }\n' \
          'node { name: "one" op: "Const" }\n'


def test_a_write_whose_result_is_the_output_is_exact() -> None:
    graph = _graph(REF_VAR + 'node { name: "bump" op: "AssignAdd" input: "v" input: "one" }\n'
                             'node { name: "out" op: "Identity" input: "bump" }')
    assert check_writes(graph, ["v"], ["out"]) == ["bump"]


def test_a_read_that_waits_for_the_write_is_refused() -> None:
    graph = _graph(REF_VAR + 'node { name: "bump" op: "Assign" input: "v" input: "one" }\n'
                             'node { name: "out" op: "Mul" input: "v/read" input: "one" input: "^bump" }')
    with pytest.raises(GraphError, match=r"node 'bump' \(Assign\) writes variable 'v' and node 'out' \(Mul\)"):
        check_writes(graph, ["v"], ["out"])


def test_a_fetched_alias_after_the_write_is_refused() -> None:
    graph = _graph(REF_VAR + 'node { name: "bump" op: "Assign" input: "v" input: "one" }\n'
                             'node { name: "out" op: "Identity" input: "v/read" input: "^bump" }')
    with pytest.raises(GraphError, match="node 'out' \\(Identity\\) reads it afterwards"):
        check_writes(graph, ["v"], ["out"])


def test_two_writes_in_sequence_are_refused() -> None:
    graph = _graph(REF_VAR + 'node { name: "a" op: "AssignAdd" input: "v" input: "one" }\n'
                             'node { name: "b" op: "AssignAdd" input: "v" input: "one" input: "^a" }\n'
                             'node { name: "out" op: "Identity" input: "b" }')
    with pytest.raises(GraphError, match="node 'a' \\(AssignAdd\\) writes variable 'v' and node 'b'"):
        check_writes(graph, ["v"], ["out"])


def test_an_optimizer_update_on_the_output_path_is_refused() -> None:
    graph = _graph(REF_VAR + 'node { name: "step" op: "ApplyGradientDescent" input: "v" input: "one" '
                             'input: "one" }\nnode { name: "out" op: "Identity" input: "step" }')
    with pytest.raises(GraphError, match=r"node 'step' \(ApplyGradientDescent\) changes variable 'v'"):
        check_writes(graph, ["v"], ["out"])


def test_a_write_to_a_variable_that_is_not_frozen_is_left_alone() -> None:
    graph = _graph(REF_VAR + 'node { name: "step" op: "ScatterAdd" input: "v" input: "one" input: "one" }\n'
                             'node { name: "out" op: "Identity" input: "step" }')
    assert check_writes(graph, [], ["out"]) == []
    with pytest.raises(GraphError, match="changes variable 'v'"):
        check_writes(graph, ["v"], ["out"])


def test_a_write_inside_a_functional_if_branch_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    import tfformats as tff

    graph = _graph('''
node { name: "v" op: "VarHandleOp" attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "shape" value { shape { } } } }
node { name: "p" op: "Placeholder" attr { key: "dtype" value { type: DT_BOOL } } }
node { name: "if" op: "If" input: "p" input: "v"
       attr { key: "Tin" value { list { type: DT_RESOURCE } } }
       attr { key: "Tout" value { list { type: DT_FLOAT } } }
       attr { key: "then_branch" value { func { name: "bump" } } }
       attr { key: "else_branch" value { func { name: "bump" } } } }
library { function {
  signature { name: "bump" input_arg { name: "h" type: DT_RESOURCE } output_arg { name: "y" type: DT_FLOAT } }
  node_def { name: "one" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
             attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { } float_val: 1 } } } }
  node_def { name: "write" op: "AssignAddVariableOp" input: "h" input: "one:output:0"
             attr { key: "dtype" value { type: DT_FLOAT } } }
  node_def { name: "read" op: "ReadVariableOp" input: "h" input: "^write"
             attr { key: "dtype" value { type: DT_FLOAT } } }
  ret { key: "y" value: "read:value:0" } } }
''')
    tff.save_checkpoint(tmp_path / "ckpt", {"v": np.float32(2.0)})
    with pytest.raises(GraphError, match=r"variable 'v' is assigned by node 'write' \(AssignAddVariableOp\) in "
                                         r"function 'bump'"):
        tff.freeze(graph, str(tmp_path / "ckpt"), ["if"])
