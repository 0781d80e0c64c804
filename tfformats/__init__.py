"""tfformats: read, write, freeze and audit TensorFlow files without TensorFlow.

Example:
    >>> import tfformats as tff
    >>> r = tff.load_checkpoint("train/model.ckpt-1000")
    >>> r.get_tensor("dense/kernel")
"""

from __future__ import annotations

from typing import Any

from .checkpoint import latest_checkpoint, list_variables, load_checkpoint, load_variable, resolve_checkpoint
from .checkpoint_reader import CheckpointReader, TensorInfo
from .errors import ChecksumError, FormatError, GraphError, MissingShardError, TFFormatsError, UnsupportedError
from .tensor_proto import from_numpy, to_numpy

__version__ = "0.1.0"

# Heavier parts load on first use so that `import tfformats` stays fast.
_LAZY = {
    "proto": ("tfformats.proto", None),
    "dtypes": ("tfformats.dtypes", None),
    "read_graph_def": ("tfformats.graphs.read", "read_graph_def"),
    "read_meta_graph": ("tfformats.graphs.read", "read_meta_graph"),
    "read_saved_model": ("tfformats.graphs.read", "read_saved_model"),
    "write_graph_def": ("tfformats.graphs.read", "write_graph_def"),
    "freeze": ("tfformats.freeze.freezer", "freeze"),
    "freeze_saved_model": ("tfformats.freeze.freezer", "freeze_saved_model"),
    "FreezeWarning": ("tfformats.freeze.freezer", "FreezeWarning"),
    "save_checkpoint": ("tfformats.save", "save_checkpoint"),
    "BundleWriter": ("tfformats.bundle.writer", "BundleWriter"),
    "edit_checkpoint": ("tfformats.edit", "edit_checkpoint"),
    "plan_edit": ("tfformats.edit", "plan_edit"),
    "convert": ("tfformats.export", "convert"),
    "export_npz": ("tfformats.export", "export_npz"),
    "export_safetensors": ("tfformats.export", "export_safetensors"),
    "load_npz": ("tfformats.export", "load_npz"),
    "diff_checkpoints": ("tfformats.diff", "diff_checkpoints"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfformats' has no attribute {name!r}")


__all__ = [
    "BundleWriter", "FreezeWarning", "convert", "diff_checkpoints", "edit_checkpoint", "export_npz",
    "export_safetensors", "load_npz", "plan_edit", "freeze", "freeze_saved_model", "read_graph_def", "read_meta_graph",
    "read_saved_model", "save_checkpoint", "write_graph_def", "proto", "dtypes",
    "CheckpointReader", "ChecksumError", "FormatError", "GraphError", "MissingShardError", "TFFormatsError",
    "TensorInfo", "UnsupportedError", "from_numpy", "latest_checkpoint", "list_variables", "load_checkpoint",
    "load_variable", "resolve_checkpoint", "to_numpy",
]
