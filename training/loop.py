"""The one training loop: fine-tuning and every pretraining method run through it.

A :class:`TrainingTask` says *what* is trained, through hooks in the spirit of torchgeo's
``BaseTask``: configure the model and the optimiser, draw the batches, compute one step's
loss, and act at the end of each period (validate, log, save). :class:`TrainingLoop` does
the rest identically for all of them, so a fix lands once:

* device and torchrun set-up (:func:`run_task`): one process per GPU or CPU worker,
  parameters broadcast from rank 0, gradients averaged after each backward pass;
* resume: model, optimiser, scheduler, grad-scaler state, step and history restored;
* the optimiser step: mixed precision on CUDA when the task asks for it (bf16 where
  supported, else fp16 with loss scaling), a non-finite loss stops with a message naming
  LEARNING_RATE;
* progress after every step, cancellation polled before every step;
* cancel: the task saves the state reached (its resumable checkpoint), then
  :class:`engine.progress.Cancelled` is re-raised, so every caller sees the same rule.

The loop counts optimiser steps, not epochs. A task draws its batches from the step
number (``batches(start_step)``), so a resumed run takes exactly the steps an
uninterrupted one would have, wherever it was stopped.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, TypeVar

import torch
from torch import nn

from engine.progress import Cancelled, RunFeedback
from training.checkpoint import Checkpoint
from training.distributed import (
    DistributedContext,
    average_gradients,
    broadcast_module,
    init_distributed,
    local_device,
    shutdown,
)
from training.runtime import select_device

T = TypeVar("T")


class TrainingTask:
    """What one kind of training supplies to :class:`TrainingLoop`.

    Set ``total_steps`` (the optimiser-step budget) and ``period`` (steps between two
    :meth:`end_period` calls: an epoch for pretraining, the validation interval for
    fine-tuning) before the loop starts.
    """

    name: str = "training"
    amp: bool = False            # mixed precision when training on CUDA
    total_steps: int = 0
    period: int = 1
    lr_group_settings: str = ""  # the settings that split the learning rate over parameter groups

    def configure_model(self) -> nn.Module:
        """The module whose parameters are trained (moved to the device by the loop)."""
        raise NotImplementedError

    def configure_optimizer(self, model: nn.Module, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """Optimiser and LR scheduler (``None`` for none) stepped once per optimiser step."""
        raise NotImplementedError

    def batches(self, start_step: int) -> Iterable[Any]:
        """Batches for steps ``start_step``, ``start_step + 1``, ... (the loop stops at total_steps)."""
        raise NotImplementedError

    def training_step(self, batch: Any, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss to back-propagate for ``batch``, plus numbers to average into the period's log."""
        raise NotImplementedError

    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Hook after each optimiser step (EMA teachers, diagnostics); ``step`` counts steps done."""

    def restore(self, previous: Checkpoint) -> None:
        """Task state of a resumed run beyond weights and optimiser (best score so far...)."""

    def end_period(self, loop: TrainingLoop, logs: dict[str, float]) -> bool:
        """Validate / log / save after ``period`` steps (and after the last); True stops early."""
        return False

    def save(self, loop: TrainingLoop, finished: bool) -> None:
        """Write the resumable state (called on cancel; tasks also call it from end_period)."""
        raise NotImplementedError


def run_task(device_name: str, body: Callable[[torch.device, DistributedContext], T]) -> T:
    """``body(device, ctx)`` inside the process group torchrun describes (alone: no group).

    Each process gets its own GPU (LOCAL_RANK) on CUDA; the group is shut down whatever
    happens, so a failed run does not leave gloo/nccl threads behind.
    """
    device = select_device(device_name)
    ctx = init_distributed(device)
    device = local_device(device, ctx)
    try:
        return body(device, ctx)
    finally:
        shutdown(ctx)


class TrainingLoop:
    """Runs a :class:`TrainingTask` for its step budget (see the module docstring)."""

    def __init__(self, task: TrainingTask, device: torch.device, ctx: DistributedContext,
                 feedback: RunFeedback) -> None:
        self.task, self.device, self.ctx, self.feedback = task, device, ctx, feedback
        self.step = 0
        self.start_step = 0
        self.history: list[dict[str, Any]] = []
        self.stopped_early = False
        self.use_amp = bool(task.amp) and device.type == "cuda"
        bf16 = self.use_amp and torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and not bf16)
        self.model = task.configure_model().to(device)
        self.optimizer, self.scheduler = task.configure_optimizer(self.model, task.total_steps)

    # ------------------------------------------------------------------ state
    def optimizer_state(self) -> dict[str, Any]:
        """Optimiser, scheduler and grad-scaler state, as stored in a resumable checkpoint."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "torch_rng": torch.get_rng_state(),  # dropout draws: a resumed run repeats them exactly
        }

    def restore(self, previous: Checkpoint) -> None:
        """Continue from ``previous``: weights, optimiser state, step count and history."""
        self.model.load_state_dict(previous.model_state)
        state = previous.optimizer_state or {}
        if state.get("optimizer"):
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except ValueError as error:   # other parameter groups: another learning-rate split
                settings = self.task.lr_group_settings or "a setting"
                raise ValueError(
                    f"RESUME: the saved run split its learning rates over other parameter groups ({settings} "
                    "changed, or an older rsseg wrote it); set them as in that run, or turn RESUME off to start "
                    f"over ({error})") from error
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        if state.get("torch_rng") is not None:
            torch.set_rng_state(state["torch_rng"])
        self.step = self.start_step = int(previous.step)
        self.history = list(previous.history)
        self.task.restore(previous)

    def autocast(self):
        """Mixed-precision context for forward passes (a no-op off CUDA or without amp)."""
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.use_amp)

    # ------------------------------------------------------------------ running
    def fit(self, previous: Checkpoint | None = None) -> None:
        """Train until the budget (or early stopping); on cancel save, then re-raise."""
        if previous is not None:
            self.restore(previous)
        broadcast_module(self.model, self.ctx)
        self.model.train()
        try:
            self._run_steps()
        except Cancelled:
            self.feedback.log(f"cancelled at step {self.step}: saving the state reached (resume to continue)")
            self.task.save(self, finished=False)
            raise

    def _run_steps(self) -> None:
        task, total = self.task, self.task.total_steps
        sums: dict[str, float] = {}
        count, started = 0, time.perf_counter()
        if self.step >= total:
            return
        for batch in task.batches(self.step):
            self.feedback.check_cancelled()
            logs = self.optimizer_step(batch)
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            count += 1
            self.feedback.set_progress(self.step / max(1, total))
            if self.step % max(1, task.period) == 0 or self.step >= total:
                means = {k: v / count for k, v in sums.items()}
                means["seconds"] = round(time.perf_counter() - started, 2)
                if task.end_period(self, means):
                    self.stopped_early = True
                    return
                sums, count, started = {}, 0, time.perf_counter()
            if self.step >= total:
                return

    def optimizer_step(self, batch: Any) -> dict[str, float]:
        """One forward/backward/update; returns the step's logs (its loss first)."""
        task = self.task
        with self.autocast():
            loss, logs = task.training_step(batch, self.step, task.total_steps)
        if not torch.isfinite(loss):
            raise ValueError(
                f"LEARNING_RATE: the {task.name} loss became {loss.item()} at step {self.step}; lower LEARNING_RATE"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        average_gradients(self.model, self.ctx)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        task.after_optimizer_step(self.step, task.total_steps)
        return {"loss": float(loss.detach()), **{k: float(v) for k, v in logs.items()}}


def cpu_state(module: nn.Module | dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    """Detached CPU copies of a module's (or a state dict's) tensors, for saving."""
    if module is None:
        return None
    state = module.state_dict() if isinstance(module, nn.Module) else module
    return {k: v.detach().cpu().clone() for k, v in state.items()}
