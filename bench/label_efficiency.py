"""Label efficiency of self-supervised pretraining on real aerial imagery (Dubai), paired.

The question rsseg exists for: with few labelled images, does pretraining on your own
unlabeled imagery beat random initialisation? Every gain is a *paired* difference: a seed
fixes the labelled subset, the random network and the fine-tuning seed, and every row of
that seed uses them, so method and baseline differ in the pretraining alone. A gain is
reported as the mean and standard error of the paired differences.

Data: ``../shared/data/dubai_aerial/geotiff`` (54 RGB images in 6 tiles, 5 classes + 255).
Pretraining uses all 54 images, labels unused, as a user pretrains on all they have.
Labelled images are drawn from tiles 1, 3, 4 and 5 (tile 7's 2000 px images would make a
probe 4x slower); budgets are nested (the 1-image subset of a seed is the first image of its
4-image subset). The test set is every image of tile 2, which no labelled subset touches.

Pretraining: one run per method of a fixed number of optimiser steps (CPU-sized), with the
checkpoint kept at 1/4, 1/2 and the whole budget (:mod:`bench.pretrain_snapshots`). The
full protocol (``--preset full``) also gives each method one longer run
(``longer_pretraining``), probed with its own snapshots at the trend label budgets and
fine-tuned at the smallest label budget and the pilot's (``pilot_labels``), and fine-tunes at
1, 4 and 16 images with 5 seeds (the default: 1 and 4 images, 3 seeds). ``--pretrain-steps``
sets a method's budget instead (e.g. the longer runs alone, fine-tuned at every budget);
``--encoder-lr-scale`` the learning-rate multiple of a pretrained encoder when fine-tuning
(ENCODER_LR_SCALE, 0.1), paired with the same from-scratch runs whatever the scale.
The measured fine-tuning runs train on every labelled block and export their last state
(``--finetune-val-fraction 0``, the default); ``--finetune-val-fraction 0.2`` holds out the
product's share, and ``--finetune-keep-state best`` with it exports the best-validation state,
as results before the ninth session did (docs/results_history.md, eighth session).

Units (a pretraining run, one seed of a probe, one fine-tuning run) run side by side in
``workers`` processes of ``threads`` torch threads (:mod:`bench.unit_pool`; default 2 x 1).

Readouts:
- ``probe``: :func:`training.probe.run_probe`, frozen encoder + linear pixel classifier,
  against the same network at random init with BatchNorm recalibrated (>= 5 seeds).
  Rows: grass, sdcluster (teacher and student encoders), diffusion (denoiser features vs
  the same UNet at random init).
- ``finetune``: DeepLabV3+ (GraSS, SDCluster) vs the same network from scratch, Diff-HRNet
  vs HRNet, trained for a step budget fixed by from-scratch pilots (the median early stop of
  ``pilot_seeds``; >= 3 fine-tuning seeds); test mIoU
  through the shipped path (ONNX export, engine segmentation, engine evaluation).

    python -m bench.label_efficiency                      # default protocol (Settings), 66-122 min, 2 AVX-512 cores
    python -m bench.label_efficiency --preset full        # every readout, longer runs (hours)
    python -m bench.label_efficiency --readouts probe     # probe readout only
    python -m bench.label_efficiency --methods grass,sdcluster --readouts finetune \
        --pretrain-steps grass=800,sdcluster=800 --no-docs   # fine-tuning from twice the pretraining
    python -m bench.label_efficiency --quick              # smoke run (minutes)
    python -m bench.label_efficiency --device cuda --preset gpu

Writes docs/results.json (rows as the issue's contract) and docs/results.md; work files in
.bench/label_efficiency (git-ignored). Finished units are cached there, so an interrupted
run continues where it stopped.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.dubai_split import CLASS_COLORS, CLASS_NAMES, DATA, TEST_TILES, score_test_tiles, tile_pairs
from bench.label_efficiency_report import write_markdown
from bench.pretrain_snapshots import FRACTIONS, pretrain_with_snapshots, snapshot_paths
from bench.unit_pool import worker_pool
from engine.atomic import atomic_write_text
from training.finetune_config import (
    KEEP_STATES,
    FinetuneConfig,
    check_encoder_lr_scale,
    check_fusion_lr_scale,
    check_val_fraction,
)
from training.paired import paired_difference

REPO = Path(__file__).resolve().parents[1]
LABEL_POOL_TILES = (1, 3, 4, 5)
METHODS = ("grass", "sdcluster", "diffusion")


@dataclass
class Settings:
    """Everything that decides the numbers; saved in results.json as the protocol."""

    label_images: list[int] = field(default_factory=lambda: [1, 4, 16])
    probe_seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    finetune_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])   # the minimum; FULL has 5
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    readouts: list[str] = field(default_factory=lambda: ["probe", "finetune"])
    pretrain_steps: dict[str, int] = field(default_factory=lambda: {"grass": 400, "sdcluster": 400, "diffusion": 800})
    # an extra, longer run of some methods (method -> steps), probed at the trend budgets: what a
    # longer background pretraining buys where the default budget misses its probe target
    # (FULL: GraSS and SDCluster 800 steps, diffusion 1600)
    longer_pretraining: dict[str, int] = field(default_factory=dict)
    pretrain_batch: int = 32
    pretrain_patch: int = 96
    diffusion_batch: int = 16
    diffusion_patch: int = 64
    probe_output_stride: int = 16
    probe_pixels_per_image: int = 5000
    trend_all_labels: bool = False       # pretraining-fraction trend at every label budget (else the smallest)
    trend_labels: list[int] = field(default_factory=lambda: [1, 4])   # ... and at these budgets too
    # a random single image holds 2-4 of the 5 classes (e.g. no building nor vegetation), which caps
    # pretrained and scratch alike; 4 images hold all five
    # 1: the smallest budget, where the targets are read; 4: the smallest holding every class
    finetune_labels: list[int] = field(default_factory=lambda: [1, 4])   # FULL adds 16
    pilot_labels: int = 4                # the pilot's budget (the step budget of every fine-tuning run) and
                                         # the longer runs': the smallest whose labels hold every class
    pilot_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])   # the budget is their median early stop:
                                         # one seed's validation curve is noisy (its early stop moved from 100
                                         # to 225 steps between two CPUs, same code and seed)
    finetune_max_steps: int = 600        # the pilot's ceiling; early stopping sets the budget below it
    finetune_steps: int = 0              # a fixed step budget instead of the pilot's (0 = run the pilot)
    finetune_patch: int = 128            # CPU: a 256 px step costs 4x (~3 s at batch 8 on 2 cores); the
                                         # export tiles at the patch size, so train and test geometry agree
    finetune_batch: int = 8
    # a pretrained encoder's LR multiple (FinetuneConfig's default, read from it); the
    # from-scratch baselines train every layer at the full rate
    encoder_lr_scale: float = FinetuneConfig.encoder_lr_scale
    # Diff-HRNet's fusions' LR multiple (FUSION_LR_SCALE, FinetuneConfig's default): they start closed
    # and AdamW opens them by ~the learning rate per step (docs/diff_hrnet.md)
    fusion_lr_scale: float = FinetuneConfig.fusion_lr_scale
    # share of the labelled blocks a measured run holds out for validation; 0 (the default since the
    # ninth session) trains on every labelled block and exports the last state: at a step budget the
    # pilots already fixed, picking the best-validation state on a few held-out blocks cost every
    # network ~2 mIoU at 1 image, nothing at 4, and was most of Diff-HRNet's seed noise
    # (docs/results_history.md, eighth session). The pilots always hold out FinetuneConfig's share: their
    # validation curve is what sets the step budget
    finetune_val_fraction: float = 0.0
    # the state each fine-tuning run exports (KEEP_STATE, FinetuneConfig's default "auto": the last
    # state, since the measured runs never stop early); "best" with a held-out share repeats the
    # best-validation exports of the results before the ninth session
    finetune_keep_state: str = FinetuneConfig.keep_state
    device: str = "cpu"
    workers: int = 2                     # units run side by side in this many processes (bench/unit_pool.py)
    threads: int = 1                     # torch threads of each worker
    available_only: bool = False         # use the snapshots already written; start no pretraining
    mode: str = "default"


QUICK = dict(label_images=[1], probe_seeds=[0, 1], finetune_seeds=[0], pilot_seeds=[0], methods=["grass"],
             readouts=["probe"],
             pretrain_steps={"grass": 16, "sdcluster": 16, "diffusion": 16}, pretrain_batch=8, pretrain_patch=64,
             diffusion_batch=8, diffusion_patch=32, probe_pixels_per_image=1000, finetune_max_steps=20,
             pilot_labels=1, longer_pretraining={}, mode="quick")
# every readout: the default protocol plus fine-tuning at 16 images,
# 5 fine-tuning seeds and the longer runs (hours on 2 cores)
FULL = dict(finetune_labels=[1, 4, 16], finetune_seeds=[0, 1, 2, 3, 4],
            longer_pretraining={"grass": 800, "sdcluster": 800, "diffusion": 1600}, mode="full")
GPU = dict(pretrain_steps={"grass": 4000, "sdcluster": 4000, "diffusion": 8000}, pretrain_batch=128,
           pretrain_patch=128, diffusion_batch=64, probe_output_stride=8, trend_all_labels=True,
           finetune_labels=[1, 4, 16], finetune_max_steps=2000, finetune_batch=16, finetune_patch=256,
           workers=1, threads=4, device="cuda", mode="gpu")   # its budgets are 10x the CPU ones already


def log(message: str) -> None:
    """Progress on stderr (stdout is the JSON result)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data and cache
