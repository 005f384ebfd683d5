"""Label and help text of every advanced pretraining parameter, by config field name.

The advanced parameters are generated from the methods' config dataclasses (one per field),
so their texts cannot be written beside an ``addParameter`` call; they live here, marked
with QT_TRANSLATE_NOOP under the context of the shared form (``PretrainAlgorithm``) so
pylupdate5 collects them and ``self.tr()`` finds their translations. A test checks that
every field a method exposes has an entry, so a new config field cannot appear untranslated.
"""
from __future__ import annotations

from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

# field name -> (label, help). Both are QT_TRANSLATE_NOOP'd: the text is unchanged here,
# self.tr() translates it when the form is built.
FIELD_TEXTS: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ every method
    "patches_per_epoch": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Patches per epoch"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Random patches drawn per epoch; 0 = about one pass over the imagery."),
    ),
    "weight_decay": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Weight decay"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "L2 penalty on the weights; keeps them small so training stays stable."),
    ),
    "warmup_steps": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Learning-rate warm-up steps"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Optimiser steps of linear learning-rate warm-up before the cosine "
                                               "decay; 0 = WARMUP_FRACTION of the run."),
    ),
    "seed": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Random seed"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Same seed and inputs give the same patches and initial weights."),
    ),
    "num_workers": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Data loading worker processes"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Processes that read patches while the network trains; 0 = read in "
                                               "the training process (safest inside QGIS)."),
    ),
    "diagnostics_every": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Diagnostic image every N steps"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Steps between the diagnostic PNGs written next to the checkpoint; "
                                               "0 = one per epoch."),
    ),
    # ------------------------------------------------------------------ GraSS
    "temperature": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Contrastive temperature"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "NT-Xent temperature: lower values push harder on the most similar "
                                               "other patches (paper: 0.5)."),
    ),
    "projection_dim": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Projection size"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Size of the embedding the contrastive loss compares (paper: 128)."),
    ),
    "projection_hidden": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Projection hidden width"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Hidden width of the projection MLP; 0 = the encoder's channels."),
    ),
    "region_threshold": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Region threshold"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Share of the heat map's range a pixel must exceed to belong to the "
                                               "guided region (paper: 0.5)."),
    ),
    "region_resolution": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Region resolution"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'view': threshold the heat map upsampled to the view (paper's code); "
                                               "'feature': threshold it at feature-map resolution."),
    ),
    "map_sign": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Heat map sign"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'signed': the map divided by its maximum (paper's code); "
                                               "'absolute': its magnitude."),
    ),
    "crop_resize_mode": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Region resize mode"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "How a chosen region is resized back to the view size: 'nearest' "
                                               "(paper's code) or 'bilinear'."),
    ),
    "crop_scale_min": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Smallest crop (share of the patch)"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Smallest area of a random crop, as a share of the patch."),
    ),
    "crop_scale_max": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Largest crop (share of the patch)"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Largest area of a random crop, as a share of the patch."),
    ),
    "flip_rotate": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Random flips and quarter turns"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Overhead imagery has no 'up', so flipped and turned views are "
                                               "still the same ground."),
    ),
    "jitter_brightness": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Colour jitter: brightness"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Strength of random brightness changes (per band on non-RGB rasters)."),
    ),
    "jitter_contrast": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Colour jitter: contrast"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Strength of random contrast changes (per band on non-RGB rasters)."),
    ),
    "jitter_saturation": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Colour jitter: saturation"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Strength of random saturation changes (3-band rasters only)."),
    ),
    "jitter_hue": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Colour jitter: hue"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Strength of random hue shifts (3-band rasters only)."),
    ),
    "blur_sigma_min": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Blur: smallest sigma"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Smallest Gaussian blur radius (pixels) of a blurred view."),
    ),
    "blur_sigma_max": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Blur: largest sigma"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Largest Gaussian blur radius (pixels) of a blurred view."),
    ),
    "optimizer": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Optimiser"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'sgd_lars': SGD with LARS (paper, for large batches); 'adamw': "
                                               "learns faster with small batches on a CPU."),
    ),
    "momentum": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "SGD momentum"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Momentum of the SGD optimiser (paper: 0.9)."),
    ),
    "lars_trust": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "LARS trust coefficient"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Scales each layer's step to its weights' size (paper: 0.001)."),
    ),
    # ------------------------------------------------------------------ SDCluster
    "lr_reference_batch": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Learning-rate reference batch"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "LEARNING_RATE is the peak rate for a batch of this many patches; "
                                               "other batches scale it by LR_SCALING; 0 = use it as it is."),
    ),
    "output_stride": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Output stride"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "16 or 8: input pixels per cluster-map pixel; 8 gives finer maps and "
                                               "is slower."),
    ),
    "projector_hidden": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Projector hidden width"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Hidden width of the pixel projector (paper: 2048)."),
    ),
    "embedding_dim": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Pixel embedding size"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Size of the per-pixel embedding compared with the prototypes."),
    ),
    "predictor_hidden": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Predictor hidden width"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Hidden width of the MLP that predicts the teacher's cluster features."),
    ),
    "teacher_temperature": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Teacher temperature"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sharpness of the teacher's balanced (Sinkhorn) cluster assignments."),
    ),
    "sinkhorn_iterations": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sinkhorn iterations"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Balancing iterations that keep one cluster from taking every pixel."),
    ),
    "student_temperature": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Student temperature"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sharpness of the student's cluster probabilities."),
    ),
    "attention_temperature": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Cluster pooling temperature"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sharpness of the attention that pools one feature per cluster."),
    ),
    "contrast_temperature": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Cluster contrast temperature"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Temperature of the loss that tells the clusters' features apart."),
    ),
    "sd_weight": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Weight of the self-distillation loss"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Weight of the pixel term: each student pixel predicts the teacher's "
                                               "cluster of the same place in the other view."),
    ),
    "ctr_weight": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Weight of the cluster contrast loss"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Weight of the cluster term: keeps the clusters distinct and drops "
                                               "unused ones."),
    ),
    "momentum_start": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Teacher momentum at the start"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Share of the teacher kept at each step at the start; it follows the "
                                               "student more slowly as the momentum rises."),
    ),
    "momentum_end": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Teacher momentum at the end"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Momentum reached at the last step (cosine ramp from the start value)."),
    ),
    "view_size": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "View size (pixels)"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Both crops are resized to this size; 0 = the patch size."),
    ),
    "min_overlap": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Smallest overlap of the two views"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "The two crops share at least this share of the patch, so there is "
                                               "common ground to compare."),
    ),
    "flip_probability": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Flip probability"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Probability that a view is flipped horizontally."),
    ),
    "cluster_branch": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Network shown in cluster maps"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'teacher' (moving average, smoother maps) or 'student'."),
    ),
    # ------------------------------------------------------------------ diffusion
    "preset": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Denoiser size preset"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'small' (about 5 M parameters) trains on a CPU; 'large' (about "
                                               "30 M) wants a GPU."),
    ),
    "base_channels": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Base channels"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Channels of the denoiser's first level; 0 = from the preset."),
    ),
    "channel_mults": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Channel multipliers per level"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Comma-separated multipliers of the base channels, one per level; "
                                               "empty = from the preset."),
    ),
    "blocks_per_level": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Blocks per level"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Residual blocks per level of the denoiser; 0 = from the preset."),
    ),
    "attention_levels": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Levels with attention"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Comma-separated levels that get self-attention; empty = from the "
                                               "preset, -1 = none."),
    ),
    "dropout": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Dropout"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Dropout rate in the denoiser's blocks; 0 = none."),
    ),
    "timesteps": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Diffusion steps (T)"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Number of noise levels of the diffusion process (usually 1000)."),
    ),
    "schedule": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Noise schedule"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'linear' (Ho et al.) or 'cosine' (Nichol and Dhariwal)."),
    ),
    "beta_start": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "First beta"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Noise added at the first step of the linear schedule (for T = 1000)."),
    ),
    "beta_end": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Last beta"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Noise added at the last step of the linear schedule (for T = 1000)."),
    ),
    "ema_decay": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Weight average decay"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Decay of the moving average of the weights that Diff-HRNet uses; "
                                               "closer to 1 = smoother."),
    ),
    "grad_clip": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Gradient clipping"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Largest gradient norm per step; 0 = no clipping."),
    ),
    "sample_count": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sample images"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Images generated from noise for the diagnostic PNG."),
    ),
    "sample_steps": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sampling steps"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "DDIM steps per diagnostic sample; more is slower and closer to the "
                                               "full chain."),
    ),
    "sample_eta": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sampling noise (eta)"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "0 = deterministic DDIM; 1 = fresh noise at every step as DDPM."),
    ),
    "sample_clip": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Sample clipping"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Clip each predicted clean image to +- this (data is standardised); "
                                               "0 = off."),
    ),
}

