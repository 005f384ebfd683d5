"""Supervised fine-tuning of a segmentation network on labelled rasters.

The run, in order:

1. data: image/label pairs (labels resampled to the image grid), bands, normalisation
   (from the pretraining checkpoint when there is one, so the encoder sees the inputs it
   was trained on), spatial-block train/validation split, LABEL_FRACTION;
2. network: ``training.nets.registry.build_segmentation_net`` with the pretrained encoder
   (trained at ENCODER_LR_SCALE x LEARNING_RATE, so a few noisy steps on few labels do
   not overwrite what pretraining learned);
3. training (:class:`FinetuneTask` in :class:`training.loop.TrainingLoop`): STEPS
   optimiser steps on random crops anywhere inside the labelled training area
   (``training.data.crops``), cross-entropy with the ignore value (optionally
   class-balanced), AdamW, linear warm-up (WARMUP_FRACTION of the steps) then cosine
   decay to the end of the budget, mixed precision on CUDA, torchrun;
4. every VALIDATE_EVERY steps: validation mIoU (``engine.metrics``), ``<output>.last.pt``
   for resuming, ``<output>.best.pt`` when validation improved, and early stopping after
   EARLY_STOPPING_PATIENCE validations without improvement;
5. at the end, the state KEEP_STATE names is written to ``output`` (through the
   ``.best.pt`` name, renamed last, so the previous file at ``output`` survives any failed
   or cancelled run): by default ("auto") the last state of a run that reached the end of its
   schedule, the best-validation one of a run early stopping ended. At a fixed budget the
   cosine schedule ends annealed, and a best-validation pick on a few held-out blocks is
   noise: over 82 benchmark runs of 200 steps the last state scored above the picked one on
   unseen tiles in 52, below in 17, by +2.1 mIoU on average at 1 labelled image and +0.9 at 4
   (docs/results_history.md, eighth session; ``python -m bench.last_vs_best``).

A cancel (``feedback.is_cancelled``, polled before every step and validation batch)
saves the exact state reached to ``<output>.last.pt`` and re-raises
:class:`engine.progress.Cancelled`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from engine.metrics import confusion_matrix, scores_from_confusion
from engine.model_card import default_color
from engine.progress import RunFeedback
from training.checkpoint import (
    Checkpoint,
    CheckpointError,
    config_to_dict,
    load_checkpoint,
    resume_budget_parameter,
)
from training.data.crops import RandomCropDataset, crop_regions
from training.data.labels import (
    LabeledPair,
    LabeledPatchDataset,
    check_labels,
    class_ids_present,
    class_names_for,
    make_pairs,
)
from training.data.rasters import Normalization, bands_to_read, compute_normalization
from training.data.splits import Split, split_patches
from training.distributed import DistributedContext, all_reduce_sum, broadcast_module
from training.finetune_config import FinetuneConfig
from training.loop import TrainingLoop, TrainingTask, cpu_state, run_task
from training.nets.registry import build_segmentation_net
from training.runtime import seed_everything, warmup_cosine_scheduler

METHOD = "supervised"
MAX_CLASS_WEIGHT = 10.0


@dataclass
class FinetuneResult:
    """What a fine-tuning run leaves behind (``model_state`` is returned on every rank)."""

    checkpoint: Path
    best_miou: float | None            # None when there was no validation set
    best_step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    last_checkpoint: Path | None = None
    model_state: dict[str, torch.Tensor] | None = None
    stopped_early: bool = False
    steps: int = 0                     # optimiser steps done (all runs of a resumed job together)
    kept_state: str = "best"           # which state ``checkpoint`` holds: "best" (validation) or "last"
    kept_step: int = 0                 # ... its step
    kept_miou: float | None = None     # ... its validation mIoU (None without a validation set)


def last_checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the resumable state of a run writing ``output`` lives."""
    output = Path(output)
    return output.with_name(output.name + ".last.pt")


