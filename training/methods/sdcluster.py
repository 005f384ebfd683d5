"""SDCluster: pixel-level clustering self-distillation (Xu, Zhang, Yue, Wang; ISPRS J. 2025).

    patch ──► two overlapping crops (random scale, flip, colour) ──► view 1, view 2
    view ──► student: ResNet encoder ─► 1x1-conv projector ─► pixel embeddings (D)
                      cosine(embedding, K prototypes) ─► scores (B, K, h, w)
    view ──► teacher: same network, weights = EMA of the student, no gradients
                      scores ─► Sinkhorn-Knopp (balanced assignments) ─► targets

    SD  (clustering self-distillation): both score maps are resampled onto the two views'
        common ground and un-flipped, then each student pixel is trained to predict the
        teacher's balanced assignment of the *other* view at the same place
        (cross-entropy against log-softmax(scores / 0.1)).
    CTR (prototype filtering + semantic consistency): one feature ("slot") per prototype
        per image, soft-pooled with the prototype's attention over the pixels; only
        prototypes that win at least one pixel in both views are kept; a predictor MLP on
        the student slots must recognise the teacher slot of the same prototype and
        image among all kept teacher slots (InfoNCE at tau 0.2, scaled by 2*tau).

    L = sd_weight * (SD_12 + SD_21) + ctr_weight * (CTR_12 + CTR_21)

Follows the authors' released code (openrsgis/SDCluster, ``pretrain/model/sdcluster.py``),
itself built on SlotCon: Sinkhorn on the full teacher map, then alignment; slot attention
is a softmax over prototypes at each pixel, normalised over the pixels; the teacher's
winners in CTR are those of its Sinkhorn assignment. The Swin-S backbone is replaced by
the project's dilated ResNet so that fine-tuning (DeepLabV3+) loads the weights as they are.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from training import diagnostics
from training.collapse import prototype_usage
from training.config import warmup_steps_for
from training.data.augment import gaussian_blur, jitter_bands, random_grayscale
from training.distributed import all_gather_cat
from training.loop import cpu_state
from training.methods.overlap_views import align_to_overlap, make_view_pair
from training.methods.sdcluster_config import BRANCHES, SDClusterConfig, resolve_prototypes
from training.methods.sinkhorn import sinkhorn_maps
from training.nets.resnet import ResNetEncoder, backbone_depth
from training.pretrain_loop import PretrainMethod
from training.runtime import cosine_ramp, warmup_cosine_scheduler


# ----------------------------------------------------------------------------- building blocks
def _trunc_normal_init(module: nn.Module) -> None:
    """Authors' head initialisation: weights ~ N(0, 0.02) truncated, biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class PixelProjector(nn.Sequential):
    """1x1-conv MLP: encoder channels -> hidden -> hidden -> embedding (GELU, no norm)."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, hidden, 1), nn.GELU(),
            nn.Conv2d(hidden, hidden, 1), nn.GELU(),
            nn.Conv2d(hidden, out_channels, 1),
        )
        _trunc_normal_init(self)


class SlotPredictor(nn.Sequential):
    """MLP on prototype slots: embedding -> hidden -> hidden -> embedding (student only)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, dim),
        )
        _trunc_normal_init(self)


def cosine_scores(embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) embeddings and (K, D) prototypes -> (B, K, h, w) cosine similarities."""
    return torch.einsum("kd,bdhw->bkhw", F.normalize(prototypes, dim=1), F.normalize(embeddings, dim=1))


class DenseBranch(nn.Module):
    """Encoder + projector + prototypes: one network of the student/teacher pair."""

    def __init__(self, config: SDClusterConfig, in_channels: int) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(backbone_depth(config.backbone), in_channels, config.output_stride)
        self.projector = PixelProjector(self.encoder.out_channels, config.projector_hidden, config.embedding_dim)
        # nn.Embedding's N(0, 1) initialisation, as the authors' prototype table
        self.prototypes = nn.Parameter(torch.randn(resolve_prototypes(config), config.embedding_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embeddings (B, D, h, w), cosine scores (B, K, h, w))."""
        embeddings = self.projector(self.encoder(x)[-1])
        return embeddings, cosine_scores(embeddings, self.prototypes)


