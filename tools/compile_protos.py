"""Compile protos/ into tfformats/proto/descriptors.bin.

The output is a serialized FileDescriptorSet holding every schema under
``protos/`` plus the ``google/protobuf`` files they import. It carries no
source info, and the input list is sorted, so the same schemas always give
the same bytes. ``--check`` recompiles into a temporary file and exits with
status 1 when the committed file is stale.

Needs ``grpcio-tools`` (it ships protoc and the well-known types); users of
the package never run this.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"
OUTPUT = REPO / "tfformats" / "proto" / "descriptors.bin"


def proto_files(root: Path = PROTO_ROOT) -> list[str]:
    """Return every .proto under root as sorted, root-relative POSIX paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))


def compile_descriptor_set(root: Path = PROTO_ROOT) -> bytes:
    """Run protoc over root and return the serialized FileDescriptorSet."""
    from importlib import resources

    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    files = proto_files(root)
    if not files:
        raise SystemExit(f"no .proto files under {root}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "descriptors.bin"
        args = [
            "protoc",
            f"--proto_path={root}",
            f"--proto_path={well_known}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            *files,
        ]
        status = protoc.main(args)
        if status != 0:
            raise SystemExit(f"protoc failed with status {status}")
        return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed descriptors.bin is stale",
    )
    args = parser.parse_args(argv)
    fresh = compile_descriptor_set()
    if args.check:
        current = OUTPUT.read_bytes() if OUTPUT.exists() else b""
        if current != fresh:
            print(f"{OUTPUT.relative_to(REPO)} is stale; run tools/compile_protos.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(REPO)} is up to date")
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(fresh)
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(fresh)} bytes, {len(proto_files())} schemas)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
