"""tfformats: read, write, freeze and audit TensorFlow files without TensorFlow.

Example:
    >>> import tfformats as tff
    >>> r = tff.load_checkpoint("train/model.ckpt-1000")
    >>> r.get_tensor("dense/kernel")
"""

from __future__ import annotations

import typing as _typing

from .checkpoint.interface import CheckpointReader, TensorInfo
from .checkpoint.loading import latest_checkpoint, list_variables, load_checkpoint, load_variable, resolve_checkpoint
from .errors import (CheckpointNotFoundError, ChecksumError, FormatError, GraphError, MissingShardError,
                     TFFormatsError, TruncatedError, UnsupportedError, WrongFormatError)
from .tensor_proto import from_numpy, to_numpy

__version__ = "0.1.0"

if _typing.TYPE_CHECKING:  # what the lazily loaded names are, for type checkers and IDEs
    from . import dtypes, proto
    from .audit.front import audit_path
    from .bundle.writer import BundleWriter
    from .checkpoint.diff import diff_checkpoints
    from .checkpoint.save import save_checkpoint
    from .checkpoint.verify import verify_checkpoint
    from .freezing.freezer import FreezeResult, FreezeWarning, freeze, freeze_saved_model
    from .graphs.read import read_graph_def, read_meta_graph, read_saved_model, write_graph_def
    from .onnx.convert import to_onnx
    from .rewrite.edit import edit_checkpoint, plan_edit
    from .rewrite.export import convert, export_npz, export_safetensors, load_npz
    from .serving.run import run
    from .serving.saved_model import write_saved_model

# Heavier parts load on first use so that `import tfformats` stays fast. No lazy name may equal a
# subpackage's name: importing that subpackage would replace the function with the module.
_LAZY: dict[str, tuple[str, _typing.Optional[str]]] = {
    "proto": ("tfformats.proto", None),
    "dtypes": ("tfformats.dtypes", None),
    "read_graph_def": ("tfformats.graphs.read", "read_graph_def"),
    "read_meta_graph": ("tfformats.graphs.read", "read_meta_graph"),
    "read_saved_model": ("tfformats.graphs.read", "read_saved_model"),
    "write_graph_def": ("tfformats.graphs.read", "write_graph_def"),
    "freeze": ("tfformats.freezing.freezer", "freeze"),
    "freeze_saved_model": ("tfformats.freezing.freezer", "freeze_saved_model"),
    "FreezeResult": ("tfformats.freezing.freezer", "FreezeResult"),
    "FreezeWarning": ("tfformats.freezing.freezer", "FreezeWarning"),
    "save_checkpoint": ("tfformats.checkpoint.save", "save_checkpoint"),
    "BundleWriter": ("tfformats.bundle.writer", "BundleWriter"),
    "edit_checkpoint": ("tfformats.rewrite.edit", "edit_checkpoint"),
    "plan_edit": ("tfformats.rewrite.edit", "plan_edit"),
    "convert": ("tfformats.rewrite.export", "convert"),
    "export_npz": ("tfformats.rewrite.export", "export_npz"),
    "export_safetensors": ("tfformats.rewrite.export", "export_safetensors"),
    "load_npz": ("tfformats.rewrite.export", "load_npz"),
    "diff_checkpoints": ("tfformats.checkpoint.diff", "diff_checkpoints"),
    "verify_checkpoint": ("tfformats.checkpoint.verify", "verify_checkpoint"),
    "audit_path": ("tfformats.audit.front", "audit_path"),
    "write_saved_model": ("tfformats.serving.saved_model", "write_saved_model"),
    "run": ("tfformats.serving.run", "run"),
    "to_onnx": ("tfformats.onnx.convert", "to_onnx"),
}


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfformats' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"__version__"})


__all__ = [
    "BundleWriter", "CheckpointNotFoundError", "CheckpointReader", "ChecksumError", "FormatError", "FreezeResult",
    "FreezeWarning", "GraphError", "MissingShardError", "TFFormatsError", "TensorInfo", "TruncatedError",
    "UnsupportedError", "WrongFormatError", "audit_path", "convert", "diff_checkpoints", "dtypes", "edit_checkpoint",
    "export_npz", "export_safetensors", "freeze", "freeze_saved_model", "from_numpy", "latest_checkpoint",
    "list_variables", "load_checkpoint", "load_npz", "load_variable", "plan_edit", "proto", "read_graph_def",
    "read_meta_graph", "read_saved_model", "resolve_checkpoint", "run", "save_checkpoint", "to_numpy",
    "verify_checkpoint", "write_graph_def", "to_onnx", "write_saved_model",
]
