"""rsseg:pretrain_grass: GraSS self-supervised pretraining of a ResNet on unlabeled imagery."""
from __future__ import annotations

from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from .pretrain_base import PretrainAlgorithm


class PretrainGrassAlgorithm(PretrainAlgorithm):
    """rsseg:pretrain_grass: the shared pretraining form for method ``grass``."""

    method_name = "grass"
    algorithm_name = "pretrain_grass"
    WARMUP_EPOCHS = "WARMUP_EPOCHS"
    extra_main_fields = {
        "warmup_epochs": (WARMUP_EPOCHS, QT_TRANSLATE_NOOP("PretrainGrassAlgorithm",
                                                           "Warm-up epochs (plain contrastive learning first)")),
    }

    def displayName(self) -> str:
        return self.tr("Pretrain a ResNet with GraSS (gradient-guided contrastive learning)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Teaches a ResNet encoder what your imagery looks like without any labels, so that a "
            "segmentation model fine-tuned from it (rsseg:finetune, DeepLabV3+) needs fewer labelled pixels. "
            "Method: GraSS (Zhang et al., IEEE TGRS 2023).\n\n"
            "How it works: random patches are cut from the rasters and each is shown twice, with different "
            "crops, flips, colour changes and blur. The network learns to recognise the two versions of a "
            "patch among all the others in the batch (contrastive learning). For the first WARMUP_EPOCHS "
            "it does just that. Afterwards, at every step, it first asks which part of each patch it relied "
            "on to recognise it (the gradient of its loss, as a heat map), keeps the box around the hottest "
            "area (usually one kind of object: a roof, a field, a patch of water) and learns on those boxes "
            "instead of the whole mixed scene. This makes the features object-level, which segmentation "
            "needs.\n\n"
            "Inputs: raster layers and/or a folder of rasters (files ending in _label/_mask are skipped); "
            "any number of bands, BANDS selects 1-based bands (empty = all) and fine-tuning must use the "
            "same ones. PATCH_SIZE at least 64 (the paper uses 224). BATCH_SIZE at least 2; larger batches "
            "give more patches to contrast with and train better (the paper: 256).\n\n"
            "Size of the run: each epoch draws PATCHES_PER_EPOCH random patches (0 = about one pass over "
            "the imagery); WARMUP_EPOCHS must be smaller than EPOCHS.\n\n"
            "Learning rate: LEARNING_RATE is the peak rate for LR_REFERENCE_BATCH patches (4.8 for 256 with "
            "the default SGD + LARS optimiser, as the authors' run); it is scaled to BATCH_SIZE by LR_SCALING: "
            "sqrt (default) multiplies it by the square root of BATCH_SIZE / LR_REFERENCE_BATCH (1.2 at a "
            "batch of 16), linear by the ratio itself. The first WARMUP_FRACTION of the steps warm up.\n\n"
            "Check: after every epoch a PNG is written in <checkpoint>_diagnostics/: for a few patches, each "
            "view, its heat map (red = what the network relied on) and the chosen box. The log shows for "
            "every epoch the stage (1 warm-up, 2 guided), the loss, the share of views where a region was "
            "found and how much of the view it covers, and patches per second.\n\n"
            "With RESUME, an existing OUTPUT_CHECKPOINT is continued; cancelling saves the state reached."
        )
