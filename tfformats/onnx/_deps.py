"""Import onnx on first use, with a one-line error saying what to install."""

from __future__ import annotations

from types import ModuleType

from ..errors import TFFormatsError


class MissingDependencyError(TFFormatsError, ImportError):
    """An optional package a feature needs is not installed."""


def require_onnx() -> ModuleType:
    """Return the ``onnx`` module, or raise :class:`MissingDependencyError`."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("converting to ONNX needs the onnx package: "
                                     "pip install 'tfformats[onnx]'") from None
    return onnx
