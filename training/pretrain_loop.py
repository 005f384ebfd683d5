"""Self-supervised pretraining: a :class:`PretrainMethod` run by the one training loop.

A method (GraSS, SDCluster, diffusion) is a :class:`PretrainMethod`: a module that turns a
batch of unlabeled patches into a loss. :class:`PretrainTask` adapts it to
:class:`training.loop.TrainingLoop` (which does device and torchrun set-up, the optimiser
step, progress, cancel and resume for fine-tuning too): it reads random patches from the
rasters, saves a checkpoint after every epoch and when cancelled, and writes the method's
diagnostic PNGs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader

from engine.progress import RunFeedback
from training.checkpoint import Checkpoint, CheckpointError, config_to_dict
from training.config import PretrainConfig, scaled_learning_rate, validate_schedule, warmup_steps_for
from training.data.rasters import (
    Normalization,
    UnlabeledPatchDataset,
    bands_to_read,
    compute_normalization,
    expand_inputs,
    patches_per_epoch_for,
)
from training.distributed import DistributedContext
from training.loop import TrainingLoop, TrainingTask, cpu_state, run_task
from training.runtime import seed_everything, warmup_cosine_scheduler


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
    """What a pretraining run leaves: the checkpoint, epochs done, history and diagnostic PNGs."""

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
    resume: bool = False,
) -> PretrainResult:
    """Train ``method_factory(config, in_channels)`` on ``config.inputs`` and save to ``output``.

    With ``resume`` and an existing checkpoint of the same method at ``output``, training
    continues from it (same normalisation, optimiser state and step count); ``resume`` is
    off by default, as everywhere else (RESUME, ``--resume``, :func:`training.methods.pretrain`),
    so an old checkpoint is never continued unasked. A cancel saves
    the state reached so far, then re-raises :class:`engine.progress.Cancelled`.
    """
    feedback = feedback or RunFeedback()
    output = Path(output)
    return run_task(config.device, lambda device, ctx: _run(method_factory, config, output, feedback, resume,
                                                            device, ctx))


def _run(method_factory, config: PretrainConfig, output: Path, feedback: RunFeedback, resume: bool,
         device: torch.device, ctx: DistributedContext) -> PretrainResult:
    seed_everything(config.seed + ctx.rank)
    paths = expand_inputs(config.inputs)
    bands = bands_to_read(paths[0], config.bands)
    for path in paths[1:]:
        bands_to_read(path, bands)  # every raster must have the chosen bands
    previous = _load_for_resume(output, config, bands) if resume else None
    if previous is not None:
        normalization = Normalization(tuple(previous.band_offset), tuple(previous.band_scale))
    else:
        feedback.log(f"computing band statistics on {len(paths)} raster(s)")
        normalization = compute_normalization(paths, bands, seed=config.seed)
    task = PretrainTask(method_factory(config, len(bands)), config, paths, bands, normalization, output, ctx)
    loop = TrainingLoop(task, device, ctx, feedback)
    if previous is not None:
        feedback.log(f"resuming {task.name} from {output.name}: epoch {previous.epoch}, step {previous.step}")
    feedback.log(
        f"{task.name}: {len(paths)} raster(s), bands {bands}, {task.per_epoch} patches of {config.patch_size}px "
        f"per epoch, {task.period} steps/epoch, {config.epochs} epochs, device {device}"
        + (f", {ctx.world_size} processes" if ctx.enabled else "")
    )
    loop.fit(previous)
    if loop.start_step >= task.total_steps:
        feedback.log(nothing_to_do_message(output.name, loop.start_step, task.period, config.epochs))
    return PretrainResult(output, config.epochs, loop.history, task.diagnostics)


def nothing_to_do_message(name: str, steps_held: int, period: int, epochs: int) -> str:
    """What to say when a resumed checkpoint already took this run's whole step budget.

    The budget is EPOCHS x the steps of one epoch (PATCHES_PER_EPOCH / BATCH_SIZE), so the
    message names the two parameters that lengthen it: "nothing to do" alone left the user
    guessing how to train a finished checkpoint further.
    """
    return (f"{name} already holds {steps_held} steps, the whole budget of this run ({epochs} epochs of "
            f"{period} steps); nothing to do: raise EPOCHS (or PATCHES_PER_EPOCH, the patches of one epoch) "
            "and keep RESUME on to train it further")


class PretrainTask(TrainingTask):
    """A :class:`PretrainMethod` as a :class:`training.loop.TrainingTask`: one period = one epoch."""

    def __init__(self, method: PretrainMethod, config: PretrainConfig, paths: list[Path], bands: list[int],
                 normalization: Normalization, output: Path, ctx: DistributedContext) -> None:
        validate_schedule(config)
        method.validate(config)
        self.method, self.config, self.bands, self.normalization = method, config, bands, normalization
        self.output, self.ctx, self.name = output, ctx, method.name
        self.per_epoch = config.patches_per_epoch or patches_per_epoch_for(paths, config.patch_size)
        per_process = max(1, self.per_epoch // ctx.world_size)
        if per_process < config.batch_size:
            raise ValueError(
                f"BATCH_SIZE {config.batch_size} is larger than the {per_process} patches of one epoch; "
                "lower BATCH_SIZE or raise the number of patches per epoch"
            )
        self.dataset = UnlabeledPatchDataset(
            paths, bands, config.patch_size, per_process, normalization, seed=config.seed * 1000 + ctx.rank
        )
        self.period = per_process // config.batch_size          # steps per epoch
        self.total_steps = self.period * config.epochs
        self.diagnostics: list[Path] = []
        self.diag_batch: torch.Tensor | None = None
        self.device = torch.device("cpu")

    def configure_model(self) -> nn.Module:
        """The method itself: its whole state is trained, saved and resumed."""
        return self.method

    def configure_optimizer(self, model: nn.Module, total_steps: int):
        """The method's optimiser (AdamW + warm-up/cosine unless it overrides build_optimizer)."""
        self.device = next(model.parameters()).device
        return self.method.build_optimizer(total_steps)

    def batches(self, start_step: int) -> Iterator[torch.Tensor]:
        """Each epoch's patches depend on (seed, epoch, index) only: a resumed epoch skips
        the batches already trained on and sees the same remaining ones."""
        batch = self.config.batch_size
        for epoch in range(start_step // self.period, self.config.epochs):
            self.dataset.set_epoch(epoch)
            first = start_step - epoch * self.period if epoch == start_step // self.period else 0
            loader = DataLoader(
                self.dataset, batch_size=batch, sampler=list(range(first * batch, self.period * batch)),
                drop_last=True, num_workers=self.config.num_workers,
                generator=torch.Generator(),  # not a draw from the global RNG the method may use
            )
            for images in loader:
                images = images.to(self.device, non_blocking=True)
                if self.diag_batch is None:
                    self.diag_batch = images[: min(4, images.shape[0])].detach().clone()
                yield images

    def training_step(self, batch: torch.Tensor, step: int, total_steps: int):
        """The method's loss."""
        return self.method.training_step(batch, step, total_steps)

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """EMA updates of the method, then step-interval diagnostics when asked for."""
        self.method.after_optimizer_step(step, total_steps)
        every = self.config.diagnostics_every
        if every and step % every == 0:
            self._diagnose(f"step{step:06d}")

    def end_period(self, loop: TrainingLoop, logs: dict[str, float]) -> bool:
        """End of an epoch: history, log line, checkpoint, per-epoch diagnostics."""
        epoch = loop.step // self.period
        steps = loop.step - (epoch - 1) * self.period
        seconds = max(logs.get("seconds", 0.0), 1e-9)
        record = {**logs, "epoch": epoch, "step": loop.step,
                  "patches_per_second": round(steps * self.config.batch_size * self.ctx.world_size / seconds, 2)}
        loop.history.append(record)
        loop.feedback.log(
            f"epoch {epoch}/{self.config.epochs}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "step"))
        )
        self.save(loop, finished=loop.step >= self.total_steps)
        if not self.config.diagnostics_every:
            self._diagnose(f"epoch{epoch:03d}")
        return False

    def save(self, loop: TrainingLoop, finished: bool) -> None:
        """The checkpoint at ``output`` (rank 0 only): resumable and usable for fine-tuning."""
        if not self.ctx.is_main:
            return
        Checkpoint(
            method=self.method.name,
            config=config_to_dict(self.config),
            bands=self.bands,
            band_offset=list(self.normalization.offset),
            band_scale=list(self.normalization.scale),
            model_state=cpu_state(self.method),
            encoder_state=cpu_state(self.method.encoder_state()),
            epoch=loop.step // self.period,
            step=loop.step,
            finished=finished,
            history=loop.history,
            optimizer_state=loop.optimizer_state(),
            extra_state=self.method.extra_checkpoint_state(),
        ).save(self.output)

    def _diagnose(self, tag: str) -> None:
        if not self.ctx.is_main or self.diag_batch is None:
            return
        folder = diagnostics_folder(self.output)
        folder.mkdir(parents=True, exist_ok=True)
        was_training = self.method.training
        self.method.eval()
        try:
            self.diagnostics += list(self.method.write_diagnostics(self.diag_batch, folder, tag))
        finally:
            self.method.train(was_training)


def _load_for_resume(output: Path, config: PretrainConfig, bands: list[int]) -> Checkpoint | None:
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
