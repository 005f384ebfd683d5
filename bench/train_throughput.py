"""Training steps per second on this CPU: memory format and thread settings, side by side.

    PYTHONPATH=. .venv/bin/python bench/train_throughput.py [--steps 6] [--rounds 3]

Two workloads, the compute of the project's runs with their label-efficiency settings:
* ``finetune``: DeepLabV3+ (ResNet-18, separable head, 5 classes), batch 8 of 128x128,
  cross-entropy, AdamW step;
* ``pretrain_encoder``: the ResNet-18 encoder (output stride 16, as SDCluster / GraSS train
  it) on batch 16 of 128x128 with a mean-feature loss, AdamW step: the backbone pass that
  dominates a pretraining step (the method's own heads and views are not included).

Variants: default (NCHW, torch's default threads), ``channels_last`` (NHWC tensors and
weights), and ``threads=1``. Rounds are interleaved (each variant runs ``--steps`` steps per
round after one warm-up step; best round kept, every round's ratio listed), because the
machine is shared. ``loss_gap`` is the largest difference of the loss between the default and
channels_last over the same seeded steps: the layout must not change the curve.
Prints one JSON object.

Real mode (``--real``): the project's own runs on the Dubai rasters, timed step by step.

    PYTHONPATH=. .venv/bin/python bench/train_throughput.py --real [--steps 4] [--rounds 2] \
        [--workloads grass,sdcluster,diffusion,finetune] [--write-json docs/performance.json]

Each workload is built as the training code builds it (``PretrainTask`` of the method on all
54 Dubai images, ``FinetuneTask`` of DeepLabV3+ on ``tile_1_001``, each in a ``TrainingLoop``)
with the label-efficiency benchmark's CPU settings (``bench.label_efficiency.Settings``:
pretraining batch 32 of 96 px, diffusion batch 16 of 64 px, fine-tuning batch 8 of 128 px;
``--finetune-patch 256`` for the crops docs/performance.md was measured with),
and driven as ``TrainingLoop._run_steps`` drives it: ``next()`` on ``task.batches(step)``,
then ``loop.optimizer_step(batch)``. Warm-up steps (the first one starts the DataLoader
workers) are not timed. Variants: ``workers_0`` (NUM_WORKERS 0, the default),
``workers_1`` / ``workers_2`` (batches read in DataLoader worker processes while the main
process trains), ``channels_last`` (NUM_WORKERS 0, the loop's model and the batches converted
to NHWC), ``channels_last_model`` (the model only).
Per variant: steps/s of the best round, every round's speed-up over ``workers_0`` (the
variant order is rotated each round), ``wait_share`` (time in ``next(batches)`` over step
time), ``first_batch_s`` (the first ``next()``: worker start-up) and the loss of every step,
which must equal ``workers_0``'s (``loss_gap`` = largest difference; 0 for the worker
variants, since a crop depends only on its seed and index). ``--write-json`` stores the
report under ``training_throughput`` in that file, every other key kept.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

from engine.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]

VARIANTS = ("default", "channels_last", "threads_1")


def workload(name: str):
    """(model, batch maker, loss) of a workload, seeded."""
    from training.nets.deeplab import DeepLabV3Plus
    from training.nets.resnet import ResNetEncoder

    torch.manual_seed(0)
    if name == "finetune":
        model = DeepLabV3Plus(3, 5)

        def loss(out, target):
            return F.cross_entropy(out, target)

        def batch(g):
            return torch.randn(8, 3, 128, 128, generator=g), torch.randint(0, 5, (8, 128, 128), generator=g)

        return model, batch, loss
    model = ResNetEncoder(18, 3, output_stride=16)

    def loss(out, target):
        return out[-1].mean(dim=(2, 3)).pow(2).mean() - target.mean()

    def batch(g):
        return torch.randn(16, 3, 128, 128, generator=g), torch.zeros(1)

    return model, batch, loss


def run_steps(name: str, variant: str, steps: int, default_threads: int) -> tuple[float, list[float]]:
    """Seconds for ``steps`` training steps (after a warm-up step) and their losses."""
    model, batch, loss_fn = workload(name)
    torch.set_num_threads(1 if variant == "threads_1" else default_threads)
    layout = torch.channels_last if variant == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=layout).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    losses = []
    for step in range(steps + 1):
        if step == 1:
            t0 = time.perf_counter()
        x, y = batch(g)
        out = model(x.contiguous(memory_format=layout))
        loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    torch.set_num_threads(default_threads)
    return time.perf_counter() - t0, losses


# ----------------------------------------------------------------------------- real mode
REAL_WORKLOADS = ("grass", "sdcluster", "diffusion", "finetune")
REAL_VARIANTS = ("workers_0", "workers_1", "channels_last")
KNOWN_VARIANTS = ("workers_0", "workers_1", "workers_2", "channels_last", "channels_last_model")
PRETRAIN_EPOCHS = 4            # as bench.pretrain_snapshots splits a label-efficiency pretraining run


@dataclass(frozen=True)
class RealSettings:
    """Data and sizes of the real runs (defaults: the label-efficiency benchmark's CPU protocol)."""

    pretrain_inputs: tuple[str, ...]
    finetune_image: str
    finetune_label: str
    pretrain_batch: int
    pretrain_patch: int
    diffusion_batch: int
    diffusion_patch: int
    finetune_batch: int
    finetune_patch: int
    pretrain_steps: dict = field(default_factory=dict)   # method -> step budget (sets epochs and schedule)
    finetune_steps: int = 600

    @classmethod
    def label_efficiency(cls) -> RealSettings:
        """The settings of ``bench.label_efficiency.Settings()`` on the Dubai rasters."""
        from bench.dubai_split import DATA
        from bench.label_efficiency import Settings

        s = Settings()
        image = DATA / "tile_1_001_image.tif"
        return cls((str(DATA),), str(image), str(image.with_name("tile_1_001_label.tif")),
                   s.pretrain_batch, s.pretrain_patch, s.diffusion_batch, s.diffusion_patch,
                   s.finetune_batch, s.finetune_patch, dict(s.pretrain_steps), s.finetune_max_steps)

    def batch_and_patch(self, workload: str) -> tuple[int, int]:
        """(batch, patch size) of a workload."""
        if workload == "finetune":
            return self.finetune_batch, self.finetune_patch
        if workload == "diffusion":
            return self.diffusion_batch, self.diffusion_patch
        return self.pretrain_batch, self.pretrain_patch


def variant_workers(variant: str) -> int:
    """NUM_WORKERS of a variant (``workers_N``; ``channels_last`` runs with 0)."""
    return int(variant.split("_")[1]) if variant.startswith("workers_") else 0


def pretrain_task(method: str, s: RealSettings, workers: int, work: Path, normalization=None):
    """The method's PretrainTask exactly as ``run_pretraining`` builds it (seeded), and its
    normalisation (computed once per workload and passed back in, as a resume does)."""
    from training.data.rasters import bands_to_read, compute_normalization, expand_inputs
    from training.distributed import DistributedContext
    from training.methods import config_class, method_module
    from training.pretrain_loop import PretrainTask
    from training.runtime import seed_everything

    batch, patch = s.batch_and_patch(method)
    steps = s.pretrain_steps.get(method, 400)
    values = dict(inputs=list(s.pretrain_inputs), device="cpu", seed=0, batch_size=batch, patch_size=patch,
                  epochs=PRETRAIN_EPOCHS, patches_per_epoch=max(1, steps // PRETRAIN_EPOCHS) * batch,
                  num_workers=workers)
    if method == "grass":
        values["warmup_epochs"] = 2          # as the label-efficiency benchmark runs it
    config = config_class(method)(**values)
    seed_everything(config.seed)
    paths = expand_inputs(config.inputs)
    bands = bands_to_read(paths[0], config.bands)
    normalization = normalization or compute_normalization(paths, bands, seed=config.seed)
    method_obj = method_module(method).METHOD_CLASS(config, len(bands))
    task = PretrainTask(method_obj, config, paths, bands, normalization, work / f"{method}.pt", DistributedContext())
    return task, normalization


def finetune_task(s: RealSettings, workers: int, work: Path, normalization=None):
    """DeepLabV3+ FinetuneTask on one labelled image, as ``training.finetune._run`` builds it."""
    from bench.dubai_split import CLASS_COLORS, CLASS_NAMES
    from engine.progress import RunFeedback
    from training.distributed import DistributedContext
    from training.finetune import FinetuneTask, prepare_data
    from training.finetune_config import FinetuneConfig
    from training.runtime import seed_everything

    config = FinetuneConfig(images=[s.finetune_image], labels=[s.finetune_label], class_names=CLASS_NAMES,
                            class_colors=CLASS_COLORS, architecture="deeplabv3plus", backbone="resnet18",
                            steps=s.finetune_steps, batch_size=s.finetune_batch, patch_size=s.finetune_patch,
                            seed=0, device="cpu", num_workers=workers)
    config.validate()
    seed_everything(config.seed)
    data = prepare_data(config, None, RunFeedback(log=lambda _m: None), normalization)
    task = FinetuneTask(config, data, work / "finetune.pt", DistributedContext(), None, None)
    return task, data.normalization


def channels_last_batches(batches: Iterable):
    """The task's batches with their images in NHWC (labels untouched)."""
    for batch in batches:
        if isinstance(batch, (tuple, list)):
            yield (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:])
        else:
            yield batch.contiguous(memory_format=torch.channels_last)


def timed_steps(loop, task, steps: int, warmup: int, layout: str = "") -> dict:
    """Drive ``loop`` as ``TrainingLoop._run_steps`` does (next batch, optimiser step) and
    time each part; the ``warmup`` first steps are run but not timed. ``layout``
    ``channels_last``: model and batches in NHWC; ``channels_last_model``: the model only (the
    first convolution then returns NHWC; tensors drawn like the batch, e.g. diffusion noise,
    keep NCHW and so the same values)."""
    if layout.startswith("channels_last"):
        loop.model.to(memory_format=torch.channels_last)   # in place: the optimiser keeps its parameters
    loop.model.train()
    batches = task.batches(loop.step)
    source = iter(channels_last_batches(batches) if layout == "channels_last" else batches)
    waits, computes, losses, first_batch = [], [], [], 0.0
    for index in range(warmup + steps):
        t0 = time.perf_counter()
        batch = next(source)
        t1 = time.perf_counter()
        logs = loop.optimizer_step(batch)
        t2 = time.perf_counter()
        losses.append(logs["loss"])
        if index == 0:
            first_batch = t1 - t0
        if index >= warmup:
            waits.append(t1 - t0)
            computes.append(t2 - t1)
    close = getattr(batches, "close", None)
    if close is not None:
        close()     # ends the DataLoader iterator (and its workers) now, not at garbage collection
    return {"seconds": sum(waits) + sum(computes), "wait": sum(waits), "first_batch_s": first_batch,
            "losses": losses}


def real_run(workload: str, variant: str, s: RealSettings, steps: int, warmup: int, work: Path,
             cache: dict) -> dict:
    """One timed run of ``workload`` under ``variant`` on a freshly built, seeded task and loop."""
    from engine.progress import RunFeedback
    from training.distributed import DistributedContext
    from training.loop import TrainingLoop

    workers = variant_workers(variant)
    if workload == "finetune":
        task, cache["normalization"] = finetune_task(s, workers, work, cache.get("normalization"))
    else:
        task, cache["normalization"] = pretrain_task(workload, s, workers, work, cache.get("normalization"))
    loop = TrainingLoop(task, torch.device("cpu"), DistributedContext(), RunFeedback())
    try:
        return timed_steps(loop, task, steps, warmup, variant if variant.startswith("channels_last") else "")
    finally:
        close = getattr(task, "close", None)
        if close is not None:
            close()


def rotated(variants: Sequence[str], round_index: int) -> list[str]:
    """The variant order of a round: rotated by one each round, so no variant always runs first."""
    k = round_index % len(variants)
    return list(variants[k:]) + list(variants[:k])


def summarize_real(runs: dict[str, list[dict]], steps: int, baseline: str) -> dict:
    """Best-round speeds, per-round speed-ups over ``baseline``, wait shares (the lowest over the
    rounds, and each round's), the first ``next()`` (worst round: worker start-up), loss checks."""
    best = {v: min(r["seconds"] for r in rs) for v, rs in runs.items()}
    others = [v for v in runs if v != baseline]
    reference = runs[baseline][0]["losses"]
    return {
        "steps_per_s": {v: round(steps / best[v], 4) for v in runs},
        "speedup_vs_" + baseline: {v: round(best[baseline] / best[v], 3) for v in others},
        "speedup_each_round": {v: [round(b["seconds"] / r["seconds"], 3) for b, r in zip(runs[baseline], runs[v])]
                               for v in others},
        "wait_share": {v: round(min(r["wait"] / r["seconds"] for r in rs), 4) for v, rs in runs.items()},
        "wait_share_each_round": {v: [round(r["wait"] / r["seconds"], 4) for r in rs] for v, rs in runs.items()},
        "first_batch_s": {v: round(max(r["first_batch_s"] for r in rs), 3) for v, rs in runs.items()},
        "loss": {v: [round(x, 6) for x in rs[0]["losses"]] for v, rs in runs.items()},
        "loss_gap": {v: max(abs(a - b) for r in runs[v] for a, b in zip(reference, r["losses"])) for v in others},
        "loss_identical": {v: all(r["losses"] == reference for r in runs[v]) for v in others},
    }


def real_report(s: RealSettings, workloads: Sequence[str], variants: Sequence[str], steps: int, rounds: int,
                warmup: int, work: Path) -> dict:
    """Every workload under every variant, ``rounds`` interleaved rounds each (see the module docstring)."""
    unknown = [v for v in variants if v not in KNOWN_VARIANTS] + [w for w in workloads if w not in REAL_WORKLOADS]
    if unknown or not variants or variants[0] != "workers_0":
        raise ValueError(f"--variants/--workloads: unknown {unknown} or the list does not start with workers_0; "
                         f"variants: {', '.join(KNOWN_VARIANTS)}; workloads: {', '.join(REAL_WORKLOADS)}")
    report: dict = {"workloads": {}}
    for workload in workloads:
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        cache: dict = {}
        for round_index in range(rounds):
            for variant in rotated(variants, round_index):
                runs[variant].append(real_run(workload, variant, s, steps, warmup, work, cache))
        batch, patch = s.batch_and_patch(workload)
        report["workloads"][workload] = {"batch": batch, "patch": patch, **summarize_real(runs, steps, variants[0])}
    return report


def write_json_key(path: Path, key: str, value: dict) -> None:
    """Set ``key`` of the JSON object in ``path`` (every other key kept; temp file + rename)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def main_real(args: argparse.Namespace, command: str) -> dict:
    """Real mode: measure, print the JSON report, optionally store it under ``training_throughput``."""
    import tempfile

    if args.threads:
        torch.set_num_threads(args.threads)
    workloads = [w.strip() for w in (args.workloads or ",".join(REAL_WORKLOADS)).split(",") if w.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    settings = RealSettings.label_efficiency()
    if args.finetune_patch:
        settings = dataclasses.replace(settings, finetune_patch=args.finetune_patch)
    report: dict = {"command": command, "mode": "real", "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
                    "steps": args.steps, "rounds": args.rounds, "warmup_steps": args.warmup}
    with tempfile.TemporaryDirectory() as work:
        report.update(real_report(settings, workloads, variants, args.steps, args.rounds, args.warmup, Path(work)))
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))
    if args.write_json:
        write_json_key(Path(args.write_json), "training_throughput", report)
    return report


def main(argv: list[str] | None = None) -> dict:
    """Measure; print and return the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default=None,
                        help="synthetic: finetune,pretrain_encoder; --real: grass,sdcluster,diffusion,finetune")
    parser.add_argument("--real", action="store_true", help="time the project's own runs on the Dubai rasters")
    parser.add_argument("--variants", default=",".join(REAL_VARIANTS),
                        help=f"--real: first is the baseline; of {', '.join(KNOWN_VARIANTS)}")
    parser.add_argument("--warmup", type=int, default=1, help="--real: untimed steps first (start the workers)")
    parser.add_argument("--threads", type=int, default=0, help="--real: torch threads (0 = torch's default)")
    parser.add_argument("--finetune-patch", type=int, default=0,
                        help="--real: fine-tuning crop size (0 = the label-efficiency protocol's)")
    parser.add_argument("--write-json", default="", help="--real: store the report under training_throughput here")
    args = parser.parse_args(argv)
    command = " ".join(["bench/train_throughput.py", *(argv if argv is not None else sys.argv[1:])])
    if args.real:
        return main_real(args, command)
    args.workloads = args.workloads or "finetune,pretrain_encoder"
    threads = torch.get_num_threads()
    report: dict = {"command": command,
                    "cpu_count": os.cpu_count(), "torch_default_threads": threads, "torch": torch.__version__,
                    "load_average_at_start": [round(v, 2) for v in os.getloadavg()], "workloads": {}}
    for name in [w.strip() for w in args.workloads.split(",") if w.strip()]:
        best = {v: float("inf") for v in VARIANTS}
        ratios: dict[str, list[float]] = {v: [] for v in VARIANTS[1:]}
        losses = {}
        for _ in range(args.rounds):
            seconds = {}
            for variant in VARIANTS:
                seconds[variant], losses[variant] = run_steps(name, variant, args.steps, threads)
                best[variant] = min(best[variant], seconds[variant])
            for variant in VARIANTS[1:]:
                ratios[variant].append(round(seconds["default"] / seconds[variant], 3))
        report["workloads"][name] = {
            "steps_per_s": {v: round(args.steps / s, 3) for v, s in best.items()},
            "speedup_vs_default": {v: round(best["default"] / best[v], 3) for v in VARIANTS[1:]},
            "speedup_each_round": ratios,
            "loss_gap_channels_last": max(abs(a - b) for a, b in zip(losses["default"], losses["channels_last"])),
        }
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
