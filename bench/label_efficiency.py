"""Label efficiency of self-supervised pretraining, on real aerial imagery (Dubai).

Question: with 5 %, 20 % or 100 % of the labels, how much test mIoU does each pretraining
method buy over training from scratch?

Data: ``../shared/data/dubai_aerial/geotiff`` (54 RGB image/label pairs from 6 tiles, 5
classes + 255 ignore). The split is by TILE so no test pixel's neighbourhood is seen in
training: train tiles 1, 3, 4, 5, 7 (no validation split by default: the last epoch is tested),
test tile 2 (the smallest tile with every
class in good numbers). Pretraining uses ALL 54 images, labels unused, as a user would
pretrain on all the imagery they have.

Rows: DeepLabV3+ (ResNet-18) from scratch; DeepLabV3+ from each GraSS / SDCluster
checkpoint; HRNet from scratch and Diff-HRNet from the diffusion checkpoint (the fair
baseline for the diffusion row is HRNet, its own architecture). Each cell is the mean and
spread over seeds (the seed draws both the labelled subset and the initialisation).

Test mIoU is measured as a user would get it: the fine-tuned checkpoint is exported to
ONNX (training.export), the test images are segmented whole with engine.segment, and the
confusion matrices of engine.evaluate are summed over the test images (mIoU over the
pooled test pixels, classes present in the reference).

    PYTHONPATH=. .venv/bin/python bench/label_efficiency.py            # default (~90 min on 2 free CPU cores, estimated)
    PYTHONPATH=. .venv/bin/python bench/label_efficiency.py --quick    # smoke run (~10 min)
    ... --methods grass,sdcluster --fractions 0.05,1 --seeds 0,1,2 --epochs 20 --device cuda

Prints a JSON table and writes docs/results.md (``--no-docs`` to skip).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from dubai_split import CLASS_COLORS, CLASS_NAMES, DATA, TEST_TILES, TRAIN_TILES, tile_pairs  # noqa: E402

ALL_METHODS = ("grass", "sdcluster", "diffusion")


@dataclass
class Settings:
    """Everything that decides the numbers; saved beside them."""

    fractions: list[float] = field(default_factory=lambda: [0.05, 0.2, 1.0])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    methods: list[str] = field(default_factory=lambda: list(ALL_METHODS))
    epochs: int = 8                      # 8 x 96 / 8 = 96 steps: ~1 s each at 128 px on 2 free cores
    patches_per_epoch: int = 96
    patch_size: int = 128
    batch_size: int = 8
    learning_rate: float = 1e-3
    split_block_size: int = 512
    val_fraction: float = 0.0            # 0: no model selection, the last epoch is tested
    pretrain_epochs: int = 2
    pretrain_patches: int = 256          # per epoch
    pretrain_patch_size: int = 128
    diffusion_patch_size: int = 64
    pretrain_batch_size: int = 16
    test_images: int = 0                 # 0 = every image of the test tiles
    train_images_per_tile: int = 0       # 0 = every image of the training tiles
    device: str = "cpu"
    threads: int = 2
    method_overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # --set METHOD.FIELD=VALUE
    mode: str = "default"


QUICK = dict(epochs=2, patches_per_epoch=48, patch_size=64, pretrain_epochs=1, pretrain_patches=48,
             pretrain_patch_size=64, diffusion_patch_size=32, pretrain_batch_size=8, test_images=2, train_images_per_tile=2,
             split_block_size=256, mode="quick")


# ----------------------------------------------------------------------------- data
def available_methods(requested: list[str]) -> list[str]:
    """Methods whose module imports (a method still being written is skipped, said so)."""
    from training.methods import METHODS

    ok = []
    for name in requested:
        if name not in METHODS:
            raise SystemExit(f"--methods: unknown method {name!r}; known: {', '.join(METHODS)}")
        try:
            importlib.import_module(METHODS[name])
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            log(f"method {name} skipped: its module does not import ({type(exc).__name__}: {exc})")
            continue
        ok.append(name)
    return ok


# ----------------------------------------------------------------------------- steps
STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.0f}s] {message}", file=sys.stderr, flush=True)


def quiet_feedback(path: Path):
    """A RunFeedback that writes the job's log lines to ``path`` instead of the terminal."""
    from engine.progress import RunFeedback

    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a", encoding="utf-8")
    return RunFeedback(log=lambda m: (handle.write(m + "\n"), handle.flush()))