# ----------------------------------------------------------------------------- losses
def pool_slots(embeddings: torch.Tensor, scores: torch.Tensor, temperature: float, eps: float = 1e-6) -> torch.Tensor:
    """One feature per prototype per image, (B, K, D): the embeddings averaged with the
    prototype's attention, softmax(scores / temperature) over prototypes at each pixel,
    renormalised over the pixels (the authors' ClusterAssignment)."""
    attention = torch.softmax(scores / temperature, dim=1) + eps
    weights = attention / attention.sum(dim=(2, 3), keepdim=True)
    return torch.einsum("bdhw,bkhw->bkd", embeddings, weights)


def self_distillation_loss(student_scores: torch.Tensor, teacher_assignments: torch.Tensor,
                           temperature: float) -> torch.Tensor:
    """Mean over pixels of the cross-entropy from the teacher's assignment to the student's
    log-softmax(scores / temperature); both (B, K, h, w) on the same ground."""
    log_p = F.log_softmax(student_scores / temperature, dim=1)
    return -(teacher_assignments * log_p).sum(dim=1).mean()


def winning_prototypes(scores: torch.Tensor) -> torch.Tensor:
    """(B, K) bool: prototype k is the argmax of at least one pixel of image b."""
    b, k = scores.shape[:2]
    winners = scores.argmax(dim=1).flatten(1)                        # (B, h*w)
    won = torch.zeros(b, k, dtype=torch.bool, device=scores.device)
    return won.scatter_(1, winners, True)


def slot_contrast_loss(
    student_slots: torch.Tensor,
    teacher_slots: torch.Tensor,
    student_won: torch.Tensor,
    teacher_won: torch.Tensor,
    predictor: nn.Module,
    temperature: float,
) -> torch.Tensor:
    """InfoNCE between predicted student slots and teacher slots, over the prototypes that
    win pixels in both views; negatives are every teacher slot that wins pixels (in any
    image, on every process). Scaled by 2 * temperature as in the authors' code."""
    n_local = teacher_slots.shape[0] * teacher_slots.shape[1]
    keys = F.normalize(teacher_slots.flatten(0, 1), dim=1).detach()
    key_mask = teacher_won.flatten().long()
    all_keys = all_gather_cat(keys)
    all_mask = all_gather_cat(key_mask)
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    query_idx = (student_won & teacher_won).flatten().nonzero().squeeze(-1)
    if query_idx.numel() == 0:          # no prototype shared by the views: nothing to contrast
        return student_slots.sum() * 0.0
    key_idx = all_mask.nonzero().squeeze(-1)
    queries = F.normalize(predictor(student_slots.flatten(0, 1)[query_idx]), dim=1)
    logits = queries @ all_keys[key_idx].t() / temperature
    labels = all_mask.cumsum(0)[query_idx + n_local * rank] - 1      # position of the own key
    return F.cross_entropy(logits, labels) * (2 * temperature)


def collapse_signals(
    student_scores: torch.Tensor, teacher_targets: list[torch.Tensor], temperature: float
) -> dict[str, float]:
    """Numbers that show a clustering collapse while it happens, logged every epoch.

    - ``clusters_used``: prototypes that win at least one pixel in the teacher's targets;
    - ``cluster_perplexity``: exp(entropy) of the student's mean assignment over the batch,
      the effective number of prototypes in use (K when spread evenly, 1 when collapsed);
    - ``assignment_confidence``: mean max-probability of the student's pixel assignments
      (near 1/K = nothing learnt; near 1 with a low perplexity = collapse).
    """
    used = prototype_usage(torch.cat(teacher_targets))["prototypes_used"]
    probabilities = torch.softmax(student_scores.float() / temperature, dim=1)
    marginal = probabilities.mean(dim=(0, 2, 3)).clamp_min(1e-12)
    perplexity = torch.exp(-(marginal * marginal.log()).sum())
    return {
        "clusters_used": float(used),
        "cluster_perplexity": float(perplexity),
        "assignment_confidence": float(probabilities.max(dim=1).values.mean()),
    }