def best_checkpoint_path(output: str | os.PathLike) -> Path:
    """The best-so-far checkpoint of a running job, renamed to ``output`` when it succeeds."""
    output = Path(output)
    return output.with_name(output.name + ".best.pt")


# ----------------------------------------------------------------------------- data
@dataclass
class FinetuneData:
    """Everything prepared from the rasters before training starts."""

    pairs: list[LabeledPair]
    bands: list[int]
    normalization: Normalization
    split: Split
    num_classes: int
    class_names: list[str]
    class_colors: list[list[int]]
    class_weights: list[float] | None


def load_pretrained(path: str) -> Checkpoint | None:
    """The PRETRAINED checkpoint, its errors prefixed with the parameter name."""
    if not path:
        return None
    checkpoint = load_checkpoint(path, "PRETRAINED")
    if checkpoint.method == METHOD and not checkpoint.encoder_state:
        # a fine-tuned model as the starting point: its encoder is the "encoder." sub-dict
        encoder = {k[len("encoder."):]: v for k, v in checkpoint.model_state.items() if k.startswith("encoder.")}
        checkpoint.encoder_state = encoder or None
    return checkpoint


def choose_bands(config: FinetuneConfig, pairs: list[LabeledPair], pretrained: Checkpoint | None) -> list[int]:
    """BANDS, else the pretrained checkpoint's bands when the rasters have them, else all."""
    wanted = list(config.bands)
    if not wanted and pretrained is not None:
        with rasterio.open(pairs[0].image) as src:
            if max(pretrained.bands) <= src.count:
                wanted = list(pretrained.bands)
    bands = bands_to_read(pairs[0].image, wanted)
    for pair in pairs[1:]:
        bands_to_read(pair.image, bands)
    if pretrained is not None:
        pretrained.check_bands(len(bands), "BANDS")
    return bands


def describe_classes(config: FinetuneConfig, histogram: np.ndarray,
                     feedback: RunFeedback) -> tuple[int, list[str], list[list[int]]]:
    """Class count (ids present, at least two), names and colours, logged with pixel counts."""
    present = class_ids_present(histogram, config.ignore_index)
    num_classes = max(max(present) + 1, len(config.class_names))
    if num_classes < 2:
        raise ValueError(
            f"LABELS: only class {present[0]} is labelled; segmentation needs at least two classes "
            "(label some background too, or name the classes in CLASSES)"
        )
    if config.class_names and len(config.class_names) < max(present) + 1:
        feedback.log(
            f"warning: CLASSES names {len(config.class_names)} classes but the labels use ids up to "
            f"{max(present)}; the others are called 'class k'"
        )
    names = class_names_for(num_classes, config.class_names)
    colors = [
        list(config.class_colors[k]) if k < len(config.class_colors) and config.class_colors[k]
        else list(default_color(k))
        for k in range(num_classes)
    ]
    feedback.log("classes: " + ", ".join(f"{k}={names[k]} ({int(histogram[k])} px)" for k in range(num_classes)))
    return num_classes, names, colors


def make_split(config: FinetuneConfig, pairs: list[LabeledPair], names: list[str], feedback: RunFeedback) -> Split:
    """The spatial-block split, with its notes and warnings in the log."""
    split = split_patches(
        pairs, config.patch_size, config.split_block_size, config.val_fraction,
        config.label_fraction, config.seed, config.ignore_index,
    )
    for note in split.notes:
        feedback.log(f"note: {note}")
    missing = split.classes_only_in_validation(config.ignore_index)
    if missing:
        feedback.log(
            "warning: class(es) " + ", ".join(f"{k} ({names[k]})" if k < len(names) else str(k) for k in missing)
            + " appear in validation blocks but not in the training tiles; the model cannot learn them "
            "(raise LABEL_FRACTION, change SEED or SPLIT_BLOCK_SIZE, or label more)"
        )
    feedback.log(
        f"split: {len(split.train_blocks)} training block(s) with {len(split.train)} labelled tile(s) of "
        f"{config.patch_size}px to crop from (of {split.labelled_train_tiles}), {len(split.val_blocks)} "
        f"validation block(s) -> {len(split.val)} patch(es)"
    )
    return split


