"""``tfformats freeze``: graph + checkpoint, or a SavedModel, in; one self-contained frozen GraphDef out."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any, Optional

from ..errors import ArgumentError, ModelNotFoundError

COMMAND = "freeze"
HELP = "turn a graph's variables into constants (freeze_graph.py without TensorFlow)"
DESCRIPTION = """\
Prune a graph to what the outputs need and replace every variable with a Const holding its
checkpoint value. Works on a GraphDef or .meta plus a checkpoint, on TF1 SavedModels and session
bundles, and on TF2 SavedModels (tf.saved_model.save, Keras export), whose signature calls are
inlined. Lookup tables the outputs use are kept with initializers that carry their data (vocabulary
files become constants); run the reported init node once before the outputs. Outputs that depend
on a variable write or a table freezing cannot reproduce are refused with an error naming them.

Accepts the command lines of TensorFlow's freeze_graph.py unchanged:

freeze_graph.py flag          here
--input_graph G               GRAPH (positional)
--input_meta_graph M          GRAPH (a .meta; checkpoint keys then come from its Saver)
--input_binary                accepted and ignored: binary/text is found from the content
--input_checkpoint C          -c / --checkpoint C
--output_node_names a,b       --outputs a,b  (TF2 SavedModels: signature output keys)
--output_graph F              -o / --output F
--input_saved_model_dir D     --saved-model D  (or a SavedModel folder as GRAPH)
--saved_model_tags serve      --tag serve
--clear_devices[=true|false]  --keep-devices (same as --clear_devices=false)
--variable_names_whitelist    --keep a,b
--variable_names_blacklist    --skip a,b
--initializer_nodes           not needed: tables are rebuilt and their init node is reported
--input_saver, --restore_op_name, --filename_tensor_name, --checkpoint_version: ignored

List flags (--outputs, --keep, --skip, --tag) take comma-separated names and may be repeated.

examples:
  tfformats freeze model.ckpt-1000.meta -c model.ckpt-1000 --outputs softmax -o frozen.pb
  tfformats freeze --saved-model export/1 --tag serve --signature serving_default -o frozen.pb
  tfformats freeze --input_graph=graph.pbtxt --input_checkpoint=ckpt --output_node_names=out \\
      --output_graph=frozen.pb
"""


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes", "y"):
        return True
    if value in ("0", "false", "f", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _mapping(text: str) -> tuple[str, str]:
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError(f"expected VARIABLE=KEY, not {text!r}")
    return name, key


def _names(values: Optional[list[str]]) -> Optional[list[str]]:
    """Names from repeated, comma-separated list flags; None when the flag was not given."""
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", nargs="?", help="a .pb/.pbtxt GraphDef, a .meta, or a SavedModel folder")
    parser.add_argument("--input-graph", "--input_graph", dest="input_graph", help="GraphDef file (freeze_graph.py)")
    parser.add_argument("--input-meta-graph", "--input_meta_graph", dest="input_meta_graph",
                        help="MetaGraphDef file (freeze_graph.py)")
    parser.add_argument("--input-binary", "--input_binary", dest="input_binary", nargs="?", const=True, type=_bool,
                        default=None, help="ignored: the format is detected from the content")
    parser.add_argument("-c", "--checkpoint", "--input-checkpoint", "--input_checkpoint", dest="checkpoint",
                        help="checkpoint prefix, or a folder with a 'checkpoint' file")
    parser.add_argument("--outputs", "--output-node-names", "--output_node_names", dest="outputs",
                        action="append", metavar="NAMES",
                        help="output node names (TF2 SavedModels: signature output keys); default for "
                             "SavedModels: every output of the signature")
    parser.add_argument("-o", "--output", "--output-graph", "--output_graph", dest="output",
                        help="where to write the frozen GraphDef")
    parser.add_argument("--saved-model", "--input-saved-model-dir", "--input_saved_model_dir", dest="saved_model",
                        help="SavedModel folder")
    parser.add_argument("--tag", "--saved-model-tags", "--saved_model_tags", dest="tags", action="append",
                        metavar="TAGS", help="tag set of the SavedModel meta graph (default serve)")
    parser.add_argument("--signature", default="serving_default",
                        help="SavedModel signature (default serving_default)")
    parser.add_argument("--clear-devices", "--clear_devices", dest="clear_devices", nargs="?", const=True,
                        type=_bool, default=True, help="clear device fields (default true)")
    parser.add_argument("--keep-devices", action="store_true", help="keep device fields")
    parser.add_argument("--keep", "--variable-names-whitelist", "--variable_names_whitelist", dest="keep",
                        action="append", metavar="NAMES", help="variables to freeze (others stay variables)")
    parser.add_argument("--skip", "--variable-names-blacklist", "--variable_names_blacklist", dest="skip",
                        action="append", metavar="NAMES", help="variables to leave as variables")
    parser.add_argument("--variable-map", "--variable_map", dest="variable_map", action="append", type=_mapping,
                        default=[], metavar="VAR=KEY", help="read variable VAR from checkpoint key KEY (repeatable)")
    parser.add_argument("--use-ema", "--use_ema", dest="use_ema", action="store_true",
                        help="freeze each variable from its ExponentialMovingAverage in the checkpoint")
    parser.add_argument("--as-text", "--as_text", dest="as_text", action="store_true",
                        help="write text format (.pbtxt)")
    parser.add_argument("--initializer-nodes", "--initializer_nodes", dest="initializer_nodes",
                        help=argparse.SUPPRESS)
    for ignored in ("--input_saver", "--restore_op_name", "--filename_tensor_name", "--checkpoint_version"):
        parser.add_argument(ignored, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    from ..serving.check_cli import add_check_arguments

    add_check_arguments(parser)


def _remote_folder(path: str, args: argparse.Namespace) -> bool:
    from .._io import fs
    from .._io.source import is_url

    return is_url(path) and (path.endswith("/") or fs.isdir(path, storage_options=args.storage_options))


def _source(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """``(graph path, saved model dir)`` from the positional and freeze_graph-style flags."""
    saved_model = args.saved_model
    graph = args.input_meta_graph or args.graph or args.input_graph
    if saved_model is None and graph is not None and (os.path.isdir(graph) or _remote_folder(graph, args)):
        saved_model, graph = graph, None
    for path in (graph, saved_model):
        if path is not None and "://" not in path and not os.path.exists(path):
            raise ModelNotFoundError(missing_reason(path), path)
    return graph, saved_model


def missing_reason(path: str) -> str:
    """Why ``path`` does not exist: no such entry, or a parent that is a file."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return "a parent of this path is a file, not a folder" if os.path.isfile(parent) else "no such file or folder"


