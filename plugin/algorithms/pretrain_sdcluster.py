"""rsseg:pretrain_sdcluster: SDCluster pixel-clustering self-distillation on unlabeled imagery."""
from __future__ import annotations

from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from .pretrain_base import PretrainAlgorithm


class PretrainSdclusterAlgorithm(PretrainAlgorithm):
    """rsseg:pretrain_sdcluster: the shared pretraining form for method ``sdcluster``."""

    method_name = "sdcluster"
    algorithm_name = "pretrain_sdcluster"
    PROTOTYPES = "PROTOTYPES"
    extra_main_fields = {
        "prototypes": (PROTOTYPES, QT_TRANSLATE_NOOP("PretrainSdclusterAlgorithm", "Number of cluster prototypes")),
    }

    def displayName(self) -> str:
        return self.tr("Pretrain a ResNet with SDCluster (pixel clustering, shows its clusters)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Teaches a ResNet encoder what your imagery looks like without any labels by clustering its pixels, "
            "so that a segmentation model fine-tuned from it (rsseg:finetune, DeepLabV3+) needs fewer labelled "
            "pixels. Method: SDCluster (Xu et al., ISPRS J. Photogramm. 2025). Unlike other pretraining, you can "
            "judge the result without labels: look at its clusters (rsseg:cluster_map).\n\n"
            "How it works: every patch is shown twice, as two overlapping crops with flips and colour changes. "
            "A student network gives every pixel a probability over PROTOTYPES learnable cluster centres; a "
            "teacher network (a slowly moving average of the student) gives balanced cluster assignments "
            "(Sinkhorn-Knopp, so that no cluster swallows everything). On the ground both crops share, each "
            "student pixel learns to predict the teacher's cluster of the same place seen in the other crop. A "
            "second term pools one feature per cluster per patch and asks the student to recognise the "
            "teacher's feature of the same cluster among all the others, which keeps clusters meaningful and "
            "drops the unused ones.\n\n"
            "Inputs: raster layers and/or a folder of rasters (files ending in _label/_mask are skipped); any "
            "number of bands, BANDS selects 1-based bands (empty = all) and fine-tuning must use the same ones. "
            "PATCH_SIZE at least 32 (two crops of it are made; the paper uses 224). PROTOTYPES: the number of "
            "clusters the network may use; 0 (default) = one per PIXELS_PER_PROTOTYPE feature-map pixels of a "
            "batch (100, as the paper), between 8 and 256 (the paper: 256 for batches of 128 patches); the "
            "cluster map can merge them into fewer.\n\n"
            "Learning rate: LEARNING_RATE is the peak rate for LR_REFERENCE_BATCH patches (paper: 0.00125 per "
            "128, AdamW, weight decay 0.05), scaled to BATCH_SIZE by LR_SCALING: sqrt (default) multiplies it "
            "by the square root of BATCH_SIZE / LR_REFERENCE_BATCH, linear by the ratio itself; set "
            "LR_REFERENCE_BATCH to 0 to use LEARNING_RATE as it is. The first WARMUP_FRACTION of the steps "
            "warm up. HANDOVER: the encoder fine-tuning starts from, the student (default: after a few hundred "
            "steps it probes better than the moving-average teacher, docs/results.md) or the teacher (SlotCon's "
            "choice, for long runs); both are kept in the checkpoint.\n\n"
            "Check: after every epoch (or every DIAGNOSTICS_EVERY steps) a PNG is written in "
            "<checkpoint>_diagnostics/: a few patches beside the teacher's cluster map, one colour per "
            "prototype. Regions of one land cover should take one colour as training goes on. The log shows "
            "the two losses (sd, ctr) and how many clusters the teacher uses.\n\n"
            "Advanced: OUTPUT_STRIDE 16 or 8 (finer cluster maps, slower), the temperatures, crop scales and "
            "minimum overlap, colour changes, the teacher momentum ramp (MOMENTUM_START to MOMENTUM_END) and "
            "CLUSTER_BRANCH (the network cluster maps use: teacher, or student).\n\n"
            "With RESUME, an existing OUTPUT_CHECKPOINT is continued; cancelling saves the state reached."
        )