def label_subset(seed: int, count: int) -> tuple[list[str], list[str]]:
    """The first ``count`` images of seed ``seed``'s permutation of the label pool (nested)."""
    images, labels = tile_pairs(LABEL_POOL_TILES)
    order = np.random.default_rng(seed).permutation(len(images))[:count]
    return [images[i] for i in order], [labels[i] for i in order]


class Cache:
    """Finished units (a probe of one seed, a fine-tuning run) in one JSON file, by key.

    Several benchmark processes may share one work folder (e.g. one pretraining the diffusion
    model while another probes the encoders, one torch thread each): a write takes a lock,
    reads what the others wrote since, adds its unit and replaces the file atomically.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = self._read()

    def _read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    @staticmethod
    def key(*parts) -> str:
        """A short stable key of the unit's inputs."""
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def get(self, key: str):
        """The cached value or None (looking again at the file: another process may have written it)."""
        if key not in self.data:
            self.data.update(self._read())
        return self.data.get(key)

    def put(self, key: str, value) -> None:
        """Store and write at once (temp file + rename: a kill never leaves half a file)."""
        import fcntl

        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.data = {**self.data, **self._read(), key: value}
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data, indent=1))
            os.replace(tmp, self.path)


# ----------------------------------------------------------------------------- pretraining
@dataclass(frozen=True)
class PretrainRun:
    """One pretraining run of the protocol: a method at a step budget (the default or a longer one)."""

    method: str
    steps: int
    longer: bool = False

    def output(self, work: Path) -> Path:
        """Its checkpoint; the snapshots lie beside it. A run at another budget than the CPU
        default (a longer run, or ``--pretrain-steps``) carries its steps in its name, so one
        800-step run is the same file whichever option asked for it and is trained once."""
        default = not self.longer and self.steps == Settings().pretrain_steps.get(self.method)
        return work / (f"{self.method}.pt" if default else f"{self.method}_{self.steps}steps.pt")