def _freeze(args: argparse.Namespace) -> tuple[Any, str]:
    """Freeze what the arguments name; returns the FreezeResult and the source path."""
    from ..freezing.freezer import freeze_graph_def, freeze_saved_model_report

    graph, saved_model = _source(args)
    if graph is None and saved_model is None:
        raise ArgumentError("give a graph (.pb/.pbtxt/.meta) or --saved-model DIR")
    if not args.output:
        raise ArgumentError("give the output file with -o/--output (freeze_graph.py: --output_graph)")
    options: dict[str, Any] = dict(variable_map=dict(args.variable_map) or None,
                                   clear_devices=args.clear_devices and not args.keep_devices,
                                   keep=_names(args.keep), skip=_names(args.skip), use_ema=args.use_ema,
                                   storage_options=args.storage_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zero-variables case is reported below
        if saved_model is not None:
            tags = _names(args.tags) or ["serve"]
            return freeze_saved_model_report(saved_model, tags, args.signature,
                                             output_nodes=_names(args.outputs), **options), saved_model
        if graph is None or not args.checkpoint:
            raise ArgumentError("give the checkpoint with -c/--checkpoint (freeze_graph.py: --input_checkpoint)")
        if not _names(args.outputs):
            raise ArgumentError("give the output nodes with --outputs (freeze_graph.py: --output_node_names)")
        return freeze_graph_def(graph, args.checkpoint, _names(args.outputs) or [], warn=False, **options), graph


def _report(result: Any, source: str, output: str, size: int, warning: Optional[str]) -> dict[str, Any]:
    return {"source": source, "output": output, "bytes": size, "nodes": len(result.graph_def.node),
            "frozen": result.frozen, "kept": result.kept, "keys": {v: s.key for v, s in result.sources.items()},
            "variables_in_graph": result.variables_in_graph, "inputs": result.inputs, "outputs": result.outputs,
            "initializer": result.initializer,
            "tables": [{"table": t.table, "initializer": t.initializer, "source": t.source} for t in result.tables],
            "warning": warning}


def run(args: argparse.Namespace) -> int:
    from ..graphs.read import write_graph_def
    from .output import human_bytes, print_json

    result, source = _freeze(args)
    write_graph_def(result.graph_def, args.output, as_text=args.as_text, storage_options=args.storage_options)
    from .._io import fs

    found = fs.info(args.output, storage_options=args.storage_options)
    size = int(found.get("size") or 0) if found is not None else 0
    warnings_out = []
    if not result.frozen and result.variables_in_graph:
        warnings_out.append(f"froze 0 variables although the graph has {result.variables_in_graph}; "
                            "check the output node names and --keep/--skip")
    if args.initializer_nodes:
        warnings_out.append("--initializer_nodes is not needed: lookup tables are rebuilt"
                            + (f"; run {result.initializer!r} once before the outputs" if result.initializer
                               else " (this graph uses none)"))
    warning = "; ".join(warnings_out) or None
    from ..serving.check_cli import run_check

    check_status, check = run_check(args, result, *_source(args))
    if args.json:
        print_json({**_report(result, source, args.output, size, warning), **({"check": check} if check else {})},
                   out=sys.stdout)
    else:
        kept = f", {len(result.kept)} left as variables" if result.kept else ""
        print(f"froze {len(result.frozen)} variable{'s' if len(result.frozen) != 1 else ''}{kept}: "
              f"{args.output} ({len(result.graph_def.node)} nodes, {human_bytes(size)})")
        if result.initializer:
            print(f"lookup tables: run {result.initializer!r} once before the outputs "
                  f"({len(result.tables)} table{'s' if len(result.tables) != 1 else ''})")
    for text in warnings_out:
        print(f"tfformats freeze: warning: {text}", file=sys.stderr)
    return check_status
