"""The loop every self-supervised method runs in: data, steps, checkpoints, resume, cancel.

A method (GraSS, SDCluster, diffusion) is a :class:`PretrainMethod`: a module that turns a
batch of unlabeled patches into a loss. This loop does the rest identically for all of
them: reads random patches from the rasters, builds the optimiser and schedule, averages
gradients under torchrun, reports progress, polls cancellation between steps, saves a
checkpoint after every epoch and when cancelled, and resumes from an existing checkpoint.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from engine.progress import Cancelled, RunFeedback
from training.checkpoint import Checkpoint, CheckpointError, config_to_dict
from training.config import PretrainConfig, scaled_learning_rate, validate_schedule, warmup_steps_for
from training.data.rasters import (
    Normalization,
    UnlabeledPatchDataset,
    compute_normalization,
    expand_inputs,
    patches_per_epoch_for,
    resolve_bands,
)
from training.distributed import (
    DistributedContext,
    average_gradients,
    broadcast_module,
    init_distributed,
    local_device,
    shutdown,
)
from training.runtime import seed_everything, select_device, warmup_cosine_scheduler


def world_size() -> int:
    """Processes sharing the global batch (torchrun), 1 when training alone."""
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


class PretrainMethod(nn.Module):
    """Interface of a self-supervised method. Subclasses set ``name`` and implement
    :meth:`training_step`; the rest has sensible defaults."""

    name: str = "undefined"

    def __init__(self, config: PretrainConfig, in_channels: int) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels

    def validate(self, config: PretrainConfig) -> None:
        """Raise ValueError for settings the method cannot train with."""

    def peak_learning_rate(self) -> float:
        """LEARNING_RATE scaled to the global batch by the config's rule (see
        :func:`training.config.scaled_learning_rate`)."""
        return scaled_learning_rate(self.config, world_size())

    def build_optimizer(self, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW with warm-up + cosine decay; methods override for SGD/LARS and the like."""
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.peak_learning_rate(), weight_decay=self.config.weight_decay)
        return optimizer, warmup_cosine_scheduler(optimizer, total_steps, warmup_steps_for(self.config, total_steps))

    def training_step(self, batch: torch.Tensor, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss to back-propagate for one batch (B, C, P, P), plus numbers to log."""
        raise NotImplementedError

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Hook after each optimiser step (EMA teachers update here)."""

    def encoder_state(self) -> dict[str, torch.Tensor] | None:
        """Weights fine-tuning starts from (a ResNetEncoder state dict, or a denoiser's)."""
        return None

    def extra_checkpoint_state(self) -> dict[str, Any]:
        """Anything else the checkpoint should keep (e.g. what an export needs)."""
        return {}

    def write_diagnostics(self, batch: torch.Tensor, folder: Path, tag: str) -> list[Path]:
        """PNG(s) that show the user what the method does; written next to the checkpoint."""
        return []


@dataclass
class PretrainResult:
    checkpoint: Path
    epochs_done: int
    history: list[dict[str, Any]]
    diagnostics: list[Path]


def diagnostics_folder(checkpoint_path: Path) -> Path:
    """Where diagnostic PNGs of a run go: ``<checkpoint stem>_diagnostics/`` beside it."""
    return checkpoint_path.with_name(checkpoint_path.stem + "_diagnostics")


def run_pretraining(
    method_factory,
    config: PretrainConfig,
    output: str | Path,
    feedback: RunFeedback | None = None,
    resume: bool = True,
) -> PretrainResult:
    """Train ``method_factory(config, in_channels)`` on ``config.inputs`` and save to ``output``.

    With ``resume`` and an existing checkpoint of the same method at ``output``, training
    continues from it (same normalisation, optimiser state and step count). A cancel saves
    the state reached so far, then re-raises :class:`Cancelled`.
    """
    feedback = feedback or RunFeedback()
    output = Path(output)
    device = select_device(config.device)
    ctx = init_distributed(device)
    device = local_device(device, ctx)
    try:
        return _run(method_factory, config, output, feedback, resume, device, ctx)
    finally:
        shutdown(ctx)


def _run(method_factory, config, output, feedback, resume, device, ctx: DistributedContext) -> PretrainResult:
    seed_everything(config.seed + ctx.rank)
    paths = expand_inputs(config.inputs)
    bands = resolve_bands(paths[0], config.bands)
    for path in paths[1:]:
        resolve_bands(path, bands)  # every raster must have the chosen bands

    previous = _load_for_resume(output, config, bands, feedback) if resume else None
    if previous is not None:
        normalization = Normalization(tuple(previous.band_offset), tuple(previous.band_scale))
    else:
        feedback.log(f"computing band statistics on {len(paths)} raster(s)")
        normalization = compute_normalization(paths, bands, seed=config.seed)

    method = method_factory(config, len(bands))
    validate_schedule(config)
    method.validate(config)
    method.to(device)
    per_epoch = config.patches_per_epoch or patches_per_epoch_for(paths, config.patch_size)
    per_process = max(1, per_epoch // ctx.world_size)
    if per_process < config.batch_size:
        raise ValueError(
            f"BATCH_SIZE {config.batch_size} is larger than the {per_process} patches of one epoch; "
            "lower BATCH_SIZE or raise the number of patches per epoch"
        )
    dataset = UnlabeledPatchDataset(
        paths, bands, config.patch_size, per_process, normalization, seed=config.seed * 1000 + ctx.rank
    )
    loader = DataLoader(
        dataset, batch_size=config.batch_size, shuffle=False, drop_last=True,
        num_workers=config.num_workers, persistent_workers=False,
    )
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * config.epochs
    optimizer, scheduler = method.build_optimizer(total_steps)

    start_epoch, step, history = 0, 0, []
    if previous is not None:
        method.load_state_dict(previous.model_state)
        if previous.optimizer_state:
            optimizer.load_state_dict(previous.optimizer_state["optimizer"])
            if scheduler is not None and previous.optimizer_state.get("scheduler"):
                scheduler.load_state_dict(previous.optimizer_state["scheduler"])
        start_epoch, step, history = previous.epoch, previous.step, list(previous.history)
        feedback.log(f"resuming {method.name} from {output.name}: epoch {start_epoch}, step {step}")
    broadcast_module(method, ctx)

    def save(epoch_done: int, finished: bool) -> None:
        if not ctx.is_main:
            return
        Checkpoint(
            method=method.name,
            config=config_to_dict(config),
            bands=bands,
            band_offset=list(normalization.offset),
            band_scale=list(normalization.scale),
            model_state={k: v.detach().cpu() for k, v in method.state_dict().items()},
            encoder_state=_cpu(method.encoder_state()),
            epoch=epoch_done,
            step=step,
            finished=finished,
            history=history,
            optimizer_state={
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
            },
            extra_state=method.extra_checkpoint_state(),
        ).save(output)

    diagnostics: list[Path] = []
    diag_dir = diagnostics_folder(output)
    diag_batch: torch.Tensor | None = None
    method.train()
    epoch = start_epoch
    feedback.log(
        f"{method.name}: {len(paths)} raster(s), bands {bands}, {per_epoch} patches of {config.patch_size}px "
        f"per epoch, {steps_per_epoch} steps/epoch, {config.epochs} epochs, device {device}"
        + (f", {ctx.world_size} processes" if ctx.enabled else "")
    )
    try:
        for epoch in range(start_epoch, config.epochs):
            dataset.set_epoch(epoch)
            sums: dict[str, float] = {}
            started = time.perf_counter()
            for i, batch in enumerate(loader):
                feedback.check_cancelled()
                batch = batch.to(device, non_blocking=True)
                if diag_batch is None:
                    diag_batch = batch[: min(4, batch.shape[0])].detach().clone()
                loss, logs = method.training_step(batch, step, total_steps)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"{method.name}: loss became {loss.item()} at step {step}; lower LEARNING_RATE"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                average_gradients(method, ctx)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                step += 1
                method.after_optimizer_step(step, total_steps)
                logs = {"loss": float(loss.detach()), **logs}
                for key, value in logs.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                feedback.set_progress((epoch * steps_per_epoch + i + 1) / max(1, total_steps))
                every = config.diagnostics_every
                if ctx.is_main and every and step % every == 0 and diag_batch is not None:
                    diagnostics += _diagnose(method, diag_batch, diag_dir, f"step{step:06d}")
            seconds = time.perf_counter() - started
            record = {k: v / max(1, steps_per_epoch) for k, v in sums.items()}
            record.update(epoch=epoch + 1, step=step, seconds=round(seconds, 2),
                          patches_per_second=round(steps_per_epoch * config.batch_size * ctx.world_size / max(seconds, 1e-9), 2))
            history.append(record)
            feedback.log(
                f"epoch {epoch + 1}/{config.epochs}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "step"))
            )
            save(epoch + 1, finished=epoch + 1 == config.epochs)
            if ctx.is_main and not config.diagnostics_every and diag_batch is not None:
                diagnostics += _diagnose(method, diag_batch, diag_dir, f"epoch{epoch + 1:03d}")
    except Cancelled:
        feedback.log(f"cancelled at step {step}: saving the state reached so far to {output}")
        save(epoch, finished=False)
        raise
    if start_epoch >= config.epochs:
        feedback.log(f"{output.name} already holds {config.epochs} finished epochs; nothing to do")
    return PretrainResult(output, config.epochs, history, diagnostics)


def _diagnose(method: PretrainMethod, batch: torch.Tensor, folder: Path, tag: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    was_training = method.training
    method.eval()
    try:
        return list(method.write_diagnostics(batch, folder, tag))
    finally:
        method.train(was_training)


def _cpu(state: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    return None if state is None else {k: v.detach().cpu() for k, v in state.items()}


def _load_for_resume(output: Path, config: PretrainConfig, bands: list[int], feedback: RunFeedback) -> Checkpoint | None:
    if not output.exists():
        return None
    previous = Checkpoint.load(output)
    wanted = type(config).__name__
    if previous.config.get("config_type") != wanted:
        raise CheckpointError(
            f"OUTPUT_CHECKPOINT {output} holds a {previous.method} checkpoint; resuming needs a "
            f"{wanted} one: choose another file name"
        )
    previous.check_resume_bands(len(bands), output)
    return previous
