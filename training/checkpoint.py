"""One checkpoint file per run: weights plus everything needed to trace and reuse them.

A checkpoint holds the method's configuration dataclass (as a dict), the bands and the
normalisation the network was trained with, class names and colours, the training history,
and the optimiser state for resuming. Pretraining checkpoints also carry ``encoder_state``,
the :class:`~training.nets.resnet.ResNetEncoder` (or denoiser) weights that fine-tuning
loads without renaming.

Files are written to a temporary name and renamed, so an interrupted save never leaves a
broken checkpoint behind, and the previous one survives until the new one is complete.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_write_with

FORMAT_VERSION = 1
KNOWN_METHODS = ("supervised", "grass", "sdcluster", "diffusion")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked (corrupt, wrong bands, unknown method)."""


@dataclass
class Checkpoint:
    """Everything a training run leaves behind."""

    method: str                                   # one of KNOWN_METHODS
    config: dict[str, Any]                        # asdict(the method's config dataclass)
    bands: list[int]                              # 1-based raster bands, in model input order
    band_offset: list[float]                      # the network sees (value - offset) / scale
    band_scale: list[float]
    model_state: dict[str, torch.Tensor]          # the method's whole module (resume)
    encoder_state: dict[str, torch.Tensor] | None = None  # backbone weights to fine-tune from
    architecture: str | None = None               # segmentation net, e.g. "deeplabv3plus"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    class_colors: list[list[int]] = field(default_factory=list)
    ignore_index: int = 255
    nodata: float | None = None
    epoch: int = 0                                # epochs completed
    step: int = 0                                 # optimiser steps completed
    finished: bool = False                        # all planned epochs done
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: dict[str, Any] | None = None
    extra_state: dict[str, Any] = field(default_factory=dict)   # EMA, schedulers, best scores
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat())
    format_version: int = FORMAT_VERSION

    @property
    def in_channels(self) -> int:
        """Bands the network reads: one input channel per band it was trained on."""
        return len(self.bands)

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (:mod:`engine.atomic`: temp file beside it, fsync, rename), so a kill mid-save
        leaves the previous checkpoint whole and no temp file behind."""
        payload = {"rsseg_checkpoint": True, **{f.name: getattr(self, f.name) for f in fields(self)}}
        return atomic_write_with(path, lambda tmp: torch.save(payload, tmp))

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
        """Read a checkpoint, with a clear message for missing, corrupt or foreign files."""
        source = Path(path)
        if not source.is_file():
            raise CheckpointError(f"checkpoint {source} does not exist")
        try:
            payload = torch.load(source, map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds for truncated or foreign files
            raise CheckpointError(
                f"{source} is not a readable rsseg checkpoint ({type(exc).__name__}: {exc}); "
                "it may be truncated or made by another program: train again or pick another file"
            ) from None
        if not isinstance(payload, dict) or not payload.get("rsseg_checkpoint"):
            raise CheckpointError(f"{source} is a torch file but not an rsseg checkpoint")
        if payload.get("method") not in KNOWN_METHODS:
            raise CheckpointError(
                f"{source}: unknown method {payload.get('method')!r}; "
                f"this version of rsseg knows {', '.join(KNOWN_METHODS)}"
            )
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in names})

    def check_bands(self, n_bands: int, what: str = "the input raster") -> None:
        """Fail clearly when a checkpoint is reused on imagery with another band count."""
        if n_bands != self.in_channels:
            raise CheckpointError(
                f"checkpoint was trained on {self.in_channels} bands ({self.bands}) but "
                f"{what} gives {n_bands}: set BANDS to {self.in_channels} bands"
            )


    def check_resume_bands(self, n_bands: int, output: str | os.PathLike) -> None:
        """Resuming onto a checkpoint of another band count: the fix is the output, not BANDS."""
        if n_bands != self.in_channels:
            raise CheckpointError(
                f"OUTPUT_CHECKPOINT: {Path(output).name} was trained on {self.in_channels} bands ({self.bands}), "
                f"this run reads {n_bands}: choose another OUTPUT_CHECKPOINT, or turn RESUME off to start over "
                "(which replaces it)"
            )


def resume_budget_parameter(steps: int) -> str:
    """The fine-tuning parameter that sets how long a run is, hence the one to raise to extend it.

    Fine-tuning counts optimiser steps: STEPS when it is set, else EPOCHS x the steps of an
    epoch (``training.finetune.step_budget``). Telling the user "more EPOCHS" while STEPS
    is set would extend nothing, so the advice follows the parameter really in charge.
    """
    return "STEPS" if steps else "EPOCHS (STEPS is 0)"


def explain_resume_state(output: str | os.PathLike, log, steps: int) -> None:
    """After a finished fine-tuning, say why ``<output>.last.pt`` is still there, and how big it is.

    It is kept on purpose: with RESUME and a larger budget (``steps``: the run's STEPS, see
    :func:`resume_budget_parameter`) a finished run continues from it (docs/safety.md).
    Deleting it loses only that.
    """
    last = Path(os.fspath(output) + ".last.pt")
    if last.is_file():
        size = last.stat().st_size / 2**20
        log(f"kept {last.name} ({size:.0f} MB): the full training state, to continue this run with a larger "
            f"{resume_budget_parameter(steps)} and RESUME; delete it if you will not continue")


def config_to_dict(config: Any) -> dict[str, Any]:
    """asdict() for a config dataclass, recording its type so a reader can tell methods apart."""
    data = asdict(config)
    data["config_type"] = type(config).__name__
    return data


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass, ignoring keys this version does not know."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def load_checkpoint(path: str | os.PathLike, parameter: str) -> Checkpoint:
    """:meth:`Checkpoint.load` for a file the user chose in ``parameter``: every error starts
    with that name, so the message says which field of the form or flag of the CLI to fix."""
    try:
        return Checkpoint.load(path)
    except CheckpointError as exc:
        raise CheckpointError(f"{parameter}: {exc}") from None
