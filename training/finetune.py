"""Supervised fine-tuning of a segmentation network on labelled rasters.

The loop, in order:

1. data: image/label pairs (labels resampled to the image grid), bands, normalisation
   (from the pretraining checkpoint when there is one, so the encoder sees the inputs it
   was trained on), spatial-block train/validation split, LABEL_FRACTION;
2. network: ``training.nets.registry.build_segmentation_net`` with the pretrained encoder;
3. training: cross-entropy with the ignore value (optionally class-balanced), AdamW,
   linear warm-up + cosine decay, random flips/rotations, mixed precision on CUDA,
   gradients averaged over processes under torchrun;
4. after every epoch: validation mIoU (``engine.metrics``), ``<output>.last.pt`` for
   resuming, and ``<output>.best.pt`` when validation improves;
5. at the end, the best checkpoint is renamed to ``output``: the previous file at
   ``output`` survives any failed or cancelled run.

A cancel (``feedback.is_cancelled``, polled between steps) saves the exact state reached
to ``<output>.last.pt`` (mid-epoch position included) and re-raises
:class:`engine.progress.Cancelled`.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from engine.metrics import confusion_matrix, scores_from_confusion
from engine.model_card import default_color
from engine.progress import Cancelled, RunFeedback
from training.checkpoint import Checkpoint, CheckpointError, config_to_dict
from training.data.augment import flip_rotate
from training.data.labels import (
    LabeledPair,
    LabeledPatchDataset,
    check_labels,
    class_ids_present,
    class_names_for,
    make_pairs,
)
from training.data.rasters import Normalization, compute_normalization, resolve_bands
from training.data.splits import Split, split_patches
from training.distributed import (
    DistributedContext,
    all_reduce_sum,
    average_gradients,
    broadcast_module,
    init_distributed,
    local_device,
    shutdown,
)
from training.finetune_config import FinetuneConfig
from training.nets.registry import build_segmentation_net
from training.runtime import seed_everything, select_device, warmup_cosine_scheduler

METHOD = "supervised"
MAX_CLASS_WEIGHT = 10.0


@dataclass
class FinetuneResult:
    checkpoint: Path
    best_miou: float | None            # None when there was no validation set
    best_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)
    last_checkpoint: Path | None = None
    model_state: dict[str, torch.Tensor] | None = None   # the weights written (on every rank)


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
    try:
        checkpoint = Checkpoint.load(path)
    except CheckpointError as exc:
        raise CheckpointError(f"PRETRAINED: {exc}") from None
    if checkpoint.method == METHOD and not checkpoint.encoder_state:
        # a fine-tuned model as the starting point: its encoder is the "encoder." sub-dict
        encoder = {k[len("encoder."):]: v for k, v in checkpoint.model_state.items() if k.startswith("encoder.")}
        checkpoint.encoder_state = encoder or None
    return checkpoint


def prepare_data(
    config: FinetuneConfig,
    pretrained: Checkpoint | None,
    feedback: RunFeedback,
    normalization: Normalization | None = None,
) -> FinetuneData:
    """Pairs, bands, normalisation, split and classes, with every user-facing check."""
    pairs = make_pairs(config.images, config.labels)
    wanted = list(config.bands)
    if not wanted and pretrained is not None:
        with rasterio.open(pairs[0].image) as src:
            if max(pretrained.bands) <= src.count:  # the pretrained bands, when the raster has them
                wanted = list(pretrained.bands)
    bands = resolve_bands(pairs[0].image, wanted)
    for pair in pairs[1:]:
        resolve_bands(pair.image, bands)
    if pretrained is not None:
        pretrained.check_bands(len(bands), "BANDS")

    histogram = check_labels(pairs, config.ignore_index)
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
        list(config.class_colors[k]) if k < len(config.class_colors) and config.class_colors[k] else list(default_color(k))
        for k in range(num_classes)
    ]
    feedback.log("classes: " + ", ".join(f"{k}={names[k]} ({int(histogram[k])} px)" for k in range(num_classes)))

    if normalization is None:
        if pretrained is not None:
            normalization = Normalization(tuple(pretrained.band_offset), tuple(pretrained.band_scale))
        else:
            normalization = compute_normalization([p.image for p in pairs], bands, seed=config.seed)

    split = split_patches(
        pairs, config.patch_size, config.split_block_size, config.val_fraction,
        config.label_fraction, config.seed, config.ignore_index,
    )
    for note in split.notes:
        feedback.log(f"note: {note}")
    missing = split.classes_only_in_validation(config.ignore_index)
    if missing:
        feedback.log(
            "warning: class(es) " + ", ".join(f"{k} ({names[k]})" if k < num_classes else str(k) for k in missing)
            + " appear in validation blocks but not in the training tiles; the model cannot learn them "
            "(raise LABEL_FRACTION, change SEED or SPLIT_BLOCK_SIZE, or label more)"
        )
    if len(split.train) < config.batch_size:
        raise ValueError(
            f"BATCH_SIZE {config.batch_size}: only {len(split.train)} labelled training patch(es) of "
            f"{config.patch_size}px (after the validation split and LABEL_FRACTION {config.label_fraction}); "
            "lower BATCH_SIZE or PATCH_SIZE, raise LABEL_FRACTION, or label more"
        )
    feedback.log(
        f"split: {len(split.train_blocks)} training block(s) -> {len(split.train)} patch(es) "
        f"(of {split.labelled_train_tiles} labelled), {len(split.val_blocks)} validation block(s) -> "
        f"{len(split.val)} patch(es)"
    )
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


def epoch_order(n_items: int, per_epoch: int, seed: int, epoch: int) -> np.ndarray:
    """Indices of the samples of one epoch: fresh permutations until ``per_epoch`` are drawn."""
    rng = np.random.default_rng([seed, epoch, 31337])
    parts, total = [], 0
    while total < per_epoch:
        parts.append(rng.permutation(n_items))
        total += n_items
    return np.concatenate(parts)[:per_epoch]


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
    of the same architecture, classes and bands, training continues where it stopped.
    Works the same under ``torchrun --nproc_per_node N`` (only rank 0 writes files).
    """
    feedback = feedback or RunFeedback()
    config.validate()
    device = select_device(config.device)
    ctx = init_distributed(device)
    device = local_device(device, ctx)
    try:
        return _run(config, Path(output_checkpoint), feedback, resume, device, ctx)
    finally:
        shutdown(ctx)


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
            f"{METHOD}/{config.architecture} one: choose another output or do not resume"
        )
    return previous


