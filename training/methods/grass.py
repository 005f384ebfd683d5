"""GraSS: contrastive learning with gradient-guided sampling (Zhang et al., TGRS 2023).

Two stages on unlabeled patches, following the authors' code (GeoX-Lab/GraSS):

1. ID warm-up (the first ``warmup_epochs``): SimCLR. Two augmented views per patch,
   ResNet encoder -> global average pool -> projection MLP -> NT-Xent over the 2N views.

2. GS training (the remaining epochs), every iteration::

       views (2N) --encoder--> F (last feature map) --head--> z --NT-Xent--> L
                                   |                                        |
                                   '-------- dL/dF (autograd.grad) <--------'
       map = mean_c(mean_xy(dL/dF_c) * F_c) / max   -> upsample -> threshold
       -> component holding the max -> its box, cropped from each view and resized back
       -> second forward on the cropped views -> NT-Xent -> backward, optimiser step

   The gradient shows which part of a patch the instance discrimination relied on; those
   parts tend to hold a single kind of ground object, so the new positives are two views
   of one object rather than of a mixed scene.

The first pass needs dL/dF only, which back-propagates through the head but not the
encoder, so it runs the encoder without a graph: stage 2 costs about one extra forward.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from training import diagnostics
from training.config import warmup_steps_for
from training.data import augment
from training.methods.contrastive import ProjectionHead, nt_xent, positive_accuracy
from training.methods.grass_config import MAP_SIGNS, OPTIMIZERS, REGION_RESOLUTIONS, RESIZE_MODES, GraSSConfig
from training.methods.grass_optim import LARS
from training.methods.grass_regions import gradient_map, region_boxes
from training.nets.resnet import ResNetEncoder, backbone_depth
from training.pretrain_loop import PretrainMethod
from training.runtime import warmup_cosine_scheduler

MIN_FEATURE_CELLS = 2  # the gradient map must be at least 2x2 to point anywhere


class GraSSMethod(PretrainMethod):
    """SimCLR warm-up, then SimCLR on gradient-selected regions of each view."""

    name = "grass"

    def __init__(self, config: GraSSConfig, in_channels: int) -> None:
        super().__init__(config, in_channels)
        self.encoder = ResNetEncoder(backbone_depth(config.backbone), in_channels)
        self.head = ProjectionHead(self.encoder.out_channels, config.projection_hidden, config.projection_dim)

    # ------------------------------------------------------------------ checks
    def validate(self, config: GraSSConfig) -> None:
        """Refuse settings GraSS cannot train with, naming the parameter and the fix."""
        if config.batch_size < 2:
            raise ValueError("BATCH_SIZE must be at least 2: NT-Xent contrasts each patch with the others in its batch")
        stride = self.encoder.output_stride
        if config.patch_size < MIN_FEATURE_CELLS * stride:
            raise ValueError(
                f"PATCH_SIZE must be at least {MIN_FEATURE_CELLS * stride} for GraSS: the encoder's last feature map "
                f"is PATCH_SIZE/{stride} cells wide and the gradient map needs at least "
                f"{MIN_FEATURE_CELLS}x{MIN_FEATURE_CELLS} cells to point at a region"
            )
        if not 0 <= config.warmup_epochs < config.epochs:
            raise ValueError(
                f"WARMUP_EPOCHS must be between 0 and EPOCHS - 1 ({config.epochs - 1}), got {config.warmup_epochs}: "
                "the epochs after the warm-up are the gradient-guided ones"
            )
        if not 0.0 <= config.region_threshold < 1.0:
            raise ValueError(f"REGION_THRESHOLD must be in [0, 1), got {config.region_threshold}")
        if config.temperature <= 0:
            raise ValueError(f"TEMPERATURE must be positive, got {config.temperature}")
        for field, value, allowed in (
            ("OPTIMIZER", config.optimizer, OPTIMIZERS),
            ("REGION_RESOLUTION", config.region_resolution, REGION_RESOLUTIONS),
            ("CROP_RESIZE_MODE", config.crop_resize_mode, RESIZE_MODES),
            ("MAP_SIGN", config.map_sign, MAP_SIGNS),
        ):
            if value not in allowed:
                raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")
        if not 0 < config.crop_scale_min <= config.crop_scale_max <= 1:
            raise ValueError("CROP_SCALE_MIN and CROP_SCALE_MAX must satisfy 0 < min <= max <= 1")

    # ------------------------------------------------------------------ pieces
    def stage(self, step: int, total_steps: int) -> int:
        """1 during the ID warm-up epochs, 2 during gradient-guided training."""
        steps_per_epoch = max(1, total_steps // max(1, self.config.epochs))
        return 1 if step < self.config.warmup_epochs * steps_per_epoch else 2

    def make_views(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Two independently augmented views of each patch, stacked as (2N, C, P, P):
        rows [0, N) are the first views, rows [N, 2N) the second."""
        c = self.config
        x = torch.cat([batch, batch], dim=0)
        x, _ = augment.random_resized_crop(
            x, batch.shape[-2:], scale=(c.crop_scale_min, c.crop_scale_max), generator=generator)
        if c.flip_rotate:
            x, _ = augment.flip_rotate(x, generator=generator)
        x = augment.jitter_bands(x, c.jitter_brightness, c.jitter_contrast, c.jitter_saturation, c.jitter_hue,
                                 p=c.jitter_probability, generator=generator)
        x = augment.random_grayscale(x, p=c.grayscale_probability, generator=generator)   # no-op unless 3 bands
        return augment.gaussian_blur(x, (c.blur_sigma_min, c.blur_sigma_max), p=c.blur_probability, generator=generator)

    def embed(self, views: torch.Tensor) -> torch.Tensor:
        """Projected embedding of each view: what NT-Xent compares."""
        return self.head(self.encoder(views)[-1])

    def contrast(self, z: torch.Tensor) -> torch.Tensor:
        """NT-Xent between the two halves of the batch (view 1 of each patch vs view 2)."""
        n = z.shape[0] // 2
        return nt_xent(z[:n], z[n:], self.config.temperature)

    def guided_regions(self, views: torch.Tensor) -> dict[str, torch.Tensor]:
        """First GS pass: the gradient map of every view and the box chosen in it.

        No parameter receives a gradient here (``autograd.grad`` w.r.t. the feature map
        only); BatchNorm sees the batch as in the authors' code, which also ran it in
        training mode.
        """
        with torch.no_grad():
            features = self.encoder(views)[-1]
        features = features.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.contrast(self.head(features))
            (grads,) = torch.autograd.grad(loss, features)
        maps = gradient_map(features.detach(), grads, self.config.map_sign)
        boxes, found = region_boxes(maps, tuple(views.shape[-2:]), self.config.region_threshold,
                                    self.config.region_resolution)
        return {"loss": loss.detach(), "maps": maps, "boxes": boxes, "found": found}

    # ------------------------------------------------------------------ training
    def training_step(self, batch: torch.Tensor, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Stage 1: SimCLR on the views; stage 2: SimCLR again on the regions the gradient points to."""
        views = self.make_views(batch)
        stage = self.stage(step, total_steps)
        logs: dict[str, float] = {"stage": float(stage)}
        if stage == 2:
            guide = self.guided_regions(views)
            views = crop_views(views, guide["boxes"], self.config.crop_resize_mode)
            found = guide["found"]
            area = box_area_fraction(guide["boxes"], views.shape[-2:])
            logs.update(
                guide_loss=float(guide["loss"]),
                region_found=float(found.float().mean()),
                region_area=float(area[found].mean()) if bool(found.any()) else 1.0,
            )
        z = self.embed(views)
        loss = self.contrast(z)
        n = z.shape[0] // 2
        logs["positive_accuracy"] = positive_accuracy(z[:n].detach(), z[n:].detach())
        return loss, logs

    def build_optimizer(self, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """SGD + LARS (the authors') or AdamW at the peak rate of :meth:`peak_learning_rate`
        (square-root scaled from the authors' 4.8 at 256 by default), with linear warm-up and
        cosine decay; BatchNorm parameters get no weight decay."""
        c = self.config
        lr = self.peak_learning_rate()
        decay, no_decay = [], []
        for module in self.modules():
            bucket = no_decay if isinstance(module, nn.modules.batchnorm._BatchNorm) else decay
            bucket.extend(p for p in module.parameters(recurse=False) if p.requires_grad)
        groups = [{"params": decay, "weight_decay": c.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if c.optimizer == "sgd_lars":
            optimizer = LARS(groups, lr=lr, momentum=c.momentum, trust_coefficient=c.lars_trust)
        elif c.optimizer == "adamw":
            optimizer = torch.optim.AdamW(groups, lr=lr)
        else:
            raise ValueError(f"OPTIMIZER must be one of {', '.join(OPTIMIZERS)}, got {c.optimizer!r}")
        return optimizer, warmup_cosine_scheduler(optimizer, total_steps, warmup_steps_for(c, total_steps))

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The ResNet weights fine-tuning starts from (same names as DeepLabV3+'s encoder)."""
        return self.encoder.state_dict()

    def extra_checkpoint_state(self) -> dict[str, Any]:
        """Depth and output stride, so fine-tuning builds an encoder these weights fit."""
        return {"encoder_depth": self.encoder.depth, "encoder_output_stride": self.encoder.output_stride}

    # ------------------------------------------------------------------ diagnostics
    def write_diagnostics(self, batch: torch.Tensor, folder: Path, tag: str) -> list[Path]:
        """One PNG: per patch, each view, its gradient map and the chosen box, and the crop
        the second pass trains on. Views use a fixed seed so images of successive epochs
        compare the same views."""
        generator = torch.Generator(device="cpu").manual_seed(12345)
        patches = batch[:4]
        views = self.make_views(patches.cpu(), generator=generator).to(batch.device)
        guide = self.guided_regions(views)
        cropped = crop_views(views, guide["boxes"], self.config.crop_resize_mode)
        return [diagnostics.write_grass_png(Path(folder) / f"grass_{tag}.png", views, guide["maps"], guide["boxes"],
                                            guide["found"], cropped)]


# ---------------------------------------------------------------------- helpers
def crop_views(views: torch.Tensor, boxes: torch.Tensor, mode: str = "nearest") -> torch.Tensor:
    """Each view's box (row0, col0, row1, col1) resized back to the view size, all at once.

    'nearest' picks source pixel ``box start + floor(i * box size / view size)`` as
    ``F.interpolate(mode='nearest')`` (the authors' code) does; 'bilinear' uses the shared
    ``crop_resize``. A whole-view box returns the view unchanged.
    """
    b, _, h, w = views.shape
    if mode == "bilinear":
        norm = torch.stack([boxes[:, 1] / w, boxes[:, 0] / h, boxes[:, 3] / w, boxes[:, 2] / h], dim=1)
        return augment.crop_resize(views, norm.to(views.dtype), (h, w))
    rows = boxes[:, :1] + torch.div(torch.arange(h, device=views.device) * (boxes[:, 2:3] - boxes[:, :1]), h,
                                    rounding_mode="floor")
    cols = boxes[:, 1:2] + torch.div(torch.arange(w, device=views.device) * (boxes[:, 3:4] - boxes[:, 1:2]), w,
                                     rounding_mode="floor")
    index = torch.arange(b, device=views.device).view(b, 1, 1)
    return views.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def box_area_fraction(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Share of the view each box covers."""
    h, w = size
    return ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).float() / float(h * w)


CONFIG_CLASS = GraSSConfig
METHOD_CLASS = GraSSMethod
