"""Command line: ``python -m training {finetune, export, pretrain <method>, probe} ...``.

Options are generated from the config dataclasses (``--field-name`` per field, lists
comma-separated, booleans as ``--flag/--no-flag``), so a field a method adds to its config
is on the command line without touching this file. Every command also runs under
``torchrun --nproc_per_node N python -m training ...``; only rank 0 prints and writes.

Ctrl-C once asks the run to stop cleanly (the checkpoint reached so far is saved); a
second Ctrl-C aborts at once. SIGTERM removes the run's temporary files and exits with
143 (docs/safety.md); no output may be an input or another output (checked first).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from typing import Any, Sequence

from engine.progress import Cancelled, RunFeedback
from training.config import list_item_type, parse_field_value

EXIT_ERROR = 2
EXIT_CANCELLED = 130


# ----------------------------------------------------------------------------- dataclass -> options
def _text_parser(cls: type, name: str):
    """The ``type=`` of field ``name``'s option: the shared text rule, its message shown as is."""

    def parse(text: str):
        try:
            return parse_field_value(cls, name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type, skip: Sequence[str] = ()) -> list[str]:
    """One ``--field-name`` option per field of ``cls``; returns the field names exposed."""
    defaults = cls()
    exposed = []
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        help_text = f"(default: {default!r})"
        if isinstance(default, bool):
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=default,
                                help=help_text)
        elif isinstance(default, (int, float, str)):
            parser.add_argument(flag, dest=field.name, type=_text_parser(cls, field.name), default=default,
                                help=help_text)
        elif isinstance(default, (list, tuple)):
            if list_item_type(field, default) is None:
                continue
            parser.add_argument(flag, dest=field.name, type=_text_parser(cls, field.name),
                                default=list(default), help=f"comma-separated {help_text}")
        else:
            continue
        exposed.append(field.name)
    return exposed


def config_from_args(cls: type, args: argparse.Namespace, names: Sequence[str], **overrides: Any):
    """The config dataclass from the parsed options; ``overrides`` set fields the options do not."""
    values = {name: getattr(args, name) for name in names}
    values.update(overrides)
    return cls(**values)


# ----------------------------------------------------------------------------- feedback
def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def cli_feedback() -> RunFeedback:
    """Log lines on rank 0 only; Ctrl-C sets the cancel flag the training loops poll."""
    requested = {"stop": False}

    def on_sigint(signum, frame):
        if requested["stop"]:
            raise KeyboardInterrupt
        requested["stop"] = True
        print("stopping after the current step (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not in the main thread (e.g. called from tests in a thread)
        pass
    last = {"percent": -10.0}

    def progress(percent: float) -> None:
        if _rank() == 0 and (percent - last["percent"] >= 10 or percent >= 100 > last["percent"]):
            last["percent"] = percent
            print(f"{percent:5.1f}%", file=sys.stderr, flush=True)

    def log(message: str) -> None:
        if _rank() == 0:
            print(message, file=sys.stderr, flush=True)

    return RunFeedback(progress=progress, log=log, is_cancelled=lambda: requested["stop"])


# ----------------------------------------------------------------------------- commands
FINETUNE_SKIP = ("class_names", "class_colors")


def _finetune_parser(sub) -> None:
    from training.finetune_config import FinetuneConfig

    p = sub.add_parser(
        "finetune", help="supervised fine-tuning on labelled rasters",
        description="Fine-tune a segmentation network on image/label raster pairs and save the best checkpoint "
                    "(by validation mIoU on held-out spatial blocks).",
    )
    names = add_dataclass_options(p, FinetuneConfig, skip=FINETUNE_SKIP)
    p.add_argument("--classes", default="", help="class names and optional colours: 'water:#0000ff,trees,roads'")
    p.add_argument("--output", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--resume", dest="resume", action=argparse.BooleanOptionalAction, default=False,
                   help="continue from <output>.last.pt if it exists (default: start over, as pretraining and "
                        "the Processing algorithms do)")
    p.add_argument("--export", default="", help="also export the best model to this ONNX file")
    p.set_defaults(handler=_run_finetune, field_names=names)


def _run_finetune(args: argparse.Namespace, feedback: RunFeedback) -> int:
    from training.finetune import finetune
    from training.finetune_config import FinetuneConfig, parse_classes

    names, colors = parse_classes(args.classes)
    config = config_from_args(FinetuneConfig, args, args.field_names, class_names=names, class_colors=colors)
    result = finetune(config, args.output, feedback=feedback, resume=args.resume)
    if args.export and _rank() == 0:
        from training.export import export_checkpoint

        export_checkpoint(result.checkpoint, args.export, feedback=feedback)
    if _rank() == 0:
        from training.checkpoint import explain_resume_state

        explain_resume_state(args.output, feedback.log, config.steps)
    return 0


def _export_parser(sub) -> None:
    p = sub.add_parser("export", help="export a fine-tuned checkpoint to ONNX (checked against torch)")
    p.add_argument("checkpoint", help="fine-tuned checkpoint (.pt)")
    p.add_argument("output", help="ONNX file to write")
    p.add_argument("--tile-size", type=int, default=None, help="tile edge in pixels stored in the model card")
    p.add_argument("--overlap", type=float, default=None, help="tile overlap in percent stored in the model card")
    p.add_argument("--int8", action="store_true",
                   help="write an int8 model (static QDQ), calibrated and checked against fp32 on real patches")
    p.add_argument("--calibration", default="",
                   help="comma-separated rasters to calibrate int8 on (default: the checkpoint's training rasters)")
    p.add_argument("--fp16", action="store_true",
                   help="write a half-precision model for GPUs (inputs and outputs stay float32)")
    p.add_argument("--fixed-shape", action="store_true",
                   help="fix the input's height and width to the tile size (batch stays dynamic): "
                        "the form the Deepness plugin loads")
    p.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace, feedback: RunFeedback) -> int:
    from training.export import export_checkpoint

    if _rank() == 0:
        export_checkpoint(args.checkpoint, args.output, tile_size=args.tile_size, overlap_percent=args.overlap,
                          feedback=feedback, int8=args.int8, fp16=args.fp16, fixed_shape=args.fixed_shape,
                          calibration=[p.strip() for p in args.calibration.split(",") if p.strip()])
    return 0