def pretrain_runs(s: Settings) -> list[PretrainRun]:
    """The default run of every method, then the longer runs asked for."""
    runs = [PretrainRun(m, s.pretrain_steps[m]) for m in s.methods]
    return runs + [PretrainRun(m, s.longer_pretraining[m], longer=True) for m in s.methods
                   if m in s.longer_pretraining]


def pretrain_all(s: Settings, work: Path) -> dict[PretrainRun, dict[float, Path]]:
    """Snapshots (fraction -> checkpoint) of each pretraining run, the runs side by side on
    ``s.workers`` processes (submitted longest first, so two workers end close together)."""
    runs = pretrain_runs(s)
    if s.available_only:
        snapshots = {run: {f: p for f, p in snapshot_paths(run.output(work)).items() if p.exists()} for run in runs}
        for run in runs:
            log(f"{run.method} ({run.steps} steps): snapshots available at {sorted(snapshots[run])}")
        return snapshots
    with worker_pool(s.workers, s.threads) as pool:
        longest_first = sorted(runs, key=pretrain_cost, reverse=True)
        futures = {run: pool.submit(pretrain_run, run, s, work) for run in longest_first}
        return {run: futures[run].result() for run in runs}


def pretrain_cost(run: PretrainRun) -> float:
    """Relative cost of a run (optimiser steps x seconds per step measured on one core, about)."""
    return run.steps * {"grass": 6.0, "sdcluster": 3.6, "diffusion": 1.0}[run.method]


def pretrain_run(run: PretrainRun, s: Settings, work: Path) -> dict[float, Path]:
    """One pretraining run with its 1/4, 1/2 and full-budget snapshots (reused when written)."""
    diffusion = run.method == "diffusion"
    values = dict(inputs=[str(DATA)], device=s.device, seed=0,
                  batch_size=s.diffusion_batch if diffusion else s.pretrain_batch,
                  patch_size=s.diffusion_patch if diffusion else s.pretrain_patch)
    if run.method == "grass":
        values["warmup_epochs"] = 2          # of the 4 snapshot epochs: SimCLR, then guided regions
    started = time.monotonic()
    snapshots = pretrain_with_snapshots(run.method, values, run.steps, run.output(work))
    log(f"pretraining {run.method} ({run.steps} steps): snapshots ready ({time.monotonic() - started:.0f} s)")
    return snapshots


# ----------------------------------------------------------------------------- probe readout
PROBE_ROWS = {"grass": ["grass"], "sdcluster": ["teacher", "student"], "diffusion": ["denoiser"]}


def probe_units(s: Settings) -> list[tuple[PretrainRun, str, int, float]]:
    """(pretraining run, variant, labelled images, pretraining fraction) of every probe row.

    The snapshot trend is probed at the smallest label budget and the ``trend_labels``; a
    longer run is probed, with its trend, at the ``trend_labels`` only (the smallest budget
    when none are given): its question is what more pretraining buys where a target is missed.
    """
    units = []
    longer_labels = [n for n in s.label_images if n in s.trend_labels] or [min(s.label_images)]
    for run in pretrain_runs(s):
        for variant in PROBE_ROWS[run.method]:
            for n in (longer_labels if run.longer else s.label_images):
                trend = run.longer or s.trend_all_labels or n == min(s.label_images) or n in s.trend_labels
                units += [(run, variant, n, f) for f in (FRACTIONS if trend else (1.0,))]
    return units


# grass and SDCluster pretrain the same ResNet-18 encoder, so at one seed and label subset
# their random-init baselines are the same network probed on the same pixels: computed once
BASELINE_FAMILY = {"grass": "resnet18", "sdcluster": "resnet18", "diffusion": "diffusion_unet"}


def probe_seed_keys(method: str, checkpoint: Path, variant: str, n: int, seed: int, s: Settings):
    """(ProbeConfig, cache key of the pretrained probe, cache key of its random-init baseline).

    The random-init baseline is keyed by architecture family, labelled subset and seed (not by
    checkpoint): every snapshot and variant of one family is compared with the same random
    network, probed once.
    """
    from training.probe import ProbeConfig

    images, labels = label_subset(seed, n)
    test_images, test_labels = tile_pairs(TEST_TILES)
    config = ProbeConfig(checkpoint=str(checkpoint), images=images, labels=labels, test_images=test_images,
                         test_labels=test_labels, seeds=[seed], output_stride=s.probe_output_stride,
                         max_pixels_per_image=s.probe_pixels_per_image, class_names=CLASS_NAMES,
                         sdcluster_state=variant if variant in ("teacher", "student") else "teacher",
                         device=s.device)
    settings = dataclasses.asdict(config)
    key = Cache.key("probe", checkpoint.name, checkpoint.stat().st_size, settings)
    shared = {k: v for k, v in settings.items() if k not in ("checkpoint", "sdcluster_state")}
    return config, key, Cache.key("probe-random-init", BASELINE_FAMILY[method], shared)


