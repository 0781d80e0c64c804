"""TensorFlow graphs to ONNX, without TensorFlow: ``to_onnx``.

Needs the optional ``onnx`` package (``pip install 'tfformats[onnx]'``); nothing else in tfformats does.
"""

from __future__ import annotations

from .convert import to_onnx

__all__ = ["to_onnx"]
