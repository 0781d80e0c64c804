"""The package's layers: no module imports from a layer above its own, and no private name crosses a package.

Layers, bottom to top (a module may import its own package and anything in a lower layer):
  errors      errors (every exception tfformats raises)
  base        _wire, shapes, checksums, dtypes, proto
  io          _io (every byte read or written; the seam for remote storage)
  formats     table, tensor_proto
  interface   checkpoint.interface, checkpoint.object_graph (what readers implement, the TF2 object graph)
  bundle      bundle (TensorBundle V2 reader and writer)
  checkpoint  checkpoint (front door, state file, V1, save, verify, diff, statistics)
  graphs      graphs (reading, names, pruning, inlining, op registry)
  operations  rewrite, freezing, audit
  onnx        onnx (frozen graphs to ONNX)
  outputs     serving (running and re-exporting), batch (many models at once)
  cli         cli, then __main__
The package's ``__init__`` re-exports the public API and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tfformats"

LAYERS = [
    {"errors"},
    {"_json"},
    {"_wire", "shapes", "checksums", "dtypes", "proto"},
    {"_io"},
    {"table", "tensor_proto"},
    {"checkpoint.interface", "checkpoint.object_graph"},
    {"bundle"},
    {"checkpoint"},
    {"graphs"},
    {"rewrite", "freezing", "audit"},
    {"onnx"},
    {"serving", "batch"},
    {"cli"},
    {"__main__"},
]


def _unit(module: str) -> str:
    """The layer unit of a dotted module name below tfformats (``checkpoint.interface``, ``bundle``...)."""
    parts = module.split(".")
    if ".".join(parts[:2]) in {u for layer in LAYERS for u in layer}:
        return ".".join(parts[:2])
    return parts[0]


def _rank(unit: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    raise AssertionError(f"module unit {unit!r} is in no layer: add it to LAYERS in {__file__}")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out.append((".".join(parts), path))
    return out


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module below tfformats, imported names, line)`` of every import in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("tfformats."):
                target = node.module[len("tfformats."):]
            else:
                continue
            names = [a.name for a in node.names]
            if not target:  # "from . import x" at the top: x is a module, or a name of __init__
                for name in names:
                    if (ROOT / name).is_dir() or (ROOT / f"{name}.py").exists():
                        found.append((name, [], node.lineno))
            else:
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tfformats."):
                    found.append((alias.name[len("tfformats."):], [], node.lineno))
    return found


MODULES = _modules()


def _private_attributes() -> dict[str, set[str]]:
    """Per top-level package: the ``self._name`` attributes its classes define."""
    out: dict[str, set[str]] = {}
    for module, path in MODULES:
        names = out.setdefault(module.split(".")[0], set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                    and node.attr.startswith("_") and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return out


_PRIVATE_ATTRIBUTES = _private_attributes()


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_module_imports_from_a_layer_above_its_own(module: str, path: Path) -> None:
    unit = _unit(module)
    rank = _rank(unit)
    for target, names, line in _imports(module, path):
        targets = [target] + [f"{target}.{n}" for n in names if (ROOT / target.replace(".", "/") / n).exists()
                              or (ROOT / target.replace(".", "/") / f"{n}.py").exists()]
        for t in targets:
            other = _unit(t)
            if other == unit or other.split(".")[0] == unit.split(".")[0] and _rank(other) <= rank:
                continue
            assert _rank(other) < rank, f"{path.relative_to(ROOT.parent)}:{line}: {module} ({unit}) imports {t}"


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_private_name_is_used_outside_its_package(module: str, path: Path) -> None:
    package = module.split(".")[0]
    for target, names, line in _imports(module, path):
        if target.split(".")[0] == package:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{path.relative_to(ROOT.parent)}:{line}: imports private {private} from {target}"
    # Attribute access like reader._table on objects of other packages.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local_modules = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and node.level == 1 for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and (owner.id in ("self", "cls") or owner.id in local_modules):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            if node.attr in _PROTOBUF_OR_STDLIB or node.attr in _PRIVATE_ATTRIBUTES.get(package, set()):
                continue  # private to this package: its own business
            pytest.fail(f"{path.relative_to(ROOT.parent)}:{node.lineno}: uses private attribute {node.attr!r} "
                        f"of {ast.unparse(owner)}")


# Underscore names that belong to other libraries' public protocols, not to tfformats' private parts.
_PROTOBUF_OR_STDLIB = {"_make", "_asdict", "_replace", "_fields", "_exit", "_getframe"}
