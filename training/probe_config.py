"""Settings of a linear probe (no torch import: QGIS builds the rsseg:probe form from the
defaults when the plugin loads). See :mod:`training.probe` for the protocol."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProbeConfig:
    """Everything a probe run depends on; saved in its JSON report."""

    checkpoint: str = ""                      # pretraining or fine-tuned checkpoint; "" = random init only
    images: list[str] = field(default_factory=list)        # training images of the linear classifier
    labels: list[str] = field(default_factory=list)        # one label raster per image
    test_images: list[str] = field(default_factory=list)   # scored images; empty = hold out a part of each image
    test_labels: list[str] = field(default_factory=list)
    bands: list[int] = field(default_factory=list)         # 1-based; empty = the checkpoint's / all
    ignore_index: int = 255
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    output_stride: int = 16                   # 16 or 8 (3x slower on a CPU), the same for both networks
    max_pixels_per_image: int = 5000          # labelled pixels sampled per training image and seed
    holdout_fraction: float = 0.25            # without test images: bottom share of rows scored
    sdcluster_state: str = "student"          # SDCluster: probe the student's (HANDOVER default) or the EMA teacher's
    timestep: int = 50                        # diffusion: noise level t of the denoiser features
    backbone: str = "resnet18"                # the random network when checkpoint is ""
    recalibrate_pretrained: bool = True       # recalibrate the pretrained BN statistics too (the random one always)
    bn_tiles: int = 8                         # tiles of the training images used to recalibrate BatchNorm
    tile_size: int = 512                      # network input tile (plus 32 px of context per side)
    weight_decay: float = 1e-4                # L2 penalty of the classifier (on standardised features)
    max_iterations: int = 100                 # L-BFGS iterations
    class_names: list[str] = field(default_factory=list)   # empty = from the label raster, else "class k"
    device: str = "auto"

    def validate(self) -> None:
        """Raise ValueError naming the parameter for settings the probe cannot run with."""
        if not self.images:
            raise ValueError("INPUT_IMAGES: give at least one labelled training image")
        if len(self.labels) != len(self.images):
            raise ValueError(
                f"LABELS: {len(self.labels)} label raster(s) for {len(self.images)} image(s); give one per image"
            )
        if len(self.test_labels) != len(self.test_images):
            raise ValueError(
                f"TEST_LABELS: {len(self.test_labels)} label raster(s) for {len(self.test_images)} test image(s); "
                "give one per test image"
            )
        if not self.seeds:
            raise ValueError("SEEDS: give at least one seed, e.g. 0,1,2,3,4")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"SEEDS: each seed once, got {self.seeds}")
        if self.output_stride not in (8, 16):
            raise ValueError(f"OUTPUT_STRIDE must be 8 or 16, got {self.output_stride}")
        if self.max_pixels_per_image < 10:
            raise ValueError(f"MAX_PIXELS_PER_IMAGE must be at least 10, got {self.max_pixels_per_image}")
        if not 0.05 <= self.holdout_fraction <= 0.8:
            raise ValueError(f"HOLDOUT_FRACTION must lie in [0.05, 0.8], got {self.holdout_fraction}")
        if self.tile_size < 64 or self.tile_size % 32:
            raise ValueError(f"TILE_SIZE must be a multiple of 32, at least 64, got {self.tile_size}")
        if self.weight_decay < 0 or self.max_iterations < 1:
            raise ValueError("WEIGHT_DECAY must be >= 0 and MAX_ITERATIONS >= 1")
