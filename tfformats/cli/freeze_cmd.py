"""``tfformats freeze``: graph + checkpoint in, one self-contained frozen GraphDef out."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

COMMAND = "freeze"
HELP = "turn a graph's variables into constants (freeze_graph.py without TensorFlow)"
DESCRIPTION = """\
Prune a graph to what the output nodes need and replace every variable with a Const holding
its checkpoint value. Accepts the command lines of TensorFlow's freeze_graph.py unchanged.

freeze_graph.py flag          short form here
--input_graph G               GRAPH (positional)
--input_meta_graph M          GRAPH (a .meta; checkpoint keys then come from its Saver)
--input_binary                accepted and ignored: binary/text is found from the content
--input_checkpoint C          -c / --checkpoint C
--output_node_names a,b       --outputs a,b
--output_graph F              -o / --output F
--input_saved_model_dir D     --saved-model D  (or a SavedModel folder as GRAPH)
--saved_model_tags serve      --tag serve
--clear_devices[=true|false]  --keep-devices (same as --clear_devices=false)
--variable_names_whitelist    --keep a,b
--variable_names_blacklist    --skip a,b
--input_saver, --restore_op_name, --filename_tensor_name, --checkpoint_version: ignored

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", nargs="?", help="a .pb/.pbtxt GraphDef, a .meta, or a SavedModel folder")
    parser.add_argument("--input_graph", help="GraphDef file (freeze_graph.py)")
    parser.add_argument("--input_meta_graph", help="MetaGraphDef file (freeze_graph.py)")
    parser.add_argument("--input_binary", nargs="?", const=True, type=_bool, default=None,
                        help="ignored: the format is detected from the content")
    parser.add_argument("-c", "--checkpoint", "--input_checkpoint", dest="checkpoint",
                        help="checkpoint prefix, or a folder with a 'checkpoint' file")
    parser.add_argument("--outputs", "--output_node_names", dest="outputs",
                        help="comma-separated output node names (default for SavedModels: the signature's)")
    parser.add_argument("-o", "--output", "--output_graph", dest="output", help="where to write the frozen GraphDef")
    parser.add_argument("--saved-model", "--input_saved_model_dir", dest="saved_model", help="SavedModel folder")
    parser.add_argument("--tag", "--saved_model_tags", dest="tags", default="serve",
                        help="comma-separated tag set of the SavedModel meta graph (default serve)")
    parser.add_argument("--signature", default="serving_default", help="SavedModel signature (default serving_default)")
    parser.add_argument("--clear_devices", nargs="?", const=True, type=_bool, default=True,
                        help="clear device fields (default true)")
    parser.add_argument("--keep-devices", action="store_true", help="keep device fields")
    parser.add_argument("--keep", "--variable_names_whitelist", dest="keep",
                        help="comma-separated variables to freeze (others stay variables)")
    parser.add_argument("--skip", "--variable_names_blacklist", dest="skip",
                        help="comma-separated variables to leave as variables")
    parser.add_argument("--variable-map", action="append", type=_mapping, default=[], metavar="VAR=KEY",
                        help="read variable VAR from checkpoint key KEY (repeatable)")
    parser.add_argument("--use-ema", "--use_ema", dest="use_ema", action="store_true",
                        help="freeze each variable from its ExponentialMovingAverage when the checkpoint has one")
    parser.add_argument("--as-text", "--as_text", dest="as_text", action="store_true",
                        help="write text format (.pbtxt)")
    for ignored in ("--input_saver", "--restore_op_name", "--filename_tensor_name", "--checkpoint_version",
                    "--initializer_nodes"):
        parser.add_argument(ignored, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    from ..serving.check_cli import add_check_arguments

    add_check_arguments(parser)


def _source(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    """``(graph path, saved model dir)`` from the positional and freeze_graph-style flags."""
    saved_model = args.saved_model
    graph = args.input_meta_graph or args.graph or args.input_graph
    if saved_model is None and graph is not None and os.path.isdir(graph):
        saved_model, graph = graph, None
    return graph, saved_model


def run(args: argparse.Namespace) -> int:
    from ..freezing.freezer import freeze_graph_def, freeze_saved_model_report
    from ..graphs.read import write_graph_def
    from .output import human_bytes, print_json

    graph, saved_model = _source(args)
    if graph is None and saved_model is None:
        print("tfformats freeze: error: give a graph (.pb/.pbtxt/.meta) or --saved-model DIR", file=sys.stderr)
        return 2
    if not args.output:
        print("tfformats freeze: error: give the output file with -o/--output_graph", file=sys.stderr)
        return 2
    if args.initializer_nodes:
        print("tfformats freeze: warning: --initializer_nodes is ignored (no session runs here)", file=sys.stderr)
    options = dict(variable_map=dict(args.variable_map) or None, clear_devices=args.clear_devices and not
                   args.keep_devices, keep=args.keep, skip=args.skip, use_ema=args.use_ema)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zero-variables case is reported below
        if saved_model is not None:
            outputs = [o for o in (args.outputs or "").split(",") if o] or None
            result = freeze_saved_model_report(saved_model, [t for t in args.tags.split(",") if t], args.signature,
                                               output_nodes=outputs, **options)
            source: Optional[str] = saved_model
        else:
            if not args.checkpoint:
                print("tfformats freeze: error: give the checkpoint with -c/--input_checkpoint", file=sys.stderr)
                return 2
            if not args.outputs:
                print("tfformats freeze: error: give the output nodes with --outputs/--output_node_names",
                      file=sys.stderr)
                return 2
            result = freeze_graph_def(graph, args.checkpoint, args.outputs, warn=False, **options)
            source = graph
    write_graph_def(result.graph_def, args.output, as_text=args.as_text)
    size = os.path.getsize(args.output)
    warning = None
    if not result.frozen and result.variables_in_graph:
        warning = (f"froze 0 variables although the graph has {result.variables_in_graph}; "
                   "check the output node names and --keep/--skip")
    from ..serving.check_cli import run_check

    check_status, check = run_check(args, result, graph=graph, saved_model=saved_model)
    if args.json:
        print_json({"source": source, "output": args.output, "bytes": size, "nodes": len(result.graph_def.node),
                    "frozen": result.frozen, "kept": result.kept,
                    "keys": {v: s.key for v, s in result.sources.items()},
                    "variables_in_graph": result.variables_in_graph, "warning": warning,
                    **({"check": check} if check is not None else {})}, out=sys.stdout)
    else:
        kept = f", {len(result.kept)} left as variables" if result.kept else ""
        print(f"froze {len(result.frozen)} variable{'s' if len(result.frozen) != 1 else ''}{kept}: "
              f"{args.output} ({len(result.graph_def.node)} nodes, {human_bytes(size)})")
    if warning:
        print(f"tfformats freeze: warning: {warning}", file=sys.stderr)
    return check_status