def probe_seed(method: str, checkpoint: Path, variant: str, n: int, seed: int, s: Settings, cache: Cache) -> dict:
    """One seed of one probe row: pretrained and random-init mIoU on the test tile (cached)."""
    from training.probe import run_probe

    config, key, baseline_key = probe_seed_keys(method, checkpoint, variant, n, seed, s)
    hit, baseline = cache.get(key), cache.get(baseline_key)
    if hit is None:
        result = run_probe(config, random_init=baseline is None)
        hit = {"value": result.values[0], "seconds": result.seconds}
        cache.put(key, hit)
        if baseline is None:
            baseline = {"baseline": result.random_values[0]}
    if baseline is None:                # a cache entry written before baselines were shared
        baseline = {"baseline": hit["baseline"]}
    if cache.get(baseline_key) is None:
        cache.put(baseline_key, baseline)
    return {**hit, **baseline}


def probe_jobs(s: Settings, snapshots: dict[PretrainRun, dict[float, Path]], cache: Cache) -> list[tuple]:
    """Arguments of ``probe_seed`` for every probe seed of the protocol not in the cache yet."""
    jobs = []
    for run, variant, n, fraction in probe_units(s):
        checkpoint = snapshots[run].get(fraction)
        for seed in s.probe_seeds if checkpoint is not None else ():
            _config, key, baseline_key = probe_seed_keys(run.method, checkpoint, variant, n, seed, s)
            if cache.get(key) is None or cache.get(baseline_key) is None:
                jobs.append((run.method, checkpoint, variant, n, seed, s, cache))
    return jobs


def probe_rows(s: Settings, snapshots: dict[PretrainRun, dict[float, Path]], cache: Cache) -> list[dict]:
    """Every probe row of the protocol, paired over ``probe_seeds``."""
    rows = []
    for run, variant, n, fraction in probe_units(s):
        where = f"probe {run.method}/{variant} ({run.steps} steps) labels {n} at {fraction:g}"
        checkpoint = snapshots[run].get(fraction)
        if checkpoint is None:
            log(f"{where}: no snapshot (run the pretraining to its end first)")
            continue
        runs = [probe_seed(run.method, checkpoint, variant, n, seed, s, cache) for seed in s.probe_seeds]
        baseline = "same network at random init, BatchNorm recalibrated"
        rows.append(row(run.method, variant, "probe", n, fraction, baseline, runs, s.probe_seeds))
        rows[-1]["pretrain_steps"] = run.steps
        log(f"{where}: {rows[-1]['miou_mean']:.1f} ({rows[-1]['delta_mean']:+.1f} +- {rows[-1]['delta_se']:.1f})")
    return rows


# ----------------------------------------------------------------------------- fine-tuning readout
FINETUNE_ROWS = {"grass": ("deeplabv3plus", "deeplabv3plus"), "sdcluster": ("deeplabv3plus", "deeplabv3plus"),
                 "diffusion": ("diff_hrnet", "hrnet")}


def finetune_config(architecture: str, pretrained: str, n: int, seed: int, steps: int, s: Settings, patience: int,
                    val_fraction: float):
    """FinetuneConfig of one run: the labelled subset of ``seed``, ``steps`` optimiser steps,
    ``val_fraction`` of its blocks held out (0: none, the last state is exported)."""
    images, labels = label_subset(seed, n)
    # a scratch run keeps the dataclass default (unused without PRETRAINED): its cache key, and so
    # the baseline every encoder scale is paired with, stays one run
    scale = {"encoder_lr_scale": s.encoder_lr_scale} if pretrained else {}
    if architecture == "diff_hrnet":
        scale["fusion_lr_scale"] = s.fusion_lr_scale
    return FinetuneConfig(images=images, labels=labels, class_names=CLASS_NAMES, class_colors=CLASS_COLORS,
                          architecture=architecture, backbone="resnet18", pretrained=pretrained, steps=steps,
                          batch_size=s.finetune_batch, patch_size=s.finetune_patch, seed=seed, device=s.device,
                          early_stopping_patience=patience, val_fraction=val_fraction,
                          keep_state=s.finetune_keep_state, **scale)


def finetune_and_test(config, run_dir: Path, s: Settings) -> dict:
    """Fine-tune, export to ONNX, segment the test tile with the engine, pooled test mIoU (%)."""
    from engine.progress import RunFeedback
    from training.export import export_checkpoint
    from training.finetune import finetune
    from training.nets.diff_hrnet import fusion_openness

    run_dir.mkdir(parents=True, exist_ok=True)
    handle = (run_dir / "log.txt").open("a", encoding="utf-8")
    feedback = RunFeedback(log=lambda m: (handle.write(m + "\n"), handle.flush()))
    started = time.monotonic()
    result = finetune(config, run_dir / "model.pt", feedback=feedback)
    onnx_path = export_checkpoint(run_dir / "model.pt", run_dir / "model.onnx", feedback=feedback)
    miou = score_test_tiles(onnx_path, run_dir, device=s.device, threads=s.threads, feedback=feedback)
    steps_done = getattr(result, "steps", None) or getattr(result, "step", None)
    scored = {"miou": miou, "steps": steps_done,
              "best_step": getattr(result, "best_step", None), "seconds": time.monotonic() - started}
    openness = fusion_openness(result.model_state)   # the exported weights, still in memory
    if openness is not None:
        scored["fusion_openness"] = openness
    return scored