def _pretrain_parser(sub) -> None:
    from training.methods import CONFIGS, config_class

    p = sub.add_parser("pretrain", help="self-supervised pretraining on unlabeled rasters")
    methods = p.add_subparsers(dest="method", metavar="<method>", required=True)
    for name in CONFIGS:
        try:
            cls = config_class(name)
        except Exception as exc:  # noqa: BLE001 - a method not installed must not break the others
            methods.add_parser(name, help=f"(unavailable: {type(exc).__name__}: {exc})").set_defaults(
                handler=_unavailable, error=f"pretraining method {name} is unavailable: {exc}")
            continue
        doc = (cls.__doc__ or "").strip().splitlines()
        mp = methods.add_parser(name, help=doc[0] if doc else name, description=(cls.__doc__ or "").strip())
        names = add_dataclass_options(mp, cls)
        mp.add_argument("--output", required=True, help="checkpoint to write (.pt)")
        mp.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                        help="continue from --output if it holds a checkpoint of this method (default: start over, "
                             "as fine-tuning and the Processing algorithms do)")
        mp.set_defaults(handler=_run_pretrain, field_names=names, config_cls=cls)


def _unavailable(args: argparse.Namespace, feedback: RunFeedback) -> int:
    raise ValueError(args.error)


def _run_pretrain(args: argparse.Namespace, feedback: RunFeedback) -> int:
    from training.methods import pretrain

    config = config_from_args(args.config_cls, args, args.field_names)
    pretrain(args.method, config, args.output, feedback=feedback, resume=args.resume)
    return 0


def _probe_parser(sub) -> None:
    from training.probe import ProbeConfig

    p = sub.add_parser(
        "probe", help="linear probe of a checkpoint's frozen features vs the same network at random init",
        description="Fit a linear pixel classifier on frozen features of --checkpoint and of the same network at "
                    "random init (BatchNorm recalibrated), score mIoU on the test images, paired over seeds. "
                    "Prints the result as JSON.",
    )
    names = add_dataclass_options(p, ProbeConfig)
    p.add_argument("--output-html", default="", help="HTML report to write")
    p.add_argument("--output-json", default="", help="JSON report to write")
    p.set_defaults(handler=_run_probe, field_names=names)


def _run_probe(args: argparse.Namespace, feedback: RunFeedback) -> int:
    import json

    from training.probe import ProbeConfig, run_probe
    from training.probe_report import write_probe_report

    result = run_probe(config_from_args(ProbeConfig, args, args.field_names), feedback=feedback)
    write_probe_report(result, args.output_html or None, args.output_json or None)
    summary = {k: v for k, v in result.to_json().items() if k != "config"}
    print(json.dumps(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m training`` parser with every command."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="rsseg training: self-supervised pretraining, supervised fine-tuning, ONNX export and the "
                    "linear probe. "
                    "Runs under 'torchrun --nproc_per_node N' too.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    _pretrain_parser(sub)
    _finetune_parser(sub)
    _export_parser(sub)
    _probe_parser(sub)
    return parser


def run_paths(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, outputs) of a command, by option name, for :func:`engine.safeguards.check_outputs_distinct`."""
    if args.command == "finetune":
        inputs = {"--images": args.images, "--labels": args.labels, "--pretrained": args.pretrained}
        outputs = {"--output": args.output, "--export": args.export,
                   "--output (its .last.pt)": args.output + ".last.pt",
                   "--output (its .best.pt)": args.output + ".best.pt"}
        return inputs, outputs
    if args.command == "export":
        calibration = [p.strip() for p in getattr(args, "calibration", "").split(",") if p.strip()]
        return {"checkpoint": args.checkpoint, "--calibration": calibration}, {"output": args.output}
    if args.command == "pretrain" and hasattr(args, "inputs"):
        return {"--inputs": args.inputs}, {"--output": args.output}
    if args.command == "probe":
        inputs = {"--checkpoint": args.checkpoint, "--images": args.images, "--labels": args.labels,
                  "--test-images": args.test_images, "--test-labels": args.test_labels}
        return inputs, {"--output-html": args.output_html, "--output-json": args.output_json}
    return {}, {}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m training``; returns the exit status (0, 2 for bad input, 130 when cancelled)."""
    from engine.run_scope import RunScope
    from engine.safeguards import check_outputs_distinct, check_outputs_writable

    args = build_parser().parse_args(argv)
    feedback = cli_feedback()
    try:
        inputs, outputs = run_paths(args)
        check_outputs_distinct(inputs, outputs)
        check_outputs_writable(outputs)
        with RunScope():
            return args.handler(args, feedback)
    except Cancelled:
        feedback.log("cancelled; the last checkpoint was kept")
        return EXIT_CANCELLED
    except ValueError as exc:  # our messages name the option and the fix
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except OSError as exc:  # disk full, no permission: the file and the reason, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