def prepare_data(
    config: FinetuneConfig,
    pretrained: Checkpoint | None,
    feedback: RunFeedback,
    normalization: Normalization | None = None,
) -> FinetuneData:
    """Pairs, bands, normalisation, split and classes, with every user-facing check."""
    pairs = make_pairs(config.images, config.labels)
    bands = choose_bands(config, pairs, pretrained)
    histogram = check_labels(pairs, config.ignore_index)
    num_classes, names, colors = describe_classes(config, histogram, feedback)
    if normalization is None:
        if pretrained is not None:
            normalization = Normalization(tuple(pretrained.band_offset), tuple(pretrained.band_scale))
        else:
            normalization = compute_normalization([p.image for p in pairs], bands, seed=config.seed)
    split = make_split(config, pairs, names, feedback)
    weights = balanced_weights(split.train_histogram[:num_classes]) if config.class_weights == "balanced" else None
    return FinetuneData(pairs, bands, normalization, split, num_classes, names, colors, weights)


def balanced_weights(counts: np.ndarray) -> list[float]:
    """Inverse-frequency class weights, mean 1 over the classes present, capped at 10.

    Classes absent from training get weight 1 (they never occur in the loss anyway).
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.ones_like(counts)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    weights[present] /= weights[present].mean()
    return [float(w) for w in np.minimum(weights, MAX_CLASS_WEIGHT)]


@dataclass(frozen=True)
class StepBudget:
    """How long a run is, in optimiser steps, and how often it validates."""

    crops_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    validate_every: int


def step_budget(config: FinetuneConfig, labelled_tiles: int, world_size: int = 1) -> StepBudget:
    """STEPS (or EPOCHS x steps per epoch), the warm-up share and the validation interval.

    An epoch is PATCHES_PER_EPOCH crops (0: as many crops as labelled tiles, i.e. the kept
    labelled area once), at least one batch per process.
    """
    per_epoch = config.patches_per_epoch or labelled_tiles
    steps_per_epoch = max(1, per_epoch // (config.batch_size * world_size))
    total = config.steps or config.epochs * steps_per_epoch
    warmup = int(round(config.warmup_fraction * total))
    return StepBudget(per_epoch, steps_per_epoch, total, warmup, min(total, config.validate_every or steps_per_epoch))


# ----------------------------------------------------------------------------- entry point
def finetune(
    config: FinetuneConfig,
    output_checkpoint: str | os.PathLike,
    feedback: RunFeedback | None = None,
    resume: bool = False,
) -> FinetuneResult:
    """Fine-tune ``config.architecture`` on ``config.images``/``config.labels``; write the
    best checkpoint to ``output_checkpoint``.

    With ``resume`` and an ``<output>.last.pt`` from an earlier (cancelled or shorter) run
    of the same architecture, classes and bands, training continues where it stopped;
    without one a new run starts. ``resume`` is off by default, as RESUME in the form,
    ``--resume`` on the CLI and :func:`training.methods.pretrain`: reusing an output name
    must not quietly continue an old run, so a caller that resumes says so. Works the same
    under ``torchrun --nproc_per_node N`` (only rank 0 writes files).
    """
    feedback = feedback or RunFeedback()
    config.validate()
    output = Path(output_checkpoint)
    return run_task(config.device, lambda device, ctx: _run(config, output, feedback, resume, device, ctx))


def _load_previous(config: FinetuneConfig, output: Path, feedback: RunFeedback) -> Checkpoint | None:
    path = last_checkpoint_path(output)
    if not path.exists():
        feedback.log(f"no {path.name} to resume from: starting a new run")
        return None
    try:
        previous = Checkpoint.load(path)
    except CheckpointError as exc:
        raise CheckpointError(f"OUTPUT_CHECKPOINT: cannot resume: {exc}") from None
    if previous.method != METHOD or previous.architecture != config.architecture:
        raise CheckpointError(
            f"OUTPUT_CHECKPOINT: {path.name} holds a {previous.method}/{previous.architecture} run, not a "
            f"{METHOD}/{config.architecture} one: choose another output or turn RESUME off"
        )
    return previous


def _check_previous(previous: Checkpoint, data: FinetuneData, output: Path) -> None:
    if previous.bands != data.bands or len(previous.class_names) != data.num_classes:
        raise CheckpointError(
            f"OUTPUT_CHECKPOINT: {last_checkpoint_path(output).name} was trained on bands {previous.bands} "
            f"with {len(previous.class_names)} classes, this run has bands {data.bands} and "
            f"{data.num_classes} classes: choose another output or turn RESUME off"
        )


def _run(config: FinetuneConfig, output: Path, feedback: RunFeedback, resume: bool,
         device: torch.device, ctx: DistributedContext) -> FinetuneResult:
    seed_everything(config.seed)
    previous = _load_previous(config, output, feedback) if resume else None
    pretrained = None if previous is not None else load_pretrained(config.pretrained)
    normalization = (
        Normalization(tuple(previous.band_offset), tuple(previous.band_scale)) if previous is not None else None
    )
    quiet = RunFeedback(log=lambda _m: None)  # every rank needs the split, only one should talk
    data = prepare_data(config, pretrained, feedback if ctx.is_main else quiet, normalization)
    if previous is not None:
        _check_previous(previous, data, output)
    task = FinetuneTask(config, data, output, ctx, pretrained, previous)
    loop = TrainingLoop(task, device, ctx, feedback)
    task.log_plan(loop)
    if previous is not None:
        feedback.log(f"resuming from {last_checkpoint_path(output).name} at step {previous.step} of "
                     f"{task.total_steps} (turn RESUME off to start over)")
        if previous.step >= task.total_steps:
            feedback.log("that run already took every step of this budget: nothing to train (raise "
                         f"{resume_budget_parameter(config.steps)} to extend it)")
    try:
        loop.fit(previous)
    finally:
        task.close()
    state = task.finish(loop)
    return FinetuneResult(output, task.best_miou, task.best_step, loop.history, last_checkpoint_path(output),
                          state, loop.stopped_early, loop.step, task.kept_state, task.kept_step, task.kept_miou)


def kept_state(keep_state: str, stopped_early: bool) -> str:
    """"best" or "last": the state a finished run writes to its output, for KEEP_STATE.

    "auto" keeps the last state of a run that took its whole step budget (the end of the
    cosine schedule) and the best-validation state of one that early stopping ended (its
    last state is EARLY_STOPPING_PATIENCE validations past the best).

    >>> kept_state("auto", stopped_early=False), kept_state("auto", stopped_early=True)
    ('last', 'best')
    """
    if keep_state == "auto":
        return "best" if stopped_early else "last"
    return keep_state


def validation_at(history: list[dict[str, Any]], step: int) -> float | None:
    """The validation mIoU logged at ``step`` (None when that step was not validated)."""
    return next((r.get("val_miou") for r in reversed(history) if r.get("step") == step), None)


# ----------------------------------------------------------------------------- the task
class FinetuneTask(TrainingTask):
    """Supervised segmentation as a :class:`training.loop.TrainingTask`."""

    name = "fine-tuning"
    amp = True
    lr_group_settings = "ENCODER_LR_SCALE or FUSION_LR_SCALE"   # parameter_groups

    def __init__(self, config: FinetuneConfig, data: FinetuneData, output: Path, ctx: DistributedContext,
                 pretrained: Checkpoint | None, previous: Checkpoint | None) -> None:
        self.config, self.data, self.output, self.ctx = config, data, output, ctx
        self.pretrained, self.previous = pretrained, previous
        self.amp = bool(config.amp)
        self.budget = step_budget(config, len(data.split.train), ctx.world_size)
        self.total_steps, self.period = self.budget.total_steps, self.budget.validate_every
        self.best_miou: float | None = None
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_validations = 0
        self.kept_state: str | None = None     # set by finish(): "best" or "last"
        self.kept_step = 0
        self.kept_miou: float | None = None
        self.pretrained_method = (pretrained.method if pretrained is not None
                                  else (previous.extra_state.get("pretrained_method") if previous else None))
        reader = LabeledPatchDataset(data.pairs, [], data.bands, data.normalization, config.ignore_index)
        regions = crop_regions(data.split.train, data.split.train_blocks, [(p.width, p.height) for p in data.pairs],
                               data.split.val_blocks)
        self.crops = RandomCropDataset(reader, regions, config.patch_size, config.seed, ctx.rank,
                                       length=self.total_steps * config.batch_size, jitter=config.color_jitter)
        self.val_set = LabeledPatchDataset(data.pairs, data.split.val[ctx.rank::ctx.world_size], data.bands,
                                           data.normalization, config.ignore_index)
        self.encoder: nn.Module | None = None
        self.model: nn.Module | None = None
        self.device = torch.device("cpu")
        self.weight: torch.Tensor | None = None

    # ------------------------------------------------------------------ hooks
    def configure_model(self) -> nn.Module:
        """The segmentation net (a resumed run keeps its stored architecture kwargs)."""
        config = self.config
        kwargs: dict[str, Any] = {}
        if self.previous is not None:
            kwargs = dict(self.previous.architecture_kwargs)
        elif config.architecture == "deeplabv3plus":
            kwargs = {"backbone": config.backbone, "head": config.head}
        elif config.architecture == "diff_hrnet":
            kwargs = {"noise_tile": config.patch_size}  # each crop sees the whole fixed-noise tile, as tiles will
        model = build_segmentation_net(config.architecture, len(self.data.bands), self.data.num_classes,
                                       pretrained=self.pretrained, **kwargs)
        self.arch_kwargs = dict(getattr(model, "architecture_kwargs", kwargs))
        self.encoder = freeze_encoder(model, config)
        self.model = model  # the loop moves it to the device in place
        return model

    def configure_optimizer(self, model: nn.Module, total_steps: int):
        """AdamW; a pretrained encoder in its own group at ENCODER_LR_SCALE x LEARNING_RATE,
        Diff-HRNet's fusions in one at FUSION_LR_SCALE x LEARNING_RATE."""
        config = self.config
        self.device = next(model.parameters()).device
        self.weight = torch.tensor(self.data.class_weights, device=self.device) if self.data.class_weights else None
        groups = parameter_groups(model, config.learning_rate, self.encoder_lr_scale(), config.fusion_lr_scale)
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, weight_decay=config.weight_decay)
        return optimizer, warmup_cosine_scheduler(optimizer, total_steps, self.budget.warmup_steps)

    def encoder_lr_scale(self) -> float:
        """ENCODER_LR_SCALE when the encoder starts from a checkpoint, else 1 (nothing to keep)."""
        from_checkpoint = self.pretrained is not None or (self.previous is not None and self.pretrained_method)
        return float(self.config.encoder_lr_scale) if from_checkpoint else 1.0

    def batches(self, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of random crops; crop ``step x batch + i`` is the same in every run."""
        batch = self.config.batch_size
        loader = DataLoader(self.crops, batch_size=batch, sampler=range(start_step * batch, self.total_steps * batch),
                            drop_last=True, num_workers=self.config.num_workers,
                            generator=torch.Generator())  # its own seed draw: the global RNG (dropout) untouched
        yield from loader

    def training_step(self, batch, step: int, total_steps: int):
        """Cross-entropy with the ignore value (and the balanced class weights)."""
        if self.encoder is not None:
            self.encoder.eval()  # linear probing: frozen BatchNorm statistics too
        images, labels = (t.to(self.device, non_blocking=True) for t in batch)
        logits = self.model(images)
        loss = F.cross_entropy(logits.float(), labels, weight=self.weight, ignore_index=self.config.ignore_index)
        return loss, {}

    def restore(self, previous: Checkpoint) -> None:
        """Best score and weights so far (of the running job, or the finished output); a run
        without a validation set has no best state to load."""
        self.best_miou = previous.extra_state.get("best_miou")
        self.best_step = int(previous.extra_state.get("best_step", 0))
        self.bad_validations = int(previous.extra_state.get("bad_validations", 0))
        for candidate in (best_checkpoint_path(self.output), self.output) if self.best_miou is not None else ():
            if candidate.exists():
                self.best_state = Checkpoint.load(candidate).model_state
                break

    def end_period(self, loop: TrainingLoop, logs: dict[str, float]) -> bool:
        """Validate, keep the best, log, save ``.last.pt``; True when patience ran out."""
        broadcast_module(loop.model, self.ctx)  # BatchNorm running statistics: rank 0's everywhere
        record: dict[str, Any] = {"step": loop.step, "epoch": round(loop.step / self.budget.steps_per_epoch, 2),
                                  "loss": float(all_reduce_mean(logs.get("loss", float("nan"))))}
        scores = self.validate(loop) if self.data.split.val else None
        if scores is not None:
            record.update(val_miou=scores["miou"], val_accuracy=scores["overall_accuracy"],
                          val_iou=[None if math.isnan(v) else v for v in scores["iou"]])
        record["seconds"] = logs.get("seconds", 0.0)
        loop.history.append(record)
        self._keep_best(loop, scores)
        loop.feedback.log(self._line(record, scores))
        stop = bool(self.config.early_stopping_patience) and self.bad_validations >= self.config.early_stopping_patience
        self.save(loop, finished=False)
        if stop:
            loop.feedback.log(
                f"early stopping: no better validation mIoU in {self.bad_validations} validations "
                f"(EARLY_STOPPING_PATIENCE {self.config.early_stopping_patience})"
            )
        return stop

    def save(self, loop: TrainingLoop, finished: bool) -> None:
        """``<output>.last.pt``: everything needed to resume (rank 0 writes)."""
        if self.ctx.is_main:
            self.checkpoint(loop, cpu_state(loop.model), finished, with_optimizer=True).save(
                last_checkpoint_path(self.output))

    # ------------------------------------------------------------------ helpers
    def log_plan(self, loop: TrainingLoop) -> None:
        """Say what will run (in the log, before the first step)."""
        c, b = self.config, self.budget
        loop.feedback.log(
            f"fine-tuning {c.architecture} {self.arch_kwargs.get('backbone', '')}: {len(self.data.bands)} band(s) "
            f"{self.data.bands}, {self.data.num_classes} classes, {b.total_steps} steps of {c.batch_size} random "
            f"crops of {c.patch_size}px ({b.steps_per_epoch} steps/epoch), warm-up {b.warmup_steps} steps, "
            f"validation every {b.validate_every} steps, device {loop.device}"
            + (f", {self.ctx.world_size} processes" if self.ctx.enabled else "")
            + (", mixed precision" if loop.use_amp else "") + (", encoder frozen" if self.encoder is not None else "")
            + (f", encoder LR x{self.encoder_lr_scale():g}" if self.encoder_lr_scale() != 1.0 else "")
            + (f", fusion LR x{c.fusion_lr_scale:g}" if c.fusion_lr_scale != 1.0 and c.architecture == "diff_hrnet"
               else "")
        )
        if c.steps and c.epochs != FinetuneConfig().epochs:
            loop.feedback.log(f"note: STEPS {c.steps} sets the length of the run; EPOCHS counts only when STEPS is 0")

    def _keep_best(self, loop: TrainingLoop, scores: dict | None) -> None:
        """Keep the best-validation state, in memory and in ``.best.pt``. Without a validation
        set there is no best state: :meth:`finish` writes the last one, so nothing is copied."""
        if scores is None:
            self.best_step = loop.step   # FinetuneResult.best_step: the last step, as before
            return
        if self.best_state is not None and _rank_score(scores["miou"]) <= _rank_score(self.best_miou):
            self.bad_validations += 1
            return
        self.bad_validations = 0
        self.best_miou = scores["miou"]
        self.best_step = loop.step
        self.best_state = cpu_state(loop.model)
        if self.ctx.is_main:
            self.checkpoint(loop, self.best_state, False, with_optimizer=False).save(best_checkpoint_path(self.output))

    def _line(self, record: dict[str, Any], scores: dict | None) -> str:
        text = f"step {record['step']}/{self.total_steps} (epoch {record['epoch']:g}): loss {record['loss']:.4f}"
        if scores is not None:
            text += (f", val mIoU {scores['miou']:.4f}, val accuracy {scores['overall_accuracy']:.4f}"
                     f" (best {_rank_score(self.best_miou):.4f} at step {self.best_step})")
        return text + f", {record['seconds']}s"

    @torch.no_grad()
    def validate(self, loop: TrainingLoop) -> dict:
        """Scores of the validation tiles (confusion matrices summed over processes)."""
        model, n = loop.model, self.data.num_classes
        model.eval()
        cm = np.zeros((n, n), dtype=np.int64)
        loader = DataLoader(self.val_set, batch_size=self.config.batch_size, shuffle=False,
                            num_workers=self.config.num_workers)
        for images, labels in loader:
            loop.feedback.check_cancelled()
            with loop.autocast():
                pred = model(images.to(loop.device)).argmax(dim=1).cpu().numpy()
            cm += confusion_matrix(pred, labels.numpy(), n, self.config.ignore_index)
        total = torch.from_numpy(cm)
        all_reduce_sum(total)
        model.train()
        return scores_from_confusion(total.numpy())

    def checkpoint(self, loop: TrainingLoop, state: dict[str, torch.Tensor], finished: bool,
                   with_optimizer: bool) -> Checkpoint:
        """A fine-tuned checkpoint of ``state`` (see docs/training.md for the fields)."""
        data = self.data
        return Checkpoint(
            method=METHOD, config=config_to_dict(self.config), bands=list(data.bands),
            band_offset=list(data.normalization.offset), band_scale=list(data.normalization.scale),
            model_state=state, architecture=self.config.architecture, architecture_kwargs=self.arch_kwargs,
            class_names=list(data.class_names), class_colors=[list(c) for c in data.class_colors],
            ignore_index=self.config.ignore_index, nodata=data.pairs[0].image_nodata,
            epoch=loop.step // self.budget.steps_per_epoch, step=loop.step, finished=finished,
            history=list(loop.history),
            optimizer_state=loop.optimizer_state() if with_optimizer else None,
            extra_state={"best_miou": self.best_miou, "best_step": self.best_step,
                         "kept_state": self.kept_state, "kept_step": self.kept_step,
                         "bad_validations": self.bad_validations, "patch_size": self.config.patch_size,
                         "num_classes": data.num_classes, "pretrained_method": self.pretrained_method,
                         "resolution_cm": resolution_cm(data.pairs[0].image)},
        )

    def finish(self, loop: TrainingLoop) -> dict[str, torch.Tensor]:
        """Write the state KEEP_STATE names (:func:`kept_state`) to the output; returns its weights.
        Without a validation set there is no best one: the last state is written."""
        self.kept_state = kept_state(self.config.keep_state, loop.stopped_early)
        if self.kept_state == "best" and self.best_state is not None and self.best_miou is not None:
            state, self.kept_step, self.kept_miou = self.best_state, self.best_step, self.best_miou
        else:
            self.kept_state, state, self.kept_step = "last", cpu_state(loop.model), loop.step
            self.kept_miou = validation_at(loop.history, loop.step)
        if self.ctx.is_main:
            self.checkpoint(loop, state, True, with_optimizer=False).save(best_checkpoint_path(self.output))
            os.replace(best_checkpoint_path(self.output), self.output)
            loop.feedback.log(f"saved {self.output}: the {self.kept_state} state (KEEP_STATE "
                              f"{self.config.keep_state}), step {self.kept_step}" + (
                                  f", val mIoU {self.kept_miou:.4f}" if self.kept_miou is not None else ""))
        loop.feedback.set_progress(1.0)
        return state

    def close(self) -> None:
        """Close the raster handles of both datasets."""
        self.crops.close()
        self.val_set.close()


def parameter_groups(model: nn.Module, learning_rate: float, encoder_scale: float,
                     fusion_scale: float = 1.0) -> list[dict[str, Any]]:
    """Trainable parameters; the encoder's in a group at ``encoder_scale`` x the rate, the
    fusions' (Diff-HRNet's ``fusions``) at ``fusion_scale`` x the rate.

    Why the fusions get their own rate: they start closed (the projection's BatchNorm scale is
    zero, so Diff-HRNet starts as a plain HRNet), and AdamW moves a parameter by about the
    learning rate per step whatever its gradient, so at 1e-3 a 150-step run opens them to
    |scale| ~0.01-0.02 (docs/diff_hrnet.md): the denoiser's features barely reach the branches.

    >>> net = nn.Sequential(nn.Conv2d(3, 4, 1))
    >>> [g.get("lr") for g in parameter_groups(net, 1e-3, 0.1)]
    [None]
    """
    encoder = getattr(model, "encoder", None)
    fusions = getattr(model, "fusions", None)
    scaled = ((encoder, encoder_scale), (fusions, fusion_scale))
    trainable = [p for p in model.parameters() if p.requires_grad]
    taken: set[int] = set()
    groups = []
    for module, scale in scaled:
        if not isinstance(module, nn.Module) or scale == 1.0:
            continue
        params = [p for p in module.parameters() if p.requires_grad and id(p) not in taken]
        taken.update(id(p) for p in params)
        groups.append({"params": params, "lr": learning_rate * scale})
    rest = [p for p in trainable if id(p) not in taken]
    return [g for g in [{"params": rest}] + groups if g["params"]]


def all_reduce_mean(value: float) -> float:
    """Mean of a float over processes (the value itself when alone)."""
    tensor = torch.tensor([float(value), 1.0], dtype=torch.float64)
    all_reduce_sum(tensor)
    return float(tensor[0] / tensor[1])


def resolution_cm(path: str | os.PathLike) -> float | None:
    """Ground pixel size in cm when the raster's CRS is in metres (the model card's resolution)."""
    with rasterio.open(path) as src:
        crs = src.crs
        if crs is None or not crs.is_projected:
            return None
        units = (crs.linear_units or "").lower()
        if units not in ("metre", "meter", "m"):
            return None
        return float(abs(src.res[0]) * 100.0)


def _rank_score(miou: float | None) -> float:
    """MIoU for comparisons: undefined (None/NaN) ranks below any real score."""
    return -1.0 if miou is None or math.isnan(miou) else float(miou)


def freeze_encoder(model: nn.Module, config: FinetuneConfig) -> nn.Module | None:
    """FREEZE_ENCODER: the encoder's parameters stop requiring gradients (linear probing)."""
    if not config.freeze_encoder:
        return None
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"FREEZE_ENCODER: ARCHITECTURE {config.architecture} has no separate encoder to freeze")
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder
