"""Check a frozen graph against the graph it was frozen from, on random inputs, without TensorFlow.

The original graph cannot run as it is here: its variables are ops that need a
TensorFlow session. So the check runs a copy of it in which every variable is a
``Placeholder`` fed with its value read from the checkpoint
(:mod:`tfformats.serving.original`, built apart from the freezer's rewriting).
Both graphs are converted to ONNX and run on the same random inputs of the
signature's shapes; the largest absolute and relative differences per output
are reported.

What this catches: a variable frozen with the wrong checkpoint tensor, slice or
dtype, a Const put in the wrong place, pruning that cut a needed node, a
control-flow rewrite that changed what the graph computes. What it shares with
the freezer, and so cannot catch: the mapping from variables to checkpoint
keys (the Saver, ``variable_map``, ``use_ema``), which both sides use.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from ..errors import ArgumentError, FormatError, GraphError, PathLike
from ..graphs.names import parse_input
from .original import VARIABLE_OPS, runnable_original

DEFAULT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class OutputDiff:
    """How far the frozen graph's output is from the original's."""

    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    passed: bool


@dataclass(frozen=True)
class CheckReport:
    """The result of :func:`check_frozen`."""

    outputs: list[OutputDiff]
    inputs: dict[str, tuple[int, ...]]  # random input -> shape used
    variables: int  # variables fed from the checkpoint to the original graph
    backend: str
    tolerance: float

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)


def _max_rel(diff: np.ndarray, scale: np.ndarray) -> float:
    """Largest ``diff / |original|`` over the elements where the original is not zero (the abs diff covers zeros)."""
    nonzero = scale > 0
    if not nonzero.any():
        return 0.0
    return float(np.max(diff[nonzero] / scale[nonzero]))


def compare(name: str, frozen: np.ndarray, original: np.ndarray, tolerance: float) -> OutputDiff:
    """Differences of one output; it passes when every |frozen - original| <= tol * (1 + |original|).

    NaN in both at the same place counts as equal; NaN in one only is an infinite difference.
    """
    if frozen.shape != original.shape:
        return OutputDiff(name, tuple(frozen.shape), float("inf"), float("inf"), False)
    if frozen.dtype.kind not in "fciub" or original.dtype.kind not in "fciub":
        same = bool(np.array_equal(frozen, original))
        return OutputDiff(name, tuple(frozen.shape), 0.0 if same else float("inf"), 0.0 if same else float("inf"),
                          same)
    a = frozen.astype(np.complex128 if frozen.dtype.kind == "c" or original.dtype.kind == "c" else np.float64)
    b = original.astype(a.dtype)
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(both_nan, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), np.inf, diff)
    scale = np.where(both_nan, 0.0, np.abs(b))
    scale = np.where(np.isnan(scale), 0.0, scale)
    if not diff.size:
        return OutputDiff(name, tuple(frozen.shape), 0.0, 0.0, True)
    passed = bool(np.all(diff <= tolerance * (1 + scale)))
    return OutputDiff(name, tuple(frozen.shape), float(np.max(diff)), _max_rel(diff, scale), passed)


@contextlib.contextmanager
def _stage(what: str, source: Optional[str]) -> Iterator[None]:
    """Say which graph the check could not convert, in the converter's own words."""
    try:
        yield
    except FormatError as exc:
        raise type(exc)(f"--check cannot run {what}: {exc.detail}", exc.path or source) from None
    except GraphError as exc:
        raise GraphError(f"--check cannot run {what}: {exc}") from None


def check_frozen(original: Any, frozen: Any, values: Mapping[str, np.ndarray], outputs: Mapping[str, tuple[str, str]],
                 *, op_defs: Optional[Mapping[str, Any]] = None, tolerance: float = DEFAULT_TOLERANCE,
                 unknown_dim: int = 1, seed: int = 0, backend: str = "auto",
                 source: Optional[str] = None) -> CheckReport:
    """Run ``original`` (variables fed from ``values``) and ``frozen`` on the same random inputs.

    Args:
        original: the GraphDef before freezing.
        frozen: the frozen GraphDef.
        values: ``{variable node: value}`` for every variable of ``original`` the outputs need.
        outputs: ``{label: (tensor in original, tensor in frozen)}``.
        source: the file the original came from, named in errors.
    """
    from ..onnx.convert import to_onnx
    from .backend import choose, evaluate, model_inputs
    from .feeds import random_feeds

    if not outputs:
        raise ArgumentError("nothing to check: no outputs")
    chosen = choose(backend)
    labels = list(outputs)
    with _stage("the frozen graph", source):
        frozen_model = to_onnx(frozen, outputs=[outputs[k][1] for k in labels])
    inputs = model_inputs(frozen_model)
    feeds = random_feeds({i.name: (i.dtype or np.dtype(np.float32), i.shape) for i in inputs},
                         unknown=unknown_dim, seed=seed)
    with _stage("the original graph", source):
        runnable, fetch = runnable_original(original, values, [outputs[k][0] for k in labels], op_defs=op_defs)
        variables = [n.name for n in runnable.node if n.op == "Placeholder" and n.name in values]
        original_model = to_onnx(runnable, outputs=fetch,
                                 inputs=[i.name for i in inputs] + [f"{v}:0" for v in variables])
    declared = {i.name for i in model_inputs(original_model)}  # the converter drops inputs nothing reads
    variables = [v for v in variables if f"{v}:0" in declared]
    var_feeds = {f"{v}:0": np.asarray(values[v]) for v in variables}
    got = evaluate(frozen_model, feeds, backend=chosen, source="frozen graph")
    want = evaluate(original_model, {k: v for k, v in {**feeds, **var_feeds}.items() if k in declared},
                    backend=chosen, source="original graph")
    frozen_names = [v.name for v in frozen_model.graph.output]
    original_names = [v.name for v in original_model.graph.output]
    diffs = [compare(label, got[f], want[o], tolerance) for label, f, o in zip(labels, frozen_names, original_names)]
    return CheckReport(diffs, {k: tuple(v.shape) for k, v in feeds.items()}, len(variables), chosen, tolerance)