def pretrain(name: str, images: list[str], s: Settings, work: Path) -> Path:
    from training.methods import config_class
    from training.methods import pretrain as run

    cls = config_class(name)
    values = dict(inputs=images, epochs=s.pretrain_epochs, patches_per_epoch=s.pretrain_patches,
                  batch_size=s.pretrain_batch_size, device=s.device, seed=0,
                  patch_size=s.diffusion_patch_size if name == "diffusion" else s.pretrain_patch_size)
    names = {f.name for f in dataclasses.fields(cls)}
    if name != "diffusion" and "backbone" in names:
        values["backbone"] = "resnet18"
    if "warmup_epochs" in names:  # GraSS: SimCLR warm-up epochs, then gradient-guided ones
        values["warmup_epochs"] = min(cls().warmup_epochs, max(0, s.pretrain_epochs - 1))
    for key, text in s.method_overrides.get(name, {}).items():
        if key not in names:
            raise SystemExit(f"--set {name}.{key}: {cls.__name__} has no field {key!r}")
        values[key] = _typed_like(getattr(cls(), key), text)
    config = cls(**{k: v for k, v in values.items() if k in names})
    output = work / f"pretrain_{name}.pt"
    started = time.monotonic()
    result = run(name, config, output, feedback=quiet_feedback(work / "logs" / f"pretrain_{name}.log"), resume=False)
    log(f"pretrained {name} in {time.monotonic() - started:.0f} s -> {result.checkpoint}")
    return Path(result.checkpoint)


def _typed_like(default, text: str):
    """Convert a --set value to the type of the config field's default."""
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, (int, float)):
        return type(default)(text)
    if isinstance(default, list):
        return [type(default[0])(v) if default else float(v) for v in text.split(",")]
    return text


def finetune_and_test(architecture: str, pretrained: str, fraction: float, seed: int, s: Settings, work: Path,
                      train: tuple[list[str], list[str]], test: tuple[list[str], list[str]], tag: str) -> float:
    """Fine-tune, export to ONNX, segment the test images, pooled test mIoU."""
    from engine.evaluate import evaluate_rasters
    from engine.metrics import scores_from_confusion
    from engine.segment import segment_raster
    from training.export import export_checkpoint
    from training.finetune import finetune
    from training.finetune_config import FinetuneConfig

    run_dir = work / "runs" / f"{tag}_f{fraction:g}_s{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    feedback = quiet_feedback(run_dir / "log.txt")
    config = FinetuneConfig(
        images=train[0], labels=train[1], class_names=CLASS_NAMES, class_colors=CLASS_COLORS,
        architecture=architecture, backbone="resnet18", pretrained=pretrained, epochs=s.epochs,
        batch_size=s.batch_size, patch_size=s.patch_size, patches_per_epoch=s.patches_per_epoch,
        learning_rate=s.learning_rate, label_fraction=fraction, split_block_size=s.split_block_size,
        val_fraction=s.val_fraction,
        seed=seed, device=s.device, num_workers=0,
    )
    checkpoint = run_dir / "model.pt"
    started = time.monotonic()
    finetune(config, checkpoint, feedback=feedback)
    trained = time.monotonic()
    onnx_path = export_checkpoint(checkpoint, run_dir / "model.onnx", feedback=feedback)
    exported = time.monotonic()
    total = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    for image, label in zip(*test):
        prediction = run_dir / (Path(image).stem + "_classes.tif")
        segment_raster(image, str(onnx_path), str(prediction), device=s.device, threads=s.threads, feedback=feedback)
        cm = evaluate_rasters(prediction, label, None, None, feedback=feedback).confusion
        n = min(cm.shape[0], total.shape[0])
        total[:n, :n] += cm[:n, :n]
        prediction.unlink()
    feedback.log(f"timing: fine-tuning {trained - started:.1f} s, export {exported - trained:.1f} s, "
                 f"test {time.monotonic() - exported:.1f} s")
    return float(scores_from_confusion(total)["miou"])


