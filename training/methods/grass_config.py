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

    ``learning_rate`` is the rate *per 256 patches*: the optimiser uses
    ``learning_rate * batch_size / 256`` (the authors' 0.3 per 256 with LARS).
    """

    # --- schedule of the two stages ---
    warmup_epochs: int = 3                # [gap] epochs of plain SimCLR (ID warm-up) before GS training
    # --- contrastive task (SimCLR) ---
    temperature: float = 0.5              # NT-Xent temperature [code]
    projection_dim: int = 128             # embedding size [code]
    projection_hidden: int = 0            # hidden width of the projection MLP; 0 = encoder channels [code: 2048 on R50]
    # --- gradient-guided sampling ---
    region_threshold: float = 0.5         # keep map > min + ratio * (max - min) [code: control_ratio]
    region_resolution: str = "view"       # "view": threshold the map upsampled to the view [code]; "feature": the h x w map
    map_sign: str = "signed"              # "signed": map / its max, sign kept [code]; "absolute": |map| / max|map| [ours]
    crop_resize_mode: str = "nearest"     # how a chosen box is resized back to the view size [code: nearest]
    # --- augmentations (SimCLR recipe [code], per band for any band count) ---
    crop_scale_min: float = 0.08          # random resized crop area range (torchvision default, used by the code)
    crop_scale_max: float = 1.0
    flip_rotate: bool = True              # random flips and 90-degree turns (the code: h-flip 0.5; overhead imagery has no "up")
    jitter_prob: float = 0.8              # colour jitter probability
    jitter_brightness: float = 0.8        # strength 1 distortion: (0.8, 0.8, 0.8, 0.2)
    jitter_contrast: float = 0.8
    jitter_saturation: float = 0.8        # RGB only; per-band rasters get brightness/contrast per band
    jitter_hue: float = 0.2               # RGB only
    grayscale_prob: float = 0.2           # RGB (3-band) only
    blur_prob: float = 0.5
    blur_sigma_min: float = 0.1
    blur_sigma_max: float = 2.0
    # --- optimiser ---
    optimizer: str = "sgd_lars"           # "sgd_lars" [code: SGD + LARC] or "adamw"
    momentum: float = 0.9                 # SGD momentum [code]
    lars_trust: float = 0.001             # LARC trust coefficient [code]
    lr_warmup_fraction: float = 0.1       # linear LR warm-up as a fraction of all steps when warmup_steps is 0 [code: 0.1]
    # shared fields with GraSS defaults
    learning_rate: float = 0.3            # per 256 patches [code]
    weight_decay: float = 1e-6            # [code]; not applied to BatchNorm parameters [code: regularize_bn False]
    epochs: int = 10
    batch_size: int = 16
