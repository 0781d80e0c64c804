"""Evaluate an ONNX model with onnxruntime when it is installed, else with onnx's reference evaluator.

Both are optional: ``pip install 'tfformats[onnxruntime]'`` for the fast path,
``pip install 'tfformats[onnx]'`` for the pure-numpy one.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from ..errors import ArgumentError, TFFormatsError

Backend = Literal["auto", "onnxruntime", "reference"]
BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "reference")

ONNX_HINT = "pip install 'tfformats[onnx]'"
ORT_HINT = "pip install 'tfformats[onnxruntime]'"


class RunError(TFFormatsError, RuntimeError):
    """The model could not be evaluated on the given inputs (the evaluator refused it or failed)."""


class OnnxInput(NamedTuple):
    """One graph input of an ONNX model: name, numpy dtype, shape (None or a str for a free dim)."""

    name: str
    dtype: Optional[np.dtype]
    shape: Optional[tuple[Optional[int | str], ...]]


def missing_dependency(message: str) -> TFFormatsError:
    """The error for an optional package that is not installed (one line, saying what to install)."""
    try:
        from ..onnx._deps import MissingDependencyError
    except ImportError:  # the converter package is not present: a plain TFFormatsError says the same
        return TFFormatsError(message)
    return MissingDependencyError(message)


def require_onnx(what: str = "running a model") -> Any:
    """The ``onnx`` module, or a one-line error saying what to install."""
    try:
        import onnx
    except ImportError:
        raise missing_dependency(f"{what} needs the onnx package: {ONNX_HINT}") from None
    return onnx


def has_onnxruntime() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def choose(backend: str) -> str:
    """The evaluator ``backend`` names, resolving ``auto``; a one-line error when it is not installed."""
    if backend not in BACKENDS:
        raise ArgumentError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "onnxruntime" and not has_onnxruntime():
        raise missing_dependency(f"the onnxruntime backend needs the onnxruntime package: {ORT_HINT}")
    if backend == "auto":
        return "onnxruntime" if has_onnxruntime() else "reference"
    return backend


def model_inputs(model: Any) -> list[OnnxInput]:
    """Graph inputs of ``model`` that are fed at run time (initializers listed as inputs excluded)."""
    from onnx import helper

    initializers = {t.name for t in model.graph.initializer}
    out = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        try:
            dtype: Optional[np.dtype] = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        except (KeyError, TypeError, ValueError):
            dtype = None
        shape = None
        if tensor.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)
        out.append(OnnxInput(value.name, dtype, shape))
    return out


def model_outputs(model: Any) -> list[str]:
    return [v.name for v in model.graph.output]


def evaluate(model: Any, feeds: Mapping[str, np.ndarray], outputs: Optional[Sequence[str]] = None, *,
             backend: str = "auto", source: str = "<model>") -> dict[str, np.ndarray]:
    """Run ``model`` on ``feeds`` (keyed by ONNX input name) and return ``{ONNX output name: array}``."""
    chosen = choose(backend)
    names = list(outputs) if outputs else model_outputs(model)
    try:
        if chosen == "onnxruntime":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # errors only: the warnings about unused initializers are noise here
            session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                   providers=["CPUExecutionProvider"])
            values = session.run(names, dict(feeds))
        else:
            from onnx.reference import ReferenceEvaluator

            values = ReferenceEvaluator(model).run(names, dict(feeds))
    except TFFormatsError:
        raise
    except Exception as exc:  # each evaluator has its own exception types; report them in one line
        detail = " ".join(str(exc).split())
        raise RunError(f"{source}: {chosen} could not run the model: {detail[:500]}") from exc
    return {name: np.asarray(value) for name, value in zip(names, values)}


__all__ = ["BACKENDS", "Backend", "OnnxInput", "RunError", "choose", "evaluate", "has_onnxruntime",
           "missing_dependency", "model_inputs", "model_outputs", "require_onnx"]
