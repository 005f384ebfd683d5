"""rsseg:finetune — supervised fine-tuning on labelled rasters (thin wrapper of training.finetune)."""
from __future__ import annotations

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

from ..layers import raster_layer_path, raster_layers_paths, rasterize_vector_labels
from .base import RssegAlgorithm, parse_bands, run_feedback
from .pretrain_base import BACKBONES

ARCHITECTURES = ["deeplabv3plus", "hrnet", "diff_hrnet"]
CLASS_WEIGHTS = ["none", "balanced"]


class FinetuneAlgorithm(RssegAlgorithm):
    algorithm_name = "finetune"
    group_key = "finetuning"
    requires = ("torch", "rasterio", "onnx", "onnxruntime")
    output_companions = {"OUTPUT_CHECKPOINT": (".last.pt", ".best.pt")}  # written beside it (training/finetune.py)

    def displayName(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr("Fine-tune a segmentation model")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr(
            "Trains a segmentation network on labelled imagery, from scratch or from a pretraining checkpoint "
            "(GraSS, SDCluster, diffusion), and saves the checkpoint with the best validation mIoU.\n\n"
            "INPUT: one or more image rasters (files GDAL reads).\n"
            "LABELS: a raster of class ids (any grid or CRS: resampled to each image, nearest neighbour; "
            "255 = unlabelled) or a polygon layer with LABEL_FIELD holding class ids or class names.\n"
            "CLASSES: optional 'name[:#rrggbb], ...' in class-id order.\n"
            "PRETRAINED: optional checkpoint to start from; its bands and normalisation are reused. Diffusion "
            "checkpoints need ARCHITECTURE diff_hrnet; GraSS/SDCluster ones deeplabv3plus with the same BACKBONE.\n"
            "Validation: whole spatial blocks (SPLIT_BLOCK_SIZE pixels, VAL_FRACTION of them) are held out, so "
            "validation patches never overlap training ones. LABEL_FRACTION keeps only that share of the labelled "
            "training patches (seeded), for few-label experiments.\n"
            "The log shows the loss and validation mIoU of every epoch. Cancelling keeps OUTPUT_CHECKPOINT as it "
            "was and saves the state reached in OUTPUT_CHECKPOINT.last.pt; run again with RESUME to continue.\n"
            "OUTPUT_MODEL: optional ONNX model exported at the end (checked against torch), ready for "
            "'Segment raster with an ONNX model'."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        from training.finetune_config import FinetuneConfig

        d = FinetuneConfig()
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "INPUT", self.tr("Image rasters"), QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterMapLayer(
            "LABELS", self.tr("Labels (class raster or polygon layer)"),
            types=[QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            "LABEL_FIELD", self.tr("Class field (polygon labels)"), parentLayerParameterName="LABELS", optional=True))
        self.addParameter(QgsProcessingParameterString(
            "CLASSES", self.tr("Class names and colours: 'name[:#rrggbb], ...' (optional)"), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "PRETRAINED", self.tr("Pretrained checkpoint (optional)"), extension="pt", optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "ARCHITECTURE", self.tr("Architecture"), options=ARCHITECTURES, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            "BACKBONE", self.tr("Backbone (deeplabv3plus)"), options=BACKBONES, defaultValue=BACKBONES.index(d.backbone)))
        integer, double = QgsProcessingParameterNumber.Integer, QgsProcessingParameterNumber.Double
        self.addParameter(QgsProcessingParameterNumber("EPOCHS", self.tr("Epochs"), integer, d.epochs, minValue=1))
        self.addParameter(QgsProcessingParameterNumber("BATCH_SIZE", self.tr("Batch size"), integer, d.batch_size, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            "PATCH_SIZE", self.tr("Patch size (pixels, multiple of 16)"), integer, d.patch_size, minValue=32))
        self.addParameter(QgsProcessingParameterNumber(
            "LEARNING_RATE", self.tr("Learning rate"), double, d.learning_rate, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "LABEL_FRACTION", self.tr("Share of labelled training patches used"), double, d.label_fraction,
            minValue=0.001, maxValue=1.0))
        self.add_device_parameter()
        advanced = [
            QgsProcessingParameterString("BANDS", self.tr("Bands (1-based, comma separated; empty = all)"), optional=True),
            QgsProcessingParameterNumber("VAL_FRACTION", self.tr("Share of blocks held out for validation"), double,
                                         d.val_fraction, minValue=0, maxValue=0.9),
            QgsProcessingParameterNumber("SPLIT_BLOCK_SIZE", self.tr("Validation block size (pixels)"), integer,
                                         d.split_block_size, minValue=32),
            QgsProcessingParameterEnum("CLASS_WEIGHTS", self.tr("Class weights"), options=CLASS_WEIGHTS, defaultValue=0),
            QgsProcessingParameterBoolean("FREEZE_ENCODER", self.tr("Freeze the encoder (linear probing)"),
                                          defaultValue=d.freeze_encoder),
            QgsProcessingParameterNumber("WEIGHT_DECAY", self.tr("Weight decay"), double, d.weight_decay, minValue=0),
            QgsProcessingParameterNumber("WARMUP_EPOCHS", self.tr("Warm-up epochs"), integer, d.warmup_epochs, minValue=0),
            QgsProcessingParameterNumber("SEED", self.tr("Random seed"), integer, d.seed),
            QgsProcessingParameterBoolean("RESUME", self.tr("Resume from OUTPUT_CHECKPOINT.last.pt if it exists"),
                                          defaultValue=False),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT_CHECKPOINT", self.tr("Output checkpoint"), fileFilter="rsseg checkpoint (*.pt)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT_MODEL", self.tr("Output ONNX model (optional)"), fileFilter="ONNX model (*.onnx)",
            optional=True, createByDefault=False))

    def label_paths(self, parameters, context, images: list[str]) -> tuple[list[str], list[str]]:
        """One label raster per image (vector labels rasterized onto each image) and class names
        found in a text class field."""
        from engine.run_scope import run_temp_dir

        layer = self.parameterAsLayer(parameters, "LABELS", context)
        if layer is None:
            raise QgsProcessingException("LABELS: choose a class raster or a polygon layer")
        if isinstance(layer, QgsRasterLayer):
            return [raster_layer_path(layer, "LABELS")] * len(images), []
        if isinstance(layer, QgsVectorLayer):
            field = self.parameterAsString(parameters, "LABEL_FIELD", context)
            folder = tempfile.mkdtemp(prefix="rsseg_finetune_labels_", dir=run_temp_dir())  # removed after the run
            paths, names = [], []
            for index, image in enumerate(images):
                path, names = rasterize_vector_labels(
                    layer, field, image, os.path.join(folder, f"labels_{index}.tif"), parameter="LABELS")
                paths.append(path)
            return paths, names
        raise QgsProcessingException("LABELS: choose a class raster or a polygon layer")

    def build_config(self, parameters, context):
        from training.finetune_config import FinetuneConfig, parse_classes

        images = raster_layers_paths(self.parameterAsLayerList(parameters, "INPUT", context), "INPUT")
        labels, field_names = self.label_paths(parameters, context, images)
        try:
            names, colors = parse_classes(self.parameterAsString(parameters, "CLASSES", context))
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from None
        if not names and field_names:
            names = field_names
        config = FinetuneConfig(
            images=images,
            labels=labels,
            bands=parse_bands(self.parameterAsString(parameters, "BANDS", context)),
            class_names=names,
            class_colors=colors,
            architecture=ARCHITECTURES[self.parameterAsEnum(parameters, "ARCHITECTURE", context)],
            backbone=BACKBONES[self.parameterAsEnum(parameters, "BACKBONE", context)],
            pretrained=self.parameterAsFile(parameters, "PRETRAINED", context) or "",
            epochs=self.parameterAsInt(parameters, "EPOCHS", context),
            batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
            patch_size=self.parameterAsInt(parameters, "PATCH_SIZE", context),
            learning_rate=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
            label_fraction=self.parameterAsDouble(parameters, "LABEL_FRACTION", context),
            val_fraction=self.parameterAsDouble(parameters, "VAL_FRACTION", context),
            split_block_size=self.parameterAsInt(parameters, "SPLIT_BLOCK_SIZE", context),
            class_weights=CLASS_WEIGHTS[self.parameterAsEnum(parameters, "CLASS_WEIGHTS", context)],
            freeze_encoder=self.parameterAsBool(parameters, "FREEZE_ENCODER", context),
            weight_decay=self.parameterAsDouble(parameters, "WEIGHT_DECAY", context),
            warmup_epochs=self.parameterAsInt(parameters, "WARMUP_EPOCHS", context),
            seed=self.parameterAsInt(parameters, "SEED", context),
            device=self.device_choice(parameters, context),
        )
        try:
            config.validate()
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from None
        return config

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        self.check_dependencies()
        from engine.progress import Cancelled
        from training.checkpoint import explain_resume_state
        from training.export import export_checkpoint
        from training.finetune import finetune, last_checkpoint_path

        config = self.build_config(parameters, context)
        output = self.parameterAsFileOutput(parameters, "OUTPUT_CHECKPOINT", context)
        model = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context) if parameters.get("OUTPUT_MODEL") else ""
        resume = self.parameterAsBool(parameters, "RESUME", context)
        bridge = run_feedback(feedback)
        try:
            result = finetune(config, output, feedback=bridge, resume=resume)
            if model:
                feedback.pushInfo(self.tr("exporting the best model to ONNX"))
                export_checkpoint(result.checkpoint, model, tile_size=None, feedback=bridge)
        except Cancelled:
            raise QgsProcessingException(self.tr(
                "Cancelled: OUTPUT_CHECKPOINT was left as it was; the state reached is in {}; run again with "
                "RESUME to continue").format(last_checkpoint_path(output))) from None
        except ValueError as exc:  # our messages name the parameter and the fix
            raise QgsProcessingException(str(exc)) from None
        explain_resume_state(output, feedback.pushInfo)
        if result.best_miou is not None:
            feedback.pushInfo(self.tr("best validation mIoU {:.4f} at epoch {}").format(result.best_miou, result.best_epoch))
        return {"OUTPUT_CHECKPOINT": str(result.checkpoint), "OUTPUT_MODEL": model or None}