def _run(config: FinetuneConfig, output: Path, feedback: RunFeedback, resume: bool,
         device: torch.device, ctx: DistributedContext) -> FinetuneResult:
    seed_everything(config.seed)
    previous = _load_previous(config, output, feedback) if resume else None
    pretrained = None if previous is not None else load_pretrained(config.pretrained)
    normalization = (
        Normalization(tuple(previous.band_offset), tuple(previous.band_scale)) if previous is not None else None
    )
    if ctx.is_main or ctx.world_size == 1:
        data = prepare_data(config, pretrained, feedback, normalization)
    else:  # same computation, silent: every rank needs the split, only one should talk
        data = prepare_data(config, pretrained, RunFeedback(log=lambda _m: None), normalization)
    if previous is not None:
        if previous.bands != data.bands or len(previous.class_names) != data.num_classes:
            raise CheckpointError(
                f"OUTPUT_CHECKPOINT: {last_checkpoint_path(output).name} was trained on bands {previous.bands} "
                f"with {len(previous.class_names)} classes, this run has bands {data.bands} and "
                f"{data.num_classes} classes: choose another output or do not resume"
            )

    arch_kwargs: dict[str, Any] = (
        {"backbone": config.backbone, "head": config.head} if config.architecture == "deeplabv3plus" else {}
    )
    if previous is not None:
        arch_kwargs = dict(previous.architecture_kwargs)
    model = build_segmentation_net(config.architecture, len(data.bands), data.num_classes, pretrained=pretrained, **arch_kwargs)
    arch_kwargs = dict(getattr(model, "architecture_kwargs", arch_kwargs))
    if pretrained is not None:
        feedback.log(f"encoder initialised from {Path(config.pretrained).name} ({pretrained.method})")
    model.to(device)
    encoder = _freeze_encoder(model, config)

    per_epoch = max(config.patches_per_epoch or len(data.split.train), config.batch_size * ctx.world_size)
    per_process = per_epoch // ctx.world_size
    steps_per_epoch = per_process // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = warmup_cosine_scheduler(optimizer, total_steps, config.warmup_epochs * steps_per_epoch)
    use_amp = bool(config.amp) and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    weight = torch.tensor(data.class_weights, device=device) if data.class_weights else None

    start_epoch, step, skip_batches, history = 0, 0, 0, []
    best_miou: float | None = None
    best_epoch = 0
    best_state: dict[str, torch.Tensor] | None = None
    if previous is not None:
        model.load_state_dict(previous.model_state)
        if previous.optimizer_state:
            optimizer.load_state_dict(previous.optimizer_state["optimizer"])
            scheduler.load_state_dict(previous.optimizer_state["scheduler"])
            if previous.optimizer_state.get("scaler"):
                scaler.load_state_dict(previous.optimizer_state["scaler"])
        start_epoch, step, history = previous.epoch, previous.step, list(previous.history)
        skip_batches = int(previous.extra_state.get("epoch_step", 0))
        best_miou = previous.extra_state.get("best_miou")
        best_epoch = int(previous.extra_state.get("best_epoch", 0))
        for candidate in (best_checkpoint_path(output), output):  # best so far: running, or finished
            if candidate.exists():
                best_state = Checkpoint.load(candidate).model_state
                break
        feedback.log(f"resuming from {last_checkpoint_path(output).name}: epoch {start_epoch}, step {step}")
    broadcast_module(model, ctx)

    train_set = LabeledPatchDataset(data.pairs, data.split.train, data.bands, data.normalization, config.ignore_index)
    val_windows = data.split.val[ctx.rank::ctx.world_size]
    val_set = LabeledPatchDataset(data.pairs, val_windows, data.bands, data.normalization, config.ignore_index)
    generator = torch.Generator().manual_seed(config.seed * 1000 + ctx.rank)

    pretrained_method = (pretrained.method if pretrained is not None
                         else (previous.extra_state.get("pretrained_method") if previous is not None else None))

    def checkpoint(state: dict[str, torch.Tensor], epoch_done: int, finished: bool, extra: dict[str, Any],
                   with_optimizer: bool) -> Checkpoint:
        return Checkpoint(
            method=METHOD,
            config=config_to_dict(config),
            bands=list(data.bands),
            band_offset=list(data.normalization.offset),
            band_scale=list(data.normalization.scale),
            model_state=state,
            architecture=config.architecture,
            architecture_kwargs=arch_kwargs,
            class_names=list(data.class_names),
            class_colors=[list(c) for c in data.class_colors],
            ignore_index=config.ignore_index,
            nodata=data.pairs[0].image_nodata,
            epoch=epoch_done,
            step=step,
            finished=finished,
            history=list(history),
            optimizer_state={
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            } if with_optimizer else None,
            extra_state={"best_miou": best_miou, "best_epoch": best_epoch, "patch_size": config.patch_size,
                         "num_classes": data.num_classes, "pretrained_method": pretrained_method,
                         "resolution_cm": resolution_cm(data.pairs[0].image), **extra},
        )

    def save_last(epoch_done: int, epoch_step: int) -> None:
        if ctx.is_main:
            checkpoint(_cpu_state(model), epoch_done, False, {"epoch_step": epoch_step}, True).save(
                last_checkpoint_path(output))

    feedback.log(
        f"fine-tuning {config.architecture} {arch_kwargs.get('backbone', '')}: {len(data.bands)} band(s) "
        f"{data.bands}, {data.num_classes} classes, {per_epoch} patches of {config.patch_size}px per epoch, "
        f"{steps_per_epoch} steps/epoch, {config.epochs} epochs, device {device}"
        + (f", {ctx.world_size} processes" if ctx.enabled else "")
        + (", mixed precision" if use_amp else "") + (", encoder frozen" if encoder is not None else "")
    )
    epoch, batch_index = start_epoch, 0
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            order = epoch_order(len(train_set), per_epoch, config.seed, epoch)
            mine = order[ctx.rank * per_process:(ctx.rank + 1) * per_process][: steps_per_epoch * config.batch_size]
            first = skip_batches if epoch == start_epoch else 0
            loader = DataLoader(
                train_set, batch_size=config.batch_size, sampler=mine[first * config.batch_size:].tolist(),
                drop_last=True, num_workers=config.num_workers,
            )
            model.train()
            if encoder is not None:
                encoder.eval()  # linear probing: frozen BatchNorm statistics too
            loss_sum = torch.zeros(2, dtype=torch.float64)
            batch_index = first
            for images, labels in loader:
                feedback.check_cancelled()
                images, labels = flip_rotate(images, labels, generator=generator)
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                    logits = model(images)
                    loss = F.cross_entropy(logits.float(), labels, weight=weight, ignore_index=config.ignore_index)
                if not torch.isfinite(loss):
                    raise ValueError(f"LEARNING_RATE: the loss became {loss.item()} at step {step}; lower LEARNING_RATE")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                average_gradients(model, ctx)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step += 1
                batch_index += 1
                loss_sum += torch.tensor([float(loss.detach()), 1.0], dtype=torch.float64)
                feedback.set_progress((epoch * steps_per_epoch + batch_index) / max(1, total_steps))
            skip_batches = 0
            broadcast_module(model, ctx)  # BatchNorm running statistics: rank 0's everywhere
            all_reduce_sum(loss_sum)
            record: dict[str, Any] = {"epoch": epoch + 1, "step": step,
                                      "loss": float(loss_sum[0] / max(1.0, float(loss_sum[1])))}
            scores = (_validate(model, val_set, data.num_classes, config, device, feedback, amp_dtype if use_amp else None)
                      if data.split.val else None)
            if scores is not None:
                record.update(val_miou=scores["miou"], val_accuracy=scores["overall_accuracy"],
                              val_iou=[None if math.isnan(v) else v for v in scores["iou"]])
            record["seconds"] = round(time.perf_counter() - started, 2)
            history.append(record)
            improved = scores is None or best_state is None or _rank_score(scores["miou"]) > _rank_score(best_miou)
            if improved:
                best_miou = None if scores is None else scores["miou"]
                best_epoch = epoch + 1
                best_state = _cpu_state(model)
                if ctx.is_main:
                    checkpoint(best_state, epoch + 1, False, {}, False).save(best_checkpoint_path(output))
            feedback.log(
                f"epoch {epoch + 1}/{config.epochs}: loss {record['loss']:.4f}"
                + (f", val mIoU {scores['miou']:.4f}, val accuracy {scores['overall_accuracy']:.4f}"
                   f" (best {best_miou:.4f} at epoch {best_epoch})" if scores is not None else "")
                + f", {record['seconds']}s"
            )
            save_last(epoch + 1, 0)
    except Cancelled:
        feedback.log(
            f"cancelled at step {step}: state saved to {last_checkpoint_path(output).name} (resume to continue); "
            f"{output.name} was not changed"
        )
        save_last(epoch, batch_index)
        raise
    finally:
        train_set.close()
        val_set.close()

    if best_state is None:  # resumed a finished run with nothing left to do
        best_state = _cpu_state(model)
    if ctx.is_main:
        final = checkpoint(best_state, config.epochs, True, {}, False)
        final.save(best_checkpoint_path(output))
        os.replace(best_checkpoint_path(output), output)
        feedback.log(
            f"saved {output}" + (f" (epoch {best_epoch}, val mIoU {best_miou:.4f})" if best_miou is not None else "")
        )
    feedback.set_progress(1.0)
    return FinetuneResult(output, best_miou, best_epoch, history, last_checkpoint_path(output), best_state)


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


def _freeze_encoder(model: nn.Module, config: FinetuneConfig) -> nn.Module | None:
    if not config.freeze_encoder:
        return None
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"FREEZE_ENCODER: ARCHITECTURE {config.architecture} has no separate encoder to freeze")
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def _validate(model: nn.Module, dataset: LabeledPatchDataset, num_classes: int, config: FinetuneConfig,
              device: torch.device, feedback: RunFeedback, amp_dtype: torch.dtype | None = None) -> dict:
    """Scores of the validation tiles (confusion matrices summed over processes)."""
    model.eval()
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False, num_workers=config.num_workers)
    for images, labels in loader:
        feedback.check_cancelled()
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            pred = model(images.to(device)).argmax(dim=1).cpu().numpy()
        cm += confusion_matrix(pred, labels.numpy(), num_classes, config.ignore_index)
    total = torch.from_numpy(cm)
    all_reduce_sum(total)
    model.train()
    return scores_from_confusion(total.numpy())
