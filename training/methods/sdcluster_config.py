"""SDCluster's configuration (no torch import: QGIS builds its forms from these fields).

Defaults follow the authors' released configuration (openrsgis/SDCluster,
``pretrain/config/config_pretrain.yaml`` and ``pretrain/model/sdcluster.py``); where this
project deviates (ResNet instead of Swin-S, a 2 % minimum overlap) the field says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from training.config import PretrainConfig


@dataclass
class SDClusterConfig(PretrainConfig):
    """Pixel-level clustering self-distillation (Xu et al., ISPRS J. 2025)."""

    # --- optimisation (authors: AdamW, base lr 1.25e-3 for batch 128, wd 0.05, 20/100 warm-up epochs)
    learning_rate: float = 1.25e-3        # peak, for a batch of ``lr_reference_batch`` patches [code]
    lr_reference_batch: int = 128         # [code]; scaled to the batch by lr_scaling (0 = used as is)
    lr_scaling: str = "sqrt"              # [ours] the authors scale linearly from 128; sqrt suits AdamW at small batch
    weight_decay: float = 0.05
    warmup_fraction: float = 0.2          # share of all steps spent warming up [code: 20 of 100 epochs]
    # --- network
    output_stride: int = 16               # 16 (authors' Swin-S) or 8: dilated ResNet keeps the map dense
    projector_hidden: int = 2048          # 1x1-conv MLP encoder -> hidden -> hidden -> embedding_dim
    embedding_dim: int = 256
    predictor_hidden: int = 2048          # MLP on the student's prototype slots (CTR term)
    prototypes: int = 0                   # K learnable cluster prototypes; 0 = one per pixels_per_prototype
    pixels_per_prototype: int = 100       # [code: ~100] feature-map pixels per prototype in a Sinkhorn batch
    # --- assignments and losses
    teacher_temperature: float = 0.07     # Sinkhorn-Knopp on teacher cosine scores
    sinkhorn_iterations: int = 3
    student_temperature: float = 0.1      # student log-softmax
    attention_temperature: float = 0.07   # soft pooling of one slot per prototype
    contrast_temperature: float = 0.2     # InfoNCE between student and teacher slots (loss x 2*tau)
    sd_weight: float = 0.5                # L = sd_weight*(SD12+SD21) + ctr_weight*(CTR12+CTR21)
    ctr_weight: float = 0.5
    momentum_start: float = 0.99          # teacher EMA momentum, cosine ramp to momentum_end
    momentum_end: float = 1.0
    # --- views (two global crops of each patch)
    view_size: int = 0                    # crops are resized to this; 0 = the patch size
    crop_scale_min: float = 0.25          # crop area share of the patch
    crop_scale_max: float = 1.0
    min_overlap: float = 0.02             # the two crops share at least this share of the patch
    flip_probability: float = 0.5         # horizontal flip per view
    jitter_probability: float = 0.8       # colour jitter (0.4, 0.4, 0.2, 0.1) per view
    jitter_brightness: float = 0.4
    jitter_contrast: float = 0.4
    jitter_saturation: float = 0.2
    jitter_hue: float = 0.1
    grayscale_probability: float = 0.2
    blur_probability: float = 0.5
    # --- outputs
    cluster_branch: str = "teacher"       # network the cluster map uses: teacher (EMA, smoother) or student
    handover: str = "student"             # encoder fine-tuning starts from [SlotCon: the teacher]; the student
                                          # probes better after CPU-length runs (docs/results.md); both kept


BRANCHES = ("teacher", "student")
MIN_PROTOTYPES, MAX_PROTOTYPES = 8, 256


def resolve_prototypes(config: SDClusterConfig) -> int:
    """K for a run: ``prototypes`` when set, else one prototype per ``pixels_per_prototype``
    pixels of one Sinkhorn batch (the teacher's scores of one view over the local batch),
    clamped to [8, 256].

    Sinkhorn-Knopp spreads a batch's pixels evenly over the K prototypes. The authors have
    128 patches x 14 x 14 = 25088 pixels for K = 256 (~100 per prototype); a CPU batch of 16
    patches of 128 px at output stride 16 has 1024 pixels, which K = 256 splits 4 to a
    prototype: assignments become noise and the prototypes in use collapse (64 -> 19 in a
    12-minute run). The per-process batch is used so a resumed run on another number of
    processes keeps its K.

    >>> resolve_prototypes(SDClusterConfig(batch_size=16, patch_size=128, output_stride=16))
    10
    """
    if config.prototypes > 0:
        return config.prototypes
    side = -(-(config.view_size or config.patch_size) // config.output_stride)
    pixels = config.batch_size * side * side
    return int(min(MAX_PROTOTYPES, max(MIN_PROTOTYPES, round(pixels / max(1, config.pixels_per_prototype)))))
