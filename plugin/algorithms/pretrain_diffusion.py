"""rsseg:pretrain_diffusion: train a DDPM denoiser on unlabeled imagery (stage 1 of Diff-HRNet)."""
from __future__ import annotations

from .pretrain_base import PretrainAlgorithm


class PretrainDiffusionAlgorithm(PretrainAlgorithm):
    """rsseg:pretrain_diffusion: the shared pretraining form for the DDPM denoiser (no BACKBONE)."""

    method_name = "diffusion"
    algorithm_name = "pretrain_diffusion"
    backbones: list[str] = []  # the backbone is the diffusion UNet, sized by PRESET

    def displayName(self) -> str:
        return self.tr("Pretrain a diffusion model (Diff-HRNet stage 1)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Teaches a denoising diffusion model (DDPM, epsilon prediction) the look of your unlabeled "
            "imagery, for any number of bands. The checkpoint is then used by rsseg:finetune with "
            "ARCHITECTURE diff_hrnet, which freezes the denoiser and fuses its features into an HRNet.\n\n"
            "Inputs: raster layers and/or a folder of rasters (files ending in _label/_mask are skipped). "
            "BANDS selects 1-based bands (empty = all); fine-tuning must use the same bands.\n\n"
            "Size of the run: each epoch draws PATCHES_PER_EPOCH random patches (0 = about one pass over "
            "the imagery), so the number of optimiser steps is EPOCHS x PATCHES_PER_EPOCH / BATCH_SIZE. "
            "To train for N steps, set EPOCHS 1 and PATCHES_PER_EPOCH N x BATCH_SIZE.\n\n"
            "PRESET small (about 5 M parameters) trains on a CPU; large (about 30 M) wants a GPU. "
            "BASE_CHANNELS, CHANNEL_MULTS, BLOCKS_PER_LEVEL and ATTENTION_LEVELS override the preset. "
            "SCHEDULE linear or cosine, TIMESTEPS T (default 1000). The checkpoint keeps an exponential "
            "moving average of the weights (EMA_DECAY), which is what Diff-HRNet uses.\n\n"
            "Check: after every epoch a PNG is written in <checkpoint>_diagnostics/: the top row shows real "
            "patches, the bottom row images the model generated from noise with SAMPLE_STEPS DDIM steps. "
            "They should come to resemble your imagery as training goes on.\n\n"
            "With RESUME, an existing OUTPUT_CHECKPOINT is continued; cancelling saves the state reached."
        )