def exported_fusion_openness(checkpoint: Path) -> float | None:
    """How far a fine-tuned Diff-HRNet opened its fusions (:func:`training.nets.diff_hrnet.fusion_openness`),
    read from its checkpoint (runs cached before the openness was kept)."""
    from training.checkpoint import Checkpoint
    from training.nets.diff_hrnet import fusion_openness

    return fusion_openness(Checkpoint.load(checkpoint).model_state)


def pilot_config(s: Settings, seed: int):
    """A from-scratch DeepLabV3+ pilot on ``pilot_labels`` images of ``seed``'s subset, early stopping
    (patience 4 validations) within ``finetune_max_steps``."""
    return finetune_config("deeplabv3plus", "", s.pilot_labels, seed, s.finetune_max_steps, s, patience=4,
                           val_fraction=FinetuneConfig.val_fraction)


def pilot_seed_step(s: Settings, work: Path, cache: Cache, seed: int) -> int:
    """The step where one pilot's validation mIoU peaked (trained once, then cached)."""
    config = pilot_config(s, seed)
    key = cache.key("pilot", config_key_values(config))
    hit = cache.get(key)
    if hit is None:
        hit = finetune_and_test(config, work / "runs" / f"pilot_{key}", s)
        cache.put(key, hit)
    return int(hit.get("best_step") or hit.get("steps") or s.finetune_max_steps)


def pilot_best_steps(s: Settings, work: Path, cache: Cache) -> list[int]:
    """Each pilot seed's early stop, in ``pilot_seeds`` order (cached after the first call)."""
    return [pilot_seed_step(s, work, cache, seed) for seed in s.pilot_seeds]


def pilot_budget(s: Settings, work: Path, cache: Cache) -> int:
    """Steps every fine-tuning run gets: the median early stop of from-scratch pilots on
    ``pilot_labels`` images (one per ``pilot_seeds``), within ``finetune_max_steps``.

    One budget for every label count, so the rows of a seed differ in labels and pretraining
    only. The median of several seeds, not one seed's early stop: a single validation curve
    has spikes (the 2026-12-02 table's pilot stopped at 100 steps on one CPU, at 225 on another),
    and one spike would set the length of every fine-tuning run.
    """
    if s.finetune_steps:
        log(f"fine-tuning budget fixed at {s.finetune_steps} steps (--finetune-steps): no pilot")
        return s.finetune_steps
    best = pilot_best_steps(s, work, cache)
    budget = int(np.median(best))
    log(f"pilot: scratch DeepLabV3+ on {s.pilot_labels} image(s) stopped improving at steps {best}: "
        f"budget {budget} (median)")
    return max(50, min(s.finetune_max_steps, budget))


def handed_over(method: str, checkpoint: Path) -> Path:
    """The checkpoint fine-tuning starts from with the method's default handover.

    An SDCluster checkpoint stores both encoders and hands ``encoder_state`` (its HANDOVER
    branch at pretraining time) to fine-tuning; snapshots written before the default became
    the student are given the student's encoder here, in a copy beside them, as a run with
    today's default would have saved it (same training; HANDOVER only picks the stored branch).
    """
    if method != "sdcluster":
        return checkpoint
    from training.checkpoint import Checkpoint
    from training.methods.sdcluster_config import SDClusterConfig

    branch = SDClusterConfig().handover
    ckpt = Checkpoint.load(checkpoint)
    if ckpt.config.get("handover") == branch:
        return checkpoint
    target = checkpoint.with_name(f"{checkpoint.stem}_{branch}.pt")
    if not target.exists():
        ckpt.encoder_state = ckpt.extra_state[f"{branch}_encoder"]
        ckpt.config = {**ckpt.config, "handover": branch}
        ckpt.extra_state = {**ckpt.extra_state, "handover": branch}
        ckpt.save(target)
    return target


def finetune_plan(s: Settings) -> list[tuple[PretrainRun, list[int]]]:
    """The label budgets each run is fine-tuned at: all of ``finetune_labels`` for a default
    run; for a longer one the smallest (where the issue's targets are read) and the pilot's,
    where ``label_images`` measures it (does its probe gain carry over to fine-tuning?)."""
    longer = sorted({min(s.finetune_labels)} | ({s.pilot_labels} & set(s.label_images)))
    return [(run, longer if run.longer else list(s.finetune_labels)) for run in pretrain_runs(s)]


def finetune_pairs(s: Settings, snapshots: dict[PretrainRun, dict[float, Path]], steps: int):
    """(run, labelled images, seed, "value" or "baseline", FinetuneConfig) of every fine-tuning
    run of the plan: the pretrained network and its from-scratch baseline, paired by seed."""
    for run, budgets in finetune_plan(s):
        if 1.0 not in snapshots[run]:
            log(f"finetune {run.method} ({run.steps} steps): no full-budget snapshot yet")
            continue
        architecture, baseline_arch = FINETUNE_ROWS[run.method]
        start = handed_over(run.method, snapshots[run][1.0])   # loads the checkpoint: once per run
        for n in budgets:
            for seed in s.finetune_seeds:
                for which, arch, pretrained in (("value", architecture, str(start)), ("baseline", baseline_arch, "")):
                    yield run, n, seed, which, finetune_config(arch, pretrained, n, seed, steps, s, patience=0,
                                                                  val_fraction=s.finetune_val_fraction)