# ----------------------------------------------------------------------------- table
def summarise(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "runs": [round(v, 4) for v in values],
    }


def rows_for(methods: list[str], checkpoints: dict[str, Path]) -> list[tuple[str, str, str]]:
    """(row name, architecture, pretrained checkpoint) in table order."""
    rows = [("deeplabv3plus from scratch", "deeplabv3plus", "")]
    for name in ("grass", "sdcluster"):
        if name in methods:
            rows.append((f"deeplabv3plus from {name}", "deeplabv3plus", str(checkpoints[name])))
    if "diffusion" in methods:
        rows.append(("hrnet from scratch", "hrnet", ""))
        rows.append(("diff_hrnet from diffusion", "diff_hrnet", str(checkpoints["diffusion"])))
    return rows


PAGE_HEAD = """# Results: label efficiency on real aerial imagery (Dubai)

How much does self-supervised pretraining help when labels are scarce? Each section below
is written by `bench/label_efficiency.py` (one section per mode; a new run of a mode
replaces its section). Protocol: the docstring of the script and each section's notes.
Test mIoU (%) is the mean ± standard deviation over seeds.
"""


def section_marks(mode: str) -> tuple[str, str]:
    return f"<!-- label_efficiency:{mode} -->", f"<!-- /label_efficiency:{mode} -->"


def update_page(page: str, mode: str, section: str) -> str:
    """``page`` with the section of ``mode`` replaced (or appended): other modes' records stay."""
    start, end = section_marks(mode)
    block = f"{start}\n{section.strip()}\n{end}\n"
    if not page.strip():
        page = PAGE_HEAD
    if start in page and end in page:
        before, rest = page.split(start, 1)
        return before + block + rest.split(end, 1)[1].lstrip("\n")
    return page.rstrip("\n") + "\n\n" + block


def markdown(result: dict, command: str) -> str:
    """The section of one run: command, wall time, table, protocol, failures."""
    s = result["settings"]
    fractions = s["fractions"]
    head = "| model | " + " | ".join(f"{100 * f:g} % labels" for f in fractions) + " |"
    lines = [head, "|---|" + "---|" * len(fractions)]
    for row, cells in result["table"].items():
        text = []
        for f in fractions:
            c = cells.get(f"{f:g}")
            text.append("failed" if c is None else f"{100 * c['mean']:.1f} ± {100 * c['std']:.1f}")
        lines.append(f"| {row} | " + " | ".join(text) + " |")
    mode = s["mode"]
    changed = s.get("method_overrides") or {}
    overrides = "".join(f", {m}: " + ", ".join(f"{k}={v}" for k, v in kv.items()) for m, kv in changed.items())
    overrides = f" except{overrides[1:]}" if overrides else ""
    warning = (
        "\n**Quick mode**: a smoke test of the benchmark (tiny pretraining and fine-tuning, "
        f"{s['train_images_per_tile']} training images per tile, {s['test_images']} test images). Its numbers "
        "show that the pipeline runs end to end; the runs are far too short to rank the methods.\n"
        if mode.startswith("quick") else ""
    )
    failures = "".join(f"\n  - {f}" for f in result["failures"]) or " none"
    pretrain_times = ", ".join(f"{k} {v:.0f} s" for k, v in result["pretrain_seconds"].items()) or "none"
    per_tile = "all" if not s["train_images_per_tile"] else f"the first {s['train_images_per_tile']} per tile"
    return f"""## {mode} mode ({result['date']})

    {command}

Machine: {result['machine']}. Wall time: {result['wall_seconds'] / 60:.1f} min (pretraining: {pretrain_times}).
{warning}
Test mIoU (%) on tile {', '.join(map(str, result['split']['test_tiles']))}, mean ± standard deviation over seeds
{', '.join(map(str, s['seeds']))} (each seed draws the labelled subset and the initialisation):

{chr(10).join(lines)}

Per-run values, min and max: the JSON printed by the script (saved as `{result['json_path']}`).

- Split by tile: fine-tuning on tiles {', '.join(map(str, result['split']['train_tiles']))} ({per_tile}:
  {result['split']['train_images']} images, {s['split_block_size']} px blocks, validation share {s['val_fraction']:g}:
  0 = the last epoch is tested), test on tile(s) {', '.join(map(str, result['split']['test_tiles']))}
  ({result['split']['test_images']} images, never seen in fine-tuning).
- Label fraction: the share of labelled training patches kept (rsseg:finetune's LABEL_FRACTION).
- Pretraining on all {result['split']['all_images']} images, labels unused, once (seed 0): {s['pretrain_epochs']}
  epoch(s) of {s['pretrain_patches']} patches of {s['pretrain_patch_size']} px (diffusion {s['diffusion_patch_size']} px),
  batch {s['pretrain_batch_size']}; method configs at their defaults{overrides}.
- Fine-tuning: {s['epochs']} epochs of {s['patches_per_epoch']} patches of {s['patch_size']} px, batch
  {s['batch_size']}, AdamW lr {s['learning_rate']}; DeepLabV3+ ResNet-18 (scratch, GraSS, SDCluster rows),
  HRNet-W18 from scratch and Diff-HRNet from the diffusion checkpoint (compare those two).
- Test mIoU: checkpoint exported to ONNX, test images segmented whole with `engine.segment`, confusion
  matrices of `engine.evaluate` summed over the test images, IoU averaged over classes present.
- Failures:{failures}
"""


