"""Configuration of GraSS pretraining (no torch import: QGIS builds its form from it).

GraSS (Zhang et al., TGRS 2023; code GeoX-Lab/GraSS) = SimCLR warm-up, then SimCLR on
regions chosen by the gradient of the contrastive loss. Defaults follow the authors'
configuration (``grass_1gpu_resnet_b256.yaml`` and ``GraSS_train_step.py``) where it
publishes a value; fields marked [gap] are choices of ours, documented in docs/grass.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from training.config import PretrainConfig

OPTIMIZERS = ("sgd_lars", "adamw")
REGION_RESOLUTIONS = ("view", "feature")
MAP_SIGNS = ("signed", "absolute")
RESIZE_MODES = ("nearest", "bilinear")


@dataclass
class GraSSConfig(PretrainConfig):
    """GraSS settings on top of the shared pretraining fields.

    ``learning_rate`` is the peak rate for ``lr_reference_batch`` = 256 patches, the authors'
    4.8 (VISSL ``auto_scale: false``: 0.6 -> 4.8 warm-up, then cosine, at batch 256); the
    optimiser uses it square-root scaled to the global batch B, 4.8 * sqrt(B / 256) (1.2 at
    B = 16), the small-batch SimCLR rule. The former 0.3 * B / 256 with LARS trust 1e-3 moved
    each layer by 2e-5 of its norm per step: nothing was learnt in a CPU budget.
    """

    # --- schedule of the two stages ---
    warmup_epochs: int = 3                # [gap] epochs of plain SimCLR (ID warm-up) before GS training
    # --- contrastive task (SimCLR) ---
    temperature: float = 0.5              # NT-Xent temperature [code]
    projection_dim: int = 128             # embedding size [code]
    projection_hidden: int = 0            # hidden width of the projection MLP; 0 = encoder channels [code: 2048 on R50]
    # --- gradient-guided sampling ---
    region_threshold: float = 0.5         # keep map > min + ratio * (max - min) [code: control_ratio]
    region_resolution: str = "view"       # "view": threshold the map upsampled to the view [code];
                                          # "feature": the h x w map
    map_sign: str = "signed"              # "signed": map / its max, sign kept [code];
                                          # "absolute": |map| / max|map| [ours]
    crop_resize_mode: str = "nearest"     # how a chosen box is resized back to the view size [code: nearest]
    # --- augmentations (SimCLR recipe [code], per band for any band count) ---
    crop_scale_min: float = 0.08          # random resized crop area range (torchvision default, used by the code)
    crop_scale_max: float = 1.0
    flip_rotate: bool = True              # random flips and 90-degree turns (the code: h-flip 0.5;
                                          # overhead imagery has no "up")
    jitter_probability: float = 0.8       # colour jitter probability
    jitter_brightness: float = 0.8        # strength 1 distortion: (0.8, 0.8, 0.8, 0.2)
    jitter_contrast: float = 0.8
    jitter_saturation: float = 0.8        # RGB only; per-band rasters get brightness/contrast per band
    jitter_hue: float = 0.2               # RGB only
    grayscale_probability: float = 0.2    # RGB (3-band) only
    blur_probability: float = 0.5
    blur_sigma_min: float = 0.1
    blur_sigma_max: float = 2.0
    # --- optimiser ---
    optimizer: str = "sgd_lars"           # "sgd_lars" [code: SGD + LARC] or "adamw"
    momentum: float = 0.9                 # SGD momentum [code]
    lars_trust: float = 0.001             # LARC trust coefficient [code]
    # shared fields with GraSS defaults
    learning_rate: float = 4.8            # peak, for lr_reference_batch patches [code: 4.8 at 256]
    lr_reference_batch: int = 256         # [code]
    lr_scaling: str = "sqrt"              # [ours] the authors train at 256; sqrt keeps small batches learning
    warmup_fraction: float = 0.1          # linear LR warm-up share of all steps [code: 0.1]
    weight_decay: float = 1e-6            # [code]; not applied to BatchNorm parameters [code: regularize_bn False]
    epochs: int = 10
    batch_size: int = 16