def config_key_values(config) -> dict:
    """What a fine-tuning run's cache key is made of: its FinetuneConfig, less FUSION_LR_SCALE
    where it changes nothing (outside Diff-HRNet, or at 1: the runs cached before the field
    existed), so those runs and the scratch baselines keep their keys."""
    values = dataclasses.asdict(config)
    if config.architecture != "diff_hrnet" or values.get("fusion_lr_scale") == 1.0:
        values.pop("fusion_lr_scale", None)
    return values


def finetune_key(config) -> str:
    """Cache key of one fine-tuning run (:func:`config_key_values`)."""
    return Cache.key("finetune", config_key_values(config))


def finetune_unit(config, s: Settings, work: Path, cache: Cache) -> dict:
    """One fine-tuning run, from the cache or trained, exported and scored."""
    key = finetune_key(config)
    run_dir = work / "runs" / f"ft_{key}"
    hit = cache.get(key)
    if hit is None:
        hit = finetune_and_test(config, run_dir, s)
        cache.put(key, hit)
    elif config.architecture == "diff_hrnet" and "fusion_openness" not in hit and (run_dir / "model.pt").exists():
        hit = {**hit, "fusion_openness": exported_fusion_openness(run_dir / "model.pt")}   # cached before it was kept
        cache.put(key, hit)
    return hit


def finetune_rows(s: Settings, snapshots: dict[PretrainRun, dict[float, Path]], work: Path,
                  cache: Cache, steps: int) -> list[dict]:
    """Pretrained vs from-scratch fine-tuning at each run's full budget (``steps`` optimiser
    steps each, :func:`pilot_budget`), paired seeds."""
    pairs: dict[tuple[PretrainRun, int], dict[int, dict]] = {}
    openness: dict[tuple[PretrainRun, int], list] = {}   # Diff-HRNet: how far each run opened its fusions
    for run, n, seed, which, config in finetune_pairs(s, snapshots, steps):
        scored = finetune_unit(config, s, work, cache)
        pairs.setdefault((run, n), {}).setdefault(seed, {})[which] = scored["miou"]
        if config.architecture == "diff_hrnet":
            openness.setdefault((run, n), []).append(scored.get("fusion_openness"))
    rows = []
    for (run, n), by_seed in pairs.items():
        baseline = "HRNet from scratch" if run.method == "diffusion" else "DeepLabV3+ from scratch"
        runs = [by_seed[seed] for seed in s.finetune_seeds]
        rows.append(row(run.method, FINETUNE_ROWS[run.method][0], "finetune", n, 1.0, baseline, runs,
                        s.finetune_seeds))
        rows[-1]["steps"] = steps
        rows[-1]["pretrain_steps"] = run.steps
        if (run, n) in openness:
            rows[-1]["fusion_lr_scale"] = s.fusion_lr_scale
            rows[-1]["fusion_openness"] = [None if v is None else round(v, 4) for v in openness[(run, n)]]
        log(f"finetune {run.method} ({run.steps} steps) labels {n}: {rows[-1]['miou_mean']:.1f} "
            f"({rows[-1]['delta_mean']:+.1f})")
    return rows


# ----------------------------------------------------------------------------- the units, side by side
def compute_units(s: Settings, snapshots: dict[PretrainRun, dict[float, Path]], work: Path,
                  cache: Cache) -> int | None:
    """Every probe seed and fine-tuning run not cached yet, on ``s.workers`` processes; the rows
    are then read from the cache by :func:`probe_rows` and :func:`finetune_rows`. Returns the
    fine-tuning budget in steps (None without the fine-tuning readout).

    The pilots go first (their early stops set every fine-tuning run's budget); the probes keep
    the other workers busy meanwhile, and the fine-tuning runs follow once the budget is known.
    """
    finetuning = "finetune" in s.readouts
    steps = None
    with worker_pool(s.workers, s.threads) as pool:
        pilots = [pool.submit(pilot_seed_step, s, work, cache, seed)
                  for seed in (s.pilot_seeds if finetuning and not s.finetune_steps else ())]
        jobs = probe_jobs(s, snapshots, cache) if "probe" in s.readouts else []
        futures = [pool.submit(probe_seed, *job) for job in jobs]
        if finetuning:
            for pilot in pilots:
                pilot.result()
            steps = pilot_budget(s, work, cache)
            submitted = set()   # GraSS's and SDCluster's from-scratch baselines are one run: train it once
            for _run, _n, _seed, _which, config in finetune_pairs(s, snapshots, steps):
                key = finetune_key(config)
                if cache.get(key) is None and key not in submitted:
                    submitted.add(key)
                    futures.append(pool.submit(finetune_unit, config, s, work, cache))
        for future in futures:
            future.result()
    return steps