# ----------------------------------------------------------------------------- main
def parse(argv: list[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke-test sizes (~10 min on 2 CPU cores)")
    p.add_argument("--methods", help=f"comma-separated pretraining methods (default: {','.join(ALL_METHODS)}; "
                                     "'none' for scratch only)")
    p.add_argument("--fractions", help="comma-separated label fractions, e.g. 0.05,0.2,1")
    p.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1")
    for name in ("epochs", "patches_per_epoch", "patch_size", "batch_size", "split_block_size", "pretrain_epochs",
                 "pretrain_patches", "pretrain_patch_size", "diffusion_patch_size", "pretrain_batch_size",
                 "test_images", "train_images_per_tile", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--val-fraction", type=float, help="share of training blocks held out to pick the best epoch "
                                                       "(default 0: validation costs more than training on a CPU)")
    p.add_argument("--device", help="cpu (default), cuda or auto")
    p.add_argument("--set", action="append", default=[], metavar="METHOD.FIELD=VALUE",
                   help="override a field of a pretraining method's config, e.g. grass.map_sign=absolute "
                        "(repeatable; recorded as a custom run)")
    p.add_argument("--work-dir", default=str(REPO / ".bench" / "label_efficiency"),
                   help="checkpoints, models and logs (default .bench/label_efficiency, git-ignored)")
    p.add_argument("--no-docs", action="store_true", help="do not write docs/results.md")
    p.add_argument("--docs", default=str(REPO / "docs" / "results.md"), help="where to write the results page")
    p.add_argument("--docs-from", metavar="RESULTS_JSON",
                   help="only (re)write the docs section from a results.json of an earlier run")
    args = p.parse_args(argv)
    s = Settings(**(QUICK if args.quick else {}))
    if args.methods:
        s.methods = [] if args.methods.strip() == "none" else [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.fractions:
        s.fractions = [float(v) for v in args.fractions.split(",")]
    if args.seeds:
        s.seeds = [int(v) for v in args.seeds.split(",")]
    for f in dataclasses.fields(Settings):
        value = getattr(args, f.name, None)
        if value is not None and f.name not in ("fractions", "seeds", "methods"):
            setattr(s, f.name, value)
    given = list(argv if argv is not None else sys.argv[1:])
    if [a for a in given if a.startswith("--") and a not in (
            "--quick", "--no-docs") and not a.startswith(("--work-dir", "--docs", "--threads", "--device"))]:
        # settings changed: recorded in a section of their own (one per distinct command), not as the preset's
        s.mode += "+custom-" + hashlib.sha1(" ".join(given).encode()).hexdigest()[:6]
    for item in args.set:
        target, _, value = item.partition("=")
        method, _, key = target.partition(".")
        if not (method and key and value):
            p.error(f"--set {item!r}: expected METHOD.FIELD=VALUE, e.g. grass.map_sign=absolute")
        s.method_overrides.setdefault(method, {})[key] = value
    if not s.seeds or not s.fractions:
        p.error("--seeds and --fractions need at least one value")
    return s, args


def write_docs(path: str | os.PathLike, result: dict) -> None:
    docs = Path(path)
    page = docs.read_text(encoding="utf-8") if docs.is_file() else ""
    docs.write_text(update_page(page, result["settings"]["mode"], markdown(result, result["command"])), encoding="utf-8")
    log(f"wrote {docs}")


def main(argv: list[str] | None = None) -> int:
    settings, args = parse(argv)
    if args.docs_from:
        write_docs(args.docs, json.loads(Path(args.docs_from).read_text()))
        return 0
    if not DATA.is_dir():
        print(f"label_efficiency: {DATA} not found; the benchmark needs the shared Dubai data "
              "(see ../shared/data/README.md)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(max(1, settings.threads))
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    train = tile_pairs(TRAIN_TILES, settings.train_images_per_tile)
    test = tile_pairs(TEST_TILES)
    if settings.test_images:
        test = (test[0][: settings.test_images], test[1][: settings.test_images])
    all_images = tile_pairs(sorted(TRAIN_TILES + TEST_TILES))[0]
    methods = available_methods(settings.methods)
    log(f"{len(train[0])} training / {len(test[0])} test images; methods {methods or 'none'}; "
        f"fractions {settings.fractions}; seeds {settings.seeds}")

    checkpoints: dict[str, Path] = {}
    pretrain_seconds: dict[str, float] = {}
    failures: list[str] = []
    for name in list(methods):
        started = time.monotonic()
        try:
            checkpoints[name] = pretrain(name, all_images, settings, work)
        except Exception as exc:  # noqa: BLE001 - one failing method must not stop the others
            failures.append(f"pretraining {name}: {type(exc).__name__}: {exc}")
            log(failures[-1])
            methods.remove(name)
        pretrain_seconds[name] = time.monotonic() - started

    table: dict[str, dict[str, dict]] = {}
    for row, architecture, pretrained in rows_for(methods, checkpoints):
        table[row] = {}
        tag = row.replace(" ", "_")
        for fraction in settings.fractions:
            values = []
            for seed in settings.seeds:
                started = time.monotonic()
                try:
                    miou = finetune_and_test(architecture, pretrained, fraction, seed, settings, work, train, test, tag)
                except Exception as exc:  # noqa: BLE001
                    failures.append(f"{row}, {fraction:g} labels, seed {seed}: {type(exc).__name__}: {exc}")
                    log(failures[-1])
                    continue
                values.append(miou)
                log(f"{row:<28} labels {100 * fraction:5.1f} %  seed {seed}: test mIoU {100 * miou:5.1f} % "
                    f"({time.monotonic() - started:.0f} s)")
            if values:
                table[row][f"{fraction:g}"] = summarise(values)

    command = "PYTHONPATH=. .venv/bin/python bench/label_efficiency.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else "")
    result = {
        "benchmark": "label_efficiency",
        "metric": "test mIoU (pooled over test images)",
        "settings": dataclasses.asdict(settings),
        "split": {"train_tiles": list(TRAIN_TILES), "test_tiles": list(TEST_TILES), "train_images": len(train[0]),
                  "test_images": len(test[0]), "all_images": len(all_images)},
        "table": table,
        "failures": failures,
        "pretrain_seconds": pretrain_seconds,
        "wall_seconds": time.monotonic() - STARTED,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s) visible, torch threads {settings.threads}, "
                   f"device {settings.device}",
        "command": command,
        "json_path": str((work / "results.json").relative_to(REPO) if work.is_relative_to(REPO) else work / "results.json"),
    }
    text = json.dumps(result, indent=2)
    (work / "results.json").write_text(text)
    print(text)
    if not args.no_docs:
        write_docs(args.docs, result)
    return 1 if not any(table.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
