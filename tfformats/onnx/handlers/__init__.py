"""Op handlers, one module per op family, and the table saying which TF op each one converts.

A handler is ``handler(context, node, inputs) -> outputs``: the NodeDef, the
:class:`~tfformats.onnx.values.Value` of each data input, and a Value for each TF output.
A folder computes an op on constant inputs with numpy at conversion time.
"""

from __future__ import annotations

from . import array, basic, control, math, nn, reduce, v1
from .common import Folder, Handler

HANDLERS: dict[str, Handler] = {}
FOLDERS: dict[str, Folder] = {}
for _module in (basic, math, nn, array, reduce, control, v1):
    HANDLERS.update(_module.TABLE)
    FOLDERS.update(getattr(_module, "FOLD", {}))

__all__ = ["FOLDERS", "HANDLERS", "Folder", "Handler"]