# ----------------------------------------------------------------------------- rows
def row(method: str, variant: str, readout: str, labels: int, fraction: float, baseline: str,
        runs: list[dict], seeds: list[int]) -> dict:
    """One results.json row: paired mean difference and its standard error."""
    values = np.array([r["value"] for r in runs], dtype=float)
    base = np.array([r["baseline"] for r in runs], dtype=float)
    delta_mean, se = paired_difference(values, base)
    return {"method": method, "variant": variant, "readout": readout, "labels": labels,
            "pretrain_fraction": fraction, "baseline": baseline, "miou_mean": float(values.mean()),
            "baseline_mean": float(base.mean()), "delta_mean": delta_mean, "delta_se": se,
            "seeds": len(seeds), "seed_list": list(seeds), "values": [round(v, 3) for v in values.tolist()],
            "baseline_values": [round(v, 3) for v in base.tolist()]}


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The command line: a preset and the overrides of its Settings."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke-test sizes (minutes)")
    p.add_argument("--preset", choices=["cpu", "full", "gpu"], default="cpu",
                   help="cpu: the default protocol; full: every readout (adds fine-tuning at 16 images, "
                        "5 fine-tuning seeds and the longer runs; hours); gpu: GPU-sized budgets (with --device cuda)")
    p.add_argument("--methods", help=f"comma-separated, from {','.join(METHODS)}")
    p.add_argument("--readouts", help="comma-separated: probe, finetune")
    p.add_argument("--label-images", help="comma-separated labelled-image budgets, e.g. 1,4,16")
    p.add_argument("--probe-seeds", help="comma-separated seeds")
    p.add_argument("--finetune-seeds", help="comma-separated seeds")
    p.add_argument("--device", help="cpu (default), cuda or auto")
    p.add_argument("--available-snapshots", action="store_true",
                   help="read the pretraining snapshots already in the work folder, start no pretraining, "
                        "and leave out the rows whose snapshot is missing (an interim reading)")
    p.add_argument("--workers", type=int, help="processes running units side by side (default 2; 1 = this process)")
    p.add_argument("--threads", type=int, help="torch threads of each worker (default 1)")
    p.add_argument("--finetune-labels", help="comma-separated label budgets fine-tuned (of --label-images)")
    p.add_argument("--pilot-labels", type=int,
                   help="label budget of the from-scratch pilot that sets every fine-tuning run's steps (default 4)")
    p.add_argument("--pilot-seeds", help="comma-separated seeds of the pilots whose median early stop sets the "
                                         "fine-tuning budget (default 0,1,2)")
    p.add_argument("--finetune-steps", type=int,
                   help="fix every fine-tuning run's optimiser steps instead of running the pilot, e.g. 100 to "
                        "repeat the 2026-12-02 table's budget (default: the median early stop of the pilots)")
    p.add_argument("--encoder-lr-scale", type=float,
                   help="learning-rate multiple of a pretrained encoder when fine-tuning (ENCODER_LR_SCALE, "
                        "default 0.1); the from-scratch baselines are unchanged")
    p.add_argument("--fusion-lr-scale", type=float,
                   help="learning-rate multiple of Diff-HRNet's fusions when fine-tuning (FUSION_LR_SCALE, default "
                        f"{FinetuneConfig.fusion_lr_scale:g}); HRNet from scratch is unchanged")
    p.add_argument("--finetune-val-fraction", type=float,
                   help="share of the labelled blocks each measured fine-tuning run holds out for validation "
                        "(VAL_FRACTION, default 0: train on all of them); e.g. 0.2, the product's default (the "
                        "pilots always hold out 0.2: their validation sets the step budget)")
    p.add_argument("--finetune-keep-state", choices=KEEP_STATES,
                   help="the state each fine-tuning run exports (KEEP_STATE, default auto: the last one, as the "
                        "measured runs never stop early); best with --finetune-val-fraction 0.2 repeats the "
                        "best-validation exports of the results before the ninth session")
    p.add_argument("--trend-labels", help="comma-separated label budgets that also get the 1/4 and 1/2 snapshots")
    p.add_argument("--trend-all-labels", action="store_true",
                   help="probe the 1/4 and 1/2 snapshots at every label budget, not only the smallest")
    p.add_argument("--longer-pretraining",
                   help="an extra, longer run per method, probed with its trend at --trend-labels (else the "
                        "smallest budget), e.g. sdcluster=800 (default sdcluster=800,diffusion=1600; none: no "
                        "longer run)")
    p.add_argument("--pretrain-steps",
                   help="the pretraining budget of some methods instead of the default (grass=400,sdcluster=400,"
                        "diffusion=800), e.g. grass=800,sdcluster=800 to fine-tune from the longer runs at every "
                        "fine-tuned label budget without pretraining the default ones")
    p.add_argument("--work-dir", default=str(REPO / ".bench" / "label_efficiency"))
    p.add_argument("--json", default=str(REPO / "docs" / "results.json"), help="results file (the contract)")
    p.add_argument("--docs", default=str(REPO / "docs" / "results.md"))
    p.add_argument("--no-docs", action="store_true", help="write neither docs/results.json nor docs/results.md")
    return p