# ----------------------------------------------------------------------------- the method
class SDClusterMethod(PretrainMethod):
    """Student/teacher pixel clustering; see the module docstring."""

    name = "sdcluster"

    def __init__(self, config: SDClusterConfig, in_channels: int) -> None:
        super().__init__(config, in_channels)
        self.validate(config)  # before building: the encoder's own error would not name the parameter
        self.student = DenseBranch(config, in_channels)
        self.teacher = copy.deepcopy(self.student)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.predictor = SlotPredictor(config.embedding_dim, config.predictor_hidden)

    # ------------------------------------------------------------------ set-up
    def validate(self, config: SDClusterConfig) -> None:
        """Refuse settings SDCluster cannot train with, naming the parameter and the fix."""
        if config.output_stride not in (8, 16):
            raise ValueError(f"OUTPUT_STRIDE must be 8 or 16 (a dense map), got {config.output_stride}")
        if config.prototypes == 1 or config.prototypes < 0:
            raise ValueError(f"PROTOTYPES must be at least 2 (or 0 = from the batch), got {config.prototypes}")
        if config.pixels_per_prototype < 1:
            raise ValueError(f"PIXELS_PER_PROTOTYPE must be at least 1, got {config.pixels_per_prototype}")
        size = config.view_size or config.patch_size
        if size < 2 * config.output_stride:
            raise ValueError(
                f"PATCH_SIZE/VIEW_SIZE {size} gives a feature map under 2x2 at output stride "
                f"{config.output_stride}; use at least {2 * config.output_stride} pixels"
            )
        if not 0 < config.crop_scale_min <= config.crop_scale_max <= 1:
            raise ValueError("CROP_SCALE_MIN/CROP_SCALE_MAX must satisfy 0 < min <= max <= 1")
        if not 0 <= config.min_overlap <= config.crop_scale_min:
            raise ValueError(
                f"MIN_OVERLAP {config.min_overlap} must lie in [0, CROP_SCALE_MIN={config.crop_scale_min}]: "
                "two crops cannot share more than the smaller one"
            )
        if config.cluster_branch not in BRANCHES:
            raise ValueError(f"CLUSTER_BRANCH must be teacher or student, got {config.cluster_branch!r}")
        if config.handover not in BRANCHES:
            raise ValueError(f"HANDOVER must be teacher or student, got {config.handover!r}")

    def build_optimizer(self, total_steps: int):
        """AdamW (authors' wd 0.05) at the batch-scaled peak rate, warm-up then cosine."""
        c = self.config
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.peak_learning_rate(), weight_decay=c.weight_decay)
        return optimizer, warmup_cosine_scheduler(optimizer, total_steps, warmup_steps_for(c, total_steps))

    # ------------------------------------------------------------------ one step
    def photometric(self, views: torch.Tensor) -> torch.Tensor:
        """Colour jitter, grayscale (RGB only) and blur, independently per view."""
        c = self.config
        views = jitter_bands(views, c.jitter_brightness, c.jitter_contrast, c.jitter_saturation, c.jitter_hue,
                             p=c.jitter_probability)
        views = random_grayscale(views, p=c.grayscale_probability)
        return gaussian_blur(views, p=c.blur_probability)

    def training_step(self, batch: torch.Tensor, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Both views through student and teacher, then the self-distillation and cluster-contrast losses."""
        c = self.config
        size = c.view_size or batch.shape[-1]
        pair = make_view_pair(batch, size, (c.crop_scale_min, c.crop_scale_max), c.min_overlap, c.flip_probability)
        views = [self.photometric(v) for v in pair.views]

        student = [self.student(v) for v in views]                    # (embeddings, scores)
        with torch.no_grad():
            teacher = [self.teacher(v) for v in views]
            targets = [sinkhorn_maps(s, c.teacher_temperature, c.sinkhorn_iterations) for _, s in teacher]

        grid = student[0][1].shape[-2:]
        b1, b2 = pair.boxes
        f1, f2 = pair.flips
        s_aligned = (align_to_overlap(student[0][1], b1, b2, f1, grid),
                     align_to_overlap(student[1][1], b2, b1, f2, grid))
        t_aligned = (align_to_overlap(targets[0], b1, b2, f1, grid), align_to_overlap(targets[1], b2, b1, f2, grid))
        sd_12 = self_distillation_loss(s_aligned[0], t_aligned[1], c.student_temperature)
        sd_21 = self_distillation_loss(s_aligned[1], t_aligned[0], c.student_temperature)

        s_slots = [pool_slots(e, s, c.attention_temperature) for e, s in student]
        with torch.no_grad():
            t_slots = [pool_slots(e, s, c.attention_temperature) for e, s in teacher]
        s_won = [winning_prototypes(s.detach()) for _, s in student]
        t_won = [winning_prototypes(t) for t in targets]
        ctr_12 = slot_contrast_loss(s_slots[0], t_slots[1], s_won[0], t_won[1], self.predictor, c.contrast_temperature)
        ctr_21 = slot_contrast_loss(s_slots[1], t_slots[0], s_won[1], t_won[0], self.predictor, c.contrast_temperature)

        loss = c.sd_weight * (sd_12 + sd_21) + c.ctr_weight * (ctr_12 + ctr_21)
        return loss, {
            "sd": float((sd_12 + sd_21).detach()) / 2,
            "ctr": float((ctr_12 + ctr_21).detach()) / 2,
            **collapse_signals(student[0][1].detach(), targets, c.student_temperature),
            "momentum": self.momentum(step, total_steps),
        }

    def momentum(self, step: int, total_steps: int) -> float:
        """Teacher EMA momentum at this step: a cosine ramp, so the teacher settles as training ends."""
        return cosine_ramp(step, total_steps, self.config.momentum_start, self.config.momentum_end)

    @torch.no_grad()
    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Teacher <- m * teacher + (1 - m) * student, m on a cosine ramp 0.99 -> 1."""
        m = self.momentum(step, total_steps)
        for t, s in zip(self.teacher.parameters(), self.student.parameters()):
            t.mul_(m).add_(s.detach(), alpha=1.0 - m)

    # ------------------------------------------------------------------ outputs
    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The ResNetEncoder weights fine-tuning loads: the student's by default (``handover``).

        SlotCon, which SDCluster builds on, transfers the EMA teacher, but after the runs a CPU
        affords (400 steps: the momentum ramp 0.99 -> 1 leaves the teacher a lagging average of
        an early student) the student probed better at every snapshot (+1.1 +- 0.3 mIoU over
        the teacher at the full budget, 5 paired seeds, docs/results.md). Both encoders are kept
        (:meth:`extra_checkpoint_state`), so HANDOVER or a probe can take the other one.
        """
        return self.branch(self.config.handover).encoder.state_dict()

    def extra_checkpoint_state(self) -> dict[str, Any]:
        """Encoder width and both branches' encoders (``teacher_encoder`` / ``student_encoder``)."""
        return {
            "encoder_channels": self.student.encoder.out_channels,
            "handover": self.config.handover,
            "teacher_encoder": cpu_state(self.teacher.encoder),
            "student_encoder": cpu_state(self.student.encoder),
        }

    def branch(self, which: str | None = None) -> DenseBranch:
        """The network whose clusters are shown and exported (config.cluster_branch)."""
        return self.teacher if (which or self.config.cluster_branch) == "teacher" else self.student

    @torch.no_grad()
    def cluster_ids(self, batch: torch.Tensor, which: str | None = None) -> torch.Tensor:
        """(B, H, W) long: winning prototype per pixel at input resolution."""
        _, scores = self.branch(which)(batch)
        scores = F.interpolate(scores, size=batch.shape[-2:], mode="bilinear", align_corners=False)
        return scores.argmax(dim=1)

    def write_diagnostics(self, batch: torch.Tensor, folder: Path, tag: str) -> list[Path]:
        """One PNG: each patch beside its cluster map (argmax over the prototypes)."""
        path = Path(folder) / f"sdcluster_clusters_{tag}.png"
        return [diagnostics.write_cluster_png(path, batch, self.cluster_ids(batch),
                                              self.student.prototypes.shape[0])]


CONFIG_CLASS = SDClusterConfig
METHOD_CLASS = SDClusterMethod