def _values(result: Any, checkpoint: PathLike) -> dict[str, np.ndarray]:
    from ..checkpoint.loading import load_checkpoint
    from ..freezing.variables import ValueLoader

    reader = load_checkpoint(checkpoint)
    try:
        loader = ValueLoader(reader)
        return {name: np.asarray(loader.load(result.sources[name])) for name in result.frozen}
    finally:
        reader.close()


def check_freeze_result(result: Any, *, graph: Optional[PathLike] = None, checkpoint: Optional[PathLike] = None,
                        saved_model: Optional[PathLike] = None, tags: Sequence[str] = ("serve",),
                        signature: str = "serving_default", outputs: Optional[Sequence[str]] = None,
                        **options: Any) -> CheckReport:
    """Check what ``freeze_graph_def`` / ``freeze_saved_model_report`` returned against its source.

    Give ``graph`` and ``checkpoint`` (a GraphDef or ``.meta`` and its checkpoint) or ``saved_model``.
    ``options`` go to :func:`check_frozen` (tolerance, unknown_dim, seed, backend).
    """
    import os

    from ..graphs.opdefs import add_default_attrs_to_graph
    from ..graphs.registry import OpResolver

    op_defs: Optional[Mapping[str, Any]] = None
    if saved_model is not None:
        from ..graphs.read import read_saved_model, saved_model_file, select_meta_graph

        meta = select_meta_graph(read_saved_model(saved_model), tags, saved_model_file(saved_model))
        original = meta.graph_def
        op_defs = OpResolver(meta)
        checkpoint = os.path.join(os.fspath(saved_model), "variables", "variables")
        pairs = _signature_pairs(meta, signature, result)
        if pairs is not None and outputs:
            # TF2: outputs are signature keys; TF1: node names, the same tensors on both sides.
            pairs = {k: pairs[k] for k in outputs} if all(k in pairs for k in outputs) else None
    else:
        if graph is None or checkpoint is None:
            raise ArgumentError("checking a frozen graph needs the original graph and its checkpoint")
        from ..graphs.read import read_message

        kind, message = read_message(graph)
        meta = message if kind == "meta" else None
        original = message.graph_def if meta is not None else message
        op_defs = OpResolver(meta) if meta is not None else None
        pairs = None
    if meta is not None and meta.meta_info_def.stripped_default_attrs:
        copy = type(original)()
        copy.CopyFrom(original)
        add_default_attrs_to_graph(copy, meta.meta_info_def.stripped_op_list)
        original = copy
    if pairs is None:
        names = list(outputs or [])
        if not names:
            raise ArgumentError("give the output names to check")
        pairs = {n: (_tensor(n), _tensor(n)) for n in names}
    values = _original_names(_values(result, checkpoint) if result.frozen else {}, original)
    shown = os.fspath(saved_model if saved_model is not None else graph)  # type: ignore[arg-type]
    return check_frozen(original, result.graph_def, values, pairs, op_defs=op_defs, source=shown, **options)


def _original_names(values: dict[str, np.ndarray], original: Any) -> dict[str, np.ndarray]:
    """Key values by the original graph's variable names.

    The TF2 freezer renames a variable whose name an output key takes (``scale`` -> ``scale_1``)
    and reports the new name; the original graph still calls it ``scale``.
    """
    names = {n.name for n in original.node if n.op in VARIABLE_OPS}
    out: dict[str, np.ndarray] = {}
    for name, value in values.items():
        base, _, suffix = name.rpartition("_")
        if name not in names and suffix.isdigit() and base in names and base not in values:
            name = base
        out[name] = value
    return out


def _tensor(name: str) -> str:
    ref = parse_input(name)
    return f"{ref.node}:{ref.index}"


def _signature_pairs(meta: Any, signature: str, result: Any) -> Optional[dict[str, tuple[str, str]]]:
    if signature not in meta.signature_def or not result.outputs:
        return None
    sig = meta.signature_def[signature]
    return {key: (_tensor(sig.outputs[key].name), _tensor(result.outputs[key]))
            for key in sorted(sig.outputs) if key in result.outputs}


def report_doc(report: CheckReport) -> dict[str, Any]:
    """JSON form of a check report."""
    return {"passed": report.passed, "backend": report.backend, "tolerance": report.tolerance,
            "variables_fed": report.variables, "inputs": {k: list(v) for k, v in report.inputs.items()},
            "outputs": {o.name: {"shape": list(o.shape), "max_abs_diff": o.max_abs, "max_rel_diff": o.max_rel,
                                 "passed": o.passed} for o in report.outputs}}


__all__ = ["CheckReport", "DEFAULT_TOLERANCE", "OutputDiff", "check_freeze_result", "check_frozen", "compare",
           "report_doc", "runnable_original"]