def parse(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    """Settings from a preset plus command-line overrides."""
    p = build_parser()
    args = p.parse_args(argv)
    preset = QUICK if args.quick else {"gpu": GPU, "full": FULL}.get(args.preset, {})
    s = Settings(**preset)
    lists = {"methods": str, "readouts": str, "label_images": int, "probe_seeds": int, "finetune_seeds": int,
             "trend_labels": int, "finetune_labels": int, "pilot_seeds": int}
    for name, kind in lists.items():
        text = getattr(args, name)
        if text:
            setattr(s, name, [kind(v.strip()) for v in text.split(",") if v.strip()])
    if args.longer_pretraining == "none":
        s.longer_pretraining = {}
    elif args.longer_pretraining:
        s.longer_pretraining = method_steps(p, "--longer-pretraining", args.longer_pretraining)
    if args.pretrain_steps:
        s.pretrain_steps = {**s.pretrain_steps, **method_steps(p, "--pretrain-steps", args.pretrain_steps)}
    if args.device:
        s.device = args.device
    if args.pilot_labels is not None:
        s.pilot_labels = args.pilot_labels
    if args.finetune_steps is not None:
        if args.finetune_steps < 1:
            p.error(f"--finetune-steps: give at least 1 optimiser step, got {args.finetune_steps}")
        s.finetune_steps = args.finetune_steps
    if args.encoder_lr_scale is not None:
        s.encoder_lr_scale = checked(p, "--encoder-lr-scale", check_encoder_lr_scale, args.encoder_lr_scale)
    if args.fusion_lr_scale is not None:
        s.fusion_lr_scale = checked(p, "--fusion-lr-scale", check_fusion_lr_scale, args.fusion_lr_scale)
    if args.finetune_val_fraction is not None:
        s.finetune_val_fraction = checked(p, "--finetune-val-fraction", check_val_fraction, args.finetune_val_fraction)
    if args.finetune_keep_state is not None:
        s.finetune_keep_state = args.finetune_keep_state
    if args.threads is not None:
        s.threads = args.threads
    if args.workers is not None:
        s.workers = args.workers
    if s.workers < 1 or s.threads < 1:
        p.error("--workers and --threads: give at least 1")
    s.available_only = args.available_snapshots
    s.trend_all_labels = s.trend_all_labels or args.trend_all_labels
    unknown = (sorted(set(s.methods) - set(METHODS)) + sorted(set(s.readouts) - {"probe", "finetune"})
               + sorted((set(s.longer_pretraining) | set(s.pretrain_steps)) - set(METHODS)))
    if unknown:
        p.error(f"unknown method or readout: {', '.join(unknown)}")
    s.finetune_labels = [n for n in s.finetune_labels if n in s.label_images] or [min(s.label_images)]
    # the pilots keep their budget whatever --label-images measures, so a run restricted to other
    # budgets (e.g. --label-images 16) fine-tunes for the same steps as the protocol it extends
    return s, args


def checked(p: argparse.ArgumentParser, option: str, check, value: float) -> float:
    """``value`` once FinetuneConfig's own rule (``check``) accepts it; else a CLI error naming ``option``."""
    try:
        check(value)
    except ValueError as error:
        p.error(f"{option}: {error}")
    return value


def method_steps(p: argparse.ArgumentParser, option: str, text: str) -> dict[str, int]:
    """``grass=800,sdcluster=800`` as {method: steps}; a malformed pair stops with the option's name."""
    try:
        pairs = [item.split("=") for item in text.split(",") if item.strip()]
        steps = {name.strip(): int(value) for name, value in pairs}
    except ValueError:
        p.error(f"{option}: give method=steps pairs, e.g. sdcluster=800, got {text!r}")
    if any(value < 1 for value in steps.values()):
        p.error(f"{option}: give at least 1 optimiser step per method, got {text!r}")
    return steps


def main(argv: list[str] | None = None) -> int:
    """Run the protocol, print the JSON, write the docs."""
    s, args = parse(argv)
    if not DATA.is_dir():
        print(f"label_efficiency: {DATA} not found; the benchmark needs ../shared/data (see its README)",
              file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(max(1, s.threads))
    started = time.monotonic()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    cache = Cache(work / "cache.json")
    snapshots = pretrain_all(s, work)
    pretrained = time.monotonic()
    steps = compute_units(s, snapshots, work, cache)
    rows = probe_rows(s, snapshots, cache) if "probe" in s.readouts else []
    if steps is not None:
        rows += finetune_rows(s, snapshots, work, cache, steps)
    given = argv if argv is not None else sys.argv[1:]
    result = {
        "protocol": {**dataclasses.asdict(s), "label_pool_tiles": list(LABEL_POOL_TILES),
                     "test_tiles": list(TEST_TILES), "pretrain_images": "all 54 Dubai images, labels unused",
                     "pretrain_fractions": list(FRACTIONS), "metric": "test mIoU (%) pooled over tile 2",
                     "pairing": "a seed fixes the labelled subset, random init and fine-tuning seed of every row"},
        "rows": rows,
        "command": "python -m bench.label_efficiency" + (" " + shlex.join(given) if given else ""),
        "wall_seconds": round(time.monotonic() - started, 1),
        "stage_seconds": {"pretraining": round(pretrained - started, 1),
                          "probe and fine-tuning units": round(time.monotonic() - pretrained, 1)},
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} CPUs "
                   f"visible, {s.workers} worker(s) of {s.threads} torch thread(s), {s.device}",
    }
    if steps is not None:
        result["finetune_budget"] = {"steps": steps, "pilot_best_steps": [] if s.finetune_steps else
                                     pilot_best_steps(s, work, cache)}
    text = json.dumps(result, indent=2)
    print(text)
    if not args.no_docs and s.mode != "quick":
        atomic_write_text(args.json, text + "\n")
        write_markdown(Path(args.docs), result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