FIELD_TEXTS.update({
    "jitter_probability": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Colour jitter probability"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Probability that a view gets random colour changes."),
    ),
    "grayscale_probability": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Greyscale probability"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Probability that a view is turned grey (3-band rasters only)."),
    ),
    "blur_probability": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Blur probability"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Probability that a view is blurred."),
    ),
    "warmup_fraction": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Learning-rate warm-up (share of all steps)"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Share of all steps spent warming the learning rate up, when "
                                               "WARMUP_STEPS is 0."),
    ),
    "lr_scaling": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Learning-rate scaling with the batch"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "How LEARNING_RATE follows the batch size: 'sqrt' (x the square root "
                                               "of BATCH_SIZE / LR_REFERENCE_BATCH), 'linear' or 'none'."),
    ),
    "pixels_per_prototype": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Pixels per prototype"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "With PROTOTYPES 0: one prototype per this many feature-map pixels "
                                               "of a batch (8 to 256 prototypes)."),
    ),
    "handover": (
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "Encoder handed to fine-tuning"),
        QT_TRANSLATE_NOOP("PretrainAlgorithm", "'student' (default: better after short runs) or 'teacher' "
                                               "(moving average, as SlotCon); the checkpoint keeps both."),
    ),
})


def field_texts(name: str) -> tuple[str, str]:
    """(label, help) of config field ``name``, untranslated; a readable label from the name
    for a field not listed yet (tests/test_pretrain_contract.py fails on those)."""
    return FIELD_TEXTS.get(name, (name.replace("_", " ").capitalize(), ""))
