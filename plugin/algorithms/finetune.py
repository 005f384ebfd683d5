"""rsseg:finetune — supervised fine-tuning on labelled rasters (thin wrapper of training.finetune).

The form is generated from :class:`training.finetune_config.FinetuneConfig`, as the
pretraining forms are from their configs: every field is a parameter named after it in
capitals (``steps`` -> ``STEPS``), so the form, the modeler, qgis_process and the CLI
reach the same settings. :data:`FIELD_TEXT` gives each field its label and help (both
translated); :data:`MAIN_FIELDS` are on the main form, the others under "Advanced".
Fields with their own widget (rasters, labels, classes, bands, checkpoint, device) are
:data:`HANDLED_FIELDS`. A field added to the config without an entry here still gets a
parameter (labelled with its name), so nothing is ever unreachable.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..layers import raster_layer_path, raster_layers_paths, rasterize_vector_labels
from .base import RssegAlgorithm, engine_errors, parse_bands, run_feedback
from .pretrain_base import BACKBONES

ARCHITECTURES = ["deeplabv3plus", "hrnet", "diff_hrnet"]
CLASS_WEIGHTS = ["none", "balanced"]
HEADS = ["separable", "dense"]
KEEP_STATES = ["auto", "best", "last"]     # training.finetune_config.KEEP_STATES (a test keeps them equal)
CHOICES = {"architecture": ARCHITECTURES, "backbone": BACKBONES, "class_weights": CLASS_WEIGHTS, "head": HEADS,
           "keep_state": KEEP_STATES}


# config field -> (label, help); QT_TRANSLATE_NOOP marks them for pylupdate5 (context FinetuneAlgorithm)
FIELD_TEXT = {
    "architecture": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Architecture"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "deeplabv3plus: ResNet encoder + ASPP (GraSS/SDCluster checkpoints); "
                          "hrnet: from scratch; diff_hrnet: HRNet fused with a diffusion checkpoint's denoiser.")),
    "backbone": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Backbone (deeplabv3plus)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "ResNet depth of the DeepLabV3+ encoder; must match a pretrained "
                          "encoder.")),
    "head": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "DeepLabV3+ head"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "separable: depthwise-separable ASPP and decoder convolutions (as "
                          "published); dense: plain 3x3 convolutions.")),
    "steps": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Training steps"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Optimiser steps in all: the length of the run. 0 = EPOCHS x the "
                          "steps of one epoch.")),
    "epochs": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Epochs (when STEPS is 0)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Passes of PATCHES_PER_EPOCH random crops; used only when STEPS is "
                          "0.")),
    "batch_size": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Batch size"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Random crops per optimiser step.")),
    "patch_size": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Patch size (pixels, multiple of 16)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Edge of the random training crops. The exported model tiles at this "
                          "size too, so at inference it sees what it saw in training.")),
    "learning_rate": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Learning rate"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "AdamW peak learning rate, reached after the warm-up, then decayed "
                          "to zero at the last step (cosine).")),
    "label_fraction": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Share of labelled training tiles used"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Keeps this share of the labelled training tiles (seeded); labels "
                          "outside them never count. For few-label experiments.")),
    "encoder_lr_scale": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Encoder learning-rate multiplier (pretrained encoder)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "With PRETRAINED, the encoder learns at this multiple of "
                          "LEARNING_RATE (e.g. 0.1), so a few noisy steps on few labels do not overwrite what "
                          "pretraining learned. From scratch the whole network uses LEARNING_RATE.")),
    "fusion_lr_scale": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Fusion learning-rate multiplier (Diff-HRNet)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Diff-HRNet only: the fusions that feed the denoiser's features into "
                          "HRNet start closed (the network starts as a plain HRNet) and learn at this multiple of "
                          "LEARNING_RATE, so that a short run can open them.")),
    "color_jitter": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Colour jitter (band standard deviations)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Each training crop's brightness shifts by up to this many band "
                          "standard deviations (contrast by up to exp(0.3 x it)), so a model trained on one scene "
                          "copes with another scene's radiometry; 0 = off.")),
    "ignore_index": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Ignored label value"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Label value that never counts in the loss or the scores (0..255).")),
    "pretrained": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Pretrained checkpoint (optional)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Checkpoint to start from (pretraining or fine-tuned); its bands and "
                          "normalisation are reused.")),
    "patches_per_epoch": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Crops per epoch"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "0 = as many crops as labelled tiles (the labelled area once).")),
    "weight_decay": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Weight decay"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "AdamW weight decay.")),
    "warmup_fraction": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Warm-up share of the steps"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "The learning rate rises linearly over this share of the steps, then "
                          "decays on a cosine to the last step.")),
    "validate_every": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Steps between validations"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Validation mIoU, the best checkpoint and the resume checkpoint every "
                          "this many steps; 0 = once per epoch.")),
    "early_stopping_patience": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Early-stopping patience (validations)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Stop after this many validations without a better mIoU; 0 = always "
                          "train every step. Needs a validation set.")),
    "keep_state": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "State written to the output checkpoint"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "auto: the last state of a run that took every step (the end of "
                          "the learning-rate schedule), the best-validation state of one that early stopping "
                          "ended; best: always the state of best validation mIoU; last: always the last state. On "
                          "few labels the held-out blocks are a noisy judge, and the last state scored better on "
                          "unseen tiles (docs/training.md).")),
    "val_fraction": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Share of blocks held out for validation"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Whole spatial blocks go to validation, so validation pixels never "
                          "sit next to training ones.")),
    "split_block_size": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Validation block size (pixels)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Edge of the square blocks the images are cut into for the "
                          "train/validation split (at least PATCH_SIZE).")),
    "class_weights": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Class weights"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "none, or balanced: inverse class frequency on the training tiles "
                          "(mean 1, at most 10).")),
    "freeze_encoder": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Freeze the encoder (linear probing)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Train the head only; the encoder's weights and BatchNorm statistics "
                          "stay as loaded.")),
    "amp": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Mixed precision (CUDA only)"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "bf16 where the GPU supports it, else fp16 with loss scaling; no "
                          "effect on the CPU.")),
    "seed": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Random seed"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Seeds the split, LABEL_FRACTION, the crops and the initialisation: "
                          "the same seed repeats the run.")),
    "num_workers": (
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Data loader workers"),
        QT_TRANSLATE_NOOP("FinetuneAlgorithm", "Processes reading crops in parallel; 0 = in the training process.")),
}
MAIN_FIELDS = ("architecture", "backbone", "steps", "epochs", "batch_size", "patch_size", "learning_rate",
               "label_fraction", "encoder_lr_scale")
# fields with their own widget, set in build_config
HANDLED_FIELDS = ("images", "labels", "bands", "class_names", "class_colors", "pretrained", "device")
MINIMUM = {"patch_size": 32, "split_block_size": 32, "batch_size": 1, "epochs": 1}
MAXIMUM = {"label_fraction": 1.0, "val_fraction": 0.9, "ignore_index": 255, "warmup_fraction": 0.99}


class FinetuneAlgorithm(RssegAlgorithm):
    """rsseg:finetune; parameter names are the class constants below and, for the
    generated ones, the config field in capitals (:meth:`parameter_name`)."""

    INPUT = "INPUT"
    LABELS = "LABELS"
    LABEL_FIELD = "LABEL_FIELD"
    CLASSES = "CLASSES"
    PRETRAINED = "PRETRAINED"
    BANDS = "BANDS"
    DEVICE = "DEVICE"
    RESUME = "RESUME"
    OUTPUT_CHECKPOINT = "OUTPUT_CHECKPOINT"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    algorithm_name = "finetune"
    group_key = "finetuning"
    requires = ("torch", "rasterio", "onnx", "onnxruntime")
    output_companions = {"OUTPUT_CHECKPOINT": (".last.pt", ".best.pt")}  # written beside it (training/finetune.py)

    def displayName(self) -> str:
        return self.tr("Fine-tune a segmentation model")

    def shortHelpString(self) -> str:
        return self.tr(
            "Trains a segmentation network on labelled imagery, from scratch or from a pretraining checkpoint "
            "(GraSS, SDCluster, diffusion), and saves the checkpoint KEEP_STATE names (auto: the last state, or "
            "the best-validation one when early stopping ended the run).\n\n"
            "INPUT: one or more image rasters (files GDAL reads).\n"
            "LABELS: a raster of class ids (any grid or CRS: resampled to each image, nearest neighbour; "
            "255 = unlabelled) or a polygon layer with LABEL_FIELD holding class ids or class names.\n"
            "CLASSES: optional 'name[:#rrggbb], ...' in class-id order.\n"
            "PRETRAINED: optional checkpoint to start from; its bands and normalisation are reused. Diffusion "
            "checkpoints need ARCHITECTURE diff_hrnet; GraSS/SDCluster ones deeplabv3plus with the same BACKBONE. "
            "A pretrained encoder learns at ENCODER_LR_SCALE x LEARNING_RATE.\n"
            "Training: STEPS optimiser steps, each on BATCH_SIZE random crops of PATCH_SIZE pixels drawn anywhere "
            "inside the labelled training area; the learning rate warms up, then decays on a cosine to the last "
            "step. The exported model tiles at PATCH_SIZE, the size it was trained on.\n"
            "Validation: whole spatial blocks (SPLIT_BLOCK_SIZE pixels, VAL_FRACTION of them) are held out, so "
            "validation patches never overlap training ones; every VALIDATE_EVERY steps the mIoU is logged, the "
            "best checkpoint kept, and after EARLY_STOPPING_PATIENCE validations without improvement the run "
            "stops. LABEL_FRACTION keeps only that share of the labelled training tiles (seeded).\n"
            "Cancelling stops with an error, keeps OUTPUT_CHECKPOINT as it was and saves the state reached in "
            "OUTPUT_CHECKPOINT.last.pt; a later run with RESUME on (it is off by default, as for pretraining, so a "
            "run never silently continues an old one) continues from it.\n"
            "OUTPUT_MODEL: optional ONNX model exported at the end (checked against torch), ready for "
            "'Segment raster with an ONNX model'."
        )

    @staticmethod
    def parameter_name(field_name: str) -> str:
        """The parameter of a generated config field: its name in capitals."""
        return field_name.upper()

    def initAlgorithm(self, config=None):
        from training.finetune_config import FinetuneConfig

        self._add_inputs()
        defaults = FinetuneConfig()
        generated = [f for f in dataclasses.fields(FinetuneConfig) if f.name not in HANDLED_FIELDS]
        for f in sorted(generated, key=lambda f: f.name not in MAIN_FIELDS):  # main fields first
            parameter = self._field_parameter(f.name, getattr(defaults, f.name))
            if f.name not in MAIN_FIELDS:
                parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.add_device_parameter()
        bands = QgsProcessingParameterString(
            self.BANDS, self.tr("Bands (1-based, comma separated; empty = all)"), optional=True)
        bands.setFlags(bands.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(bands)
        self.addParameter(QgsProcessingParameterBoolean(
            self.RESUME, self.tr("Resume from OUTPUT_CHECKPOINT.last.pt if it exists"), defaultValue=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_CHECKPOINT, self.tr("Output checkpoint"), fileFilter="rsseg checkpoint (*.pt)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Output ONNX model (optional)"), fileFilter="ONNX model (*.onnx)",
            optional=True, createByDefault=False))

    def _add_inputs(self) -> None:
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, self.tr("Image rasters"), QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.LABELS, self.tr("Labels (class raster or polygon layer)"),
            types=[QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.LABEL_FIELD, self.tr("Class field (polygon labels)"), parentLayerParameterName=self.LABELS,
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.CLASSES, self.tr("Class names and colours: 'name[:#rrggbb], ...' (optional)"), optional=True))
        label, help_text = FIELD_TEXT["pretrained"]
        pretrained = QgsProcessingParameterFile(self.PRETRAINED, self.tr(label), extension="pt", optional=True)
        pretrained.setHelp(self.tr(help_text))
        self.addParameter(pretrained)

    def _field_parameter(self, field_name: str, default):
        """A parameter for one config field, typed by its default, with label and help."""
        name = self.parameter_name(field_name)
        label, help_text = FIELD_TEXT.get(field_name, (field_name.replace("_", " ").capitalize(), ""))
        label = self.tr(label)
        if field_name in CHOICES:
            options = CHOICES[field_name]
            parameter = QgsProcessingParameterEnum(name, label, options=options,
                                                   defaultValue=options.index(default) if default in options else 0)
        elif isinstance(default, bool):
            parameter = QgsProcessingParameterBoolean(name, label, defaultValue=default)
        elif isinstance(default, (int, float)):
            number = QgsProcessingParameterNumber
            kind = number.Double if isinstance(default, float) else number.Integer
            parameter = number(name, label, kind, default, minValue=MINIMUM.get(field_name, 0))
            if field_name in MAXIMUM:
                parameter.setMaximum(MAXIMUM[field_name])
        elif isinstance(default, (list, tuple)):
            parameter = QgsProcessingParameterString(name, label, defaultValue=",".join(map(str, default)),
                                                     optional=True)
        else:
            parameter = QgsProcessingParameterString(name, label, defaultValue=str(default), optional=True)
        if help_text:
            parameter.setHelp(self.tr(help_text))
        return parameter

    def _field_value(self, parameters, context, field_name: str, default):
        """The value of a generated field's parameter, typed like its default."""
        name = self.parameter_name(field_name)
        if field_name in CHOICES:
            return CHOICES[field_name][self.parameterAsEnum(parameters, name, context)]
        if isinstance(default, bool):
            return self.parameterAsBool(parameters, name, context)
        if isinstance(default, float):
            return float(self.parameterAsDouble(parameters, name, context))
        if isinstance(default, int):
            return int(self.parameterAsInt(parameters, name, context))
        text = self.parameterAsString(parameters, name, context)
        if isinstance(default, (list, tuple)):
            item = type(default[0]) if default else str
            try:
                return [item(v) for v in text.replace(",", " ").split()]
            except ValueError:
                raise QgsProcessingException(
                    self.tr("{}: expected a comma-separated list, got {!r}").format(name, text)) from None
        return text

    def label_paths(self, parameters, context, images: list[str]) -> tuple[list[str], list[str]]:
        """One label raster per image (vector labels rasterized onto each image) and class names
        found in a text class field."""
        from engine.run_scope import run_temp_dir

        layer = self.parameterAsLayer(parameters, self.LABELS, context)
        if isinstance(layer, QgsRasterLayer):
            return [raster_layer_path(layer, self.LABELS)] * len(images), []
        if isinstance(layer, QgsVectorLayer):
            field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
            folder = tempfile.mkdtemp(prefix="rsseg_finetune_labels_", dir=run_temp_dir())  # removed after the run
            paths, names = [], []
            for index, image in enumerate(images):
                path, names = rasterize_vector_labels(
                    layer, field, image, os.path.join(folder, f"labels_{index}.tif"), parameter=self.LABELS)
                paths.append(path)
            return paths, names
        raise QgsProcessingException(self.tr("LABELS: choose a class raster or a polygon layer"))

    def build_config(self, parameters, context):
        """The FinetuneConfig of the form: handled fields from their widgets, the rest generated."""
        from training.finetune_config import FinetuneConfig, parse_classes

        images = raster_layers_paths(self.parameterAsLayerList(parameters, self.INPUT, context), self.INPUT)
        labels, field_names = self.label_paths(parameters, context, images)
        try:
            names, colors = parse_classes(self.parameterAsString(parameters, self.CLASSES, context))
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from None
        values = {
            "images": images, "labels": labels, "class_names": names or field_names, "class_colors": colors,
            "bands": parse_bands(self.parameterAsString(parameters, self.BANDS, context)),
            "pretrained": self.parameterAsFile(parameters, self.PRETRAINED, context) or "",
            "device": self.device_choice(parameters, context),
        }
        defaults = FinetuneConfig()
        for f in dataclasses.fields(FinetuneConfig):
            if f.name not in values:
                values[f.name] = self._field_value(parameters, context, f.name, getattr(defaults, f.name))
        config = FinetuneConfig(**values)
        try:
            config.validate()
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from None
        return config

    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        from training.checkpoint import explain_resume_state
        from training.export import export_checkpoint
        from training.finetune import finetune, last_checkpoint_path

        config = self.build_config(parameters, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_CHECKPOINT, context)
        model = (self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
                 if parameters.get(self.OUTPUT_MODEL) else "")
        resume = self.parameterAsBool(parameters, self.RESUME, context)
        bridge = run_feedback(feedback)
        cancelled = self.tr("Cancelled: OUTPUT_CHECKPOINT was left as it was; the state reached is in {}; run again "
                            "with RESUME to continue").format(last_checkpoint_path(output))
        with engine_errors(cancelled):
            result = finetune(config, output, feedback=bridge, resume=resume)
            if model:
                feedback.pushInfo(self.tr("exporting the saved model to ONNX"))
                export_checkpoint(result.checkpoint, model, tile_size=None, feedback=bridge)
        explain_resume_state(output, feedback.pushInfo, config.steps)
        if result.best_miou is not None:
            feedback.pushInfo(self.tr("best validation mIoU {:.4f} at step {}").format(result.best_miou,
                                                                                     result.best_step))
        saved = (self.tr("saved the last state (step {})") if result.kept_state == "last"
                 else self.tr("saved the best-validation state (step {})"))
        feedback.pushInfo(saved.format(result.kept_step))
        return {self.OUTPUT_CHECKPOINT: str(result.checkpoint), self.OUTPUT_MODEL: model or None}
