"""rsseg:probe — did pretraining learn anything? A linear probe against random init.

Thin: resolves layers to files (polygon labels rasterized onto each image), builds a
:class:`training.probe.ProbeConfig`, runs :func:`training.probe.run_probe` and writes its
HTML/JSON report. Both mIoUs and their paired difference are algorithm outputs, so a
model can branch on them.
"""
from __future__ import annotations

import os
import tempfile

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsRasterLayer,
    QgsVectorLayer,
)

from ..layers import raster_layer_path, raster_layers_paths, rasterize_vector_labels
from .base import RssegAlgorithm, parse_bands, run_feedback
from .pretrain_base import BACKBONES

OUTPUT_STRIDES = ["16", "8"]
SDCLUSTER_STATES = ["teacher", "student"]


class ProbeAlgorithm(RssegAlgorithm):
    """Linear probe of a checkpoint's frozen features beside the same network at random init."""

    algorithm_name = "probe"
    group_key = "evaluation"
    requires = ("torch", "rasterio")

    CHECKPOINT = "CHECKPOINT"
    INPUT_IMAGES = "INPUT_IMAGES"
    LABELS = "LABELS"
    LABEL_FIELD = "LABEL_FIELD"
    TEST_IMAGES = "TEST_IMAGES"
    TEST_LABELS = "TEST_LABELS"
    SEEDS = "SEEDS"
    OUTPUT_STRIDE = "OUTPUT_STRIDE"
    BANDS = "BANDS"
    MAX_PIXELS_PER_IMAGE = "MAX_PIXELS_PER_IMAGE"
    HOLDOUT_FRACTION = "HOLDOUT_FRACTION"
    SDCLUSTER_STATE = "SDCLUSTER_STATE"
    TIMESTEP = "TIMESTEP"
    BACKBONE = "BACKBONE"
    RECALIBRATE_PRETRAINED = "RECALIBRATE_PRETRAINED"
    OUTPUT_HTML = "OUTPUT_HTML"
    OUTPUT_JSON = "OUTPUT_JSON"
    MIOU = "MIOU"
    RANDOM_MIOU = "RANDOM_MIOU"
    DELTA = "DELTA"
    DELTA_SE = "DELTA_SE"

    def displayName(self) -> str:
        return self.tr("Probe a pretrained model (linear probe vs random init)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Tells in a few minutes whether pretraining learned anything, before hours of fine-tuning.\n\n"
            "The network in CHECKPOINT (a GraSS or SDCluster pretraining, a diffusion pretraining, or a "
            "fine-tuned model) is frozen; a linear pixel classifier is fitted on its features over the labelled "
            "INPUT_IMAGES and scored (mIoU) on TEST_IMAGES. The same is done with the same network at random "
            "initialisation, its BatchNorm statistics recalibrated on your images. Each seed in SEEDS draws "
            "another random network and another sample of labelled pixels, the same for both networks.\n\n"
            "How to read the result: DELTA is the mean, over the seeds, of pretrained minus random-init mIoU, "
            "and DELTA_SE its standard error. Pretraining learned something useful when DELTA is clearly above 0 "
            "and above twice its standard error. A DELTA near 0 means the features are no better than random "
            "ones: pretrain longer or check the pretraining log; a negative DELTA means they are worse.\n\n"
            "LABELS: one class raster per image (in the same order), one class raster for all images, or one "
            "polygon layer with its class in LABEL_FIELD. Without TEST_IMAGES, the bottom quarter "
            "(HOLDOUT_FRACTION) of every image is scored and the rest fitted.\n\n"
            "Outputs: an HTML report, an optional JSON file with the same numbers, and MIOU, RANDOM_MIOU, "
            "DELTA and DELTA_SE as numbers for models. Images are read whole: use a few images of up to a few "
            "thousand pixels per side."
        )

    def initAlgorithm(self, config=None):
        from training.probe_config import ProbeConfig

        d = ProbeConfig()
        integer, double = QgsProcessingParameterNumber.Integer, QgsProcessingParameterNumber.Double
        self.addParameter(QgsProcessingParameterFile(
            self.CHECKPOINT, self.tr("Checkpoint to probe (empty = random init only)"), extension="pt", optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT_IMAGES, self.tr("Labelled training images"), QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.LABELS, self.tr("Labels (class rasters, or one polygon layer)"), QgsProcessing.TypeMapLayer))
        self.addParameter(QgsProcessingParameterString(
            self.LABEL_FIELD, self.tr("Class field (polygon labels)"), optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.TEST_IMAGES, self.tr("Test images (empty = hold out part of each image)"),
            QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.TEST_LABELS, self.tr("Test labels (class rasters, or one polygon layer)"),
            QgsProcessing.TypeMapLayer, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.SEEDS, self.tr("Seeds (comma separated)"), defaultValue=",".join(str(s) for s in d.seeds)))
        self.addParameter(QgsProcessingParameterEnum(
            self.OUTPUT_STRIDE, self.tr("Output stride of the features"), options=OUTPUT_STRIDES,
            defaultValue=OUTPUT_STRIDES.index(str(d.output_stride))))
        self.add_device_parameter()
        advanced = [
            QgsProcessingParameterString(self.BANDS, self.tr("Bands (1-based, comma separated; empty = the "
                                                             "checkpoint's)"), optional=True),
            QgsProcessingParameterNumber(self.MAX_PIXELS_PER_IMAGE, self.tr("Labelled pixels fitted per image"),
                                         integer, d.max_pixels_per_image, minValue=10),
            QgsProcessingParameterNumber(self.HOLDOUT_FRACTION, self.tr("Share of rows scored (no test images)"),
                                         double, d.holdout_fraction, minValue=0.05, maxValue=0.8),
            QgsProcessingParameterEnum(self.SDCLUSTER_STATE, self.tr("SDCluster network probed"),
                                       options=SDCLUSTER_STATES,
                                       defaultValue=SDCLUSTER_STATES.index(d.sdcluster_state)),
            QgsProcessingParameterNumber(self.TIMESTEP, self.tr("Diffusion: noise step of the denoiser features"),
                                         integer, d.timestep, minValue=0),
            QgsProcessingParameterEnum(self.BACKBONE, self.tr("Backbone (no checkpoint only)"), options=BACKBONES,
                                       defaultValue=BACKBONES.index(d.backbone)),
            QgsProcessingParameterBoolean(self.RECALIBRATE_PRETRAINED,
                                          self.tr("Recalibrate the pretrained network's BatchNorm too"),
                                          defaultValue=d.recalibrate_pretrained),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_HTML, self.tr("Report"), fileFilter="HTML (*.html)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_JSON, self.tr("Numbers (JSON)"), fileFilter="JSON (*.json)", optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.MIOU, self.tr("Pretrained mIoU (%)")))
        self.addOutput(QgsProcessingOutputNumber(self.RANDOM_MIOU, self.tr("Random-init mIoU (%)")))
        self.addOutput(QgsProcessingOutputNumber(
            self.DELTA, self.tr("Difference, pretrained minus random (mIoU points)")))
        self.addOutput(QgsProcessingOutputNumber(self.DELTA_SE, self.tr("Standard error of the difference")))

    # ------------------------------------------------------------------ parameters
    def parse_seeds(self, text: str) -> list[int]:
        """SEEDS '0,1,2' -> [0, 1, 2], with an error naming the parameter."""
        try:
            seeds = [int(part) for part in str(text or "").replace(",", " ").split()]
        except ValueError:
            raise QgsProcessingException(
                self.tr("SEEDS: expected integers such as '0,1,2,3,4', got {}").format(repr(text))) from None
        if not seeds:
            raise QgsProcessingException(self.tr("SEEDS: give at least one seed, e.g. 0,1,2,3,4"))
        return seeds

    def label_paths(self, parameters, context, name: str, images: list[str]) -> list[str]:
        """One label raster per image from parameter ``name``: rasters by position, one raster for
        all images, or one polygon layer rasterized onto each image."""
        layers = self.parameterAsLayerList(parameters, name, context)
        if not layers:
            raise QgsProcessingException(self.tr("{}: choose class rasters or a polygon layer").format(name))
        vectors = [layer for layer in layers if isinstance(layer, QgsVectorLayer)]
        if vectors:
            if len(layers) != 1:
                raise QgsProcessingException(self.tr("{}: give one polygon layer, not several layers").format(name))
            field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
            folder = tempfile.mkdtemp(prefix=f"rsseg_probe_{name.lower()}_")
            return [rasterize_vector_labels(vectors[0], field, image, os.path.join(folder, f"labels_{i}.tif"),
                                            parameter=name)[0] for i, image in enumerate(images)]
        if not all(isinstance(layer, QgsRasterLayer) for layer in layers):
            raise QgsProcessingException(self.tr("{}: choose class rasters or a polygon layer").format(name))
        paths = [raster_layer_path(layer, name) for layer in layers]
        if len(paths) == 1:
            return paths * len(images)
        if len(paths) != len(images):
            raise QgsProcessingException(self.tr(
                "{}: {} label rasters for {} images; give one per image (same order) or one for all"
            ).format(name, len(paths), len(images)))
        return paths

    def build_config(self, parameters, context):
        """The ProbeConfig the form describes."""
        from training.probe_config import ProbeConfig

        images = raster_layers_paths(self.parameterAsLayerList(parameters, self.INPUT_IMAGES, context),
                                     self.INPUT_IMAGES)
        test_layers = self.parameterAsLayerList(parameters, self.TEST_IMAGES, context)
        test_images = raster_layers_paths(test_layers, self.TEST_IMAGES) if test_layers else []
        if not test_images and self.parameterAsLayerList(parameters, self.TEST_LABELS, context):
            raise QgsProcessingException(self.tr("TEST_LABELS: given without TEST_IMAGES; add the test images"))
        return ProbeConfig(
            checkpoint=self.parameterAsFile(parameters, self.CHECKPOINT, context) or "",
            images=images,
            labels=self.label_paths(parameters, context, self.LABELS, images),
            test_images=test_images,
            test_labels=self.label_paths(parameters, context, self.TEST_LABELS, test_images) if test_images else [],
            bands=parse_bands(self.parameterAsString(parameters, self.BANDS, context)),
            seeds=self.parse_seeds(self.parameterAsString(parameters, self.SEEDS, context)),
            output_stride=int(OUTPUT_STRIDES[self.parameterAsEnum(parameters, self.OUTPUT_STRIDE, context)]),
            max_pixels_per_image=self.parameterAsInt(parameters, self.MAX_PIXELS_PER_IMAGE, context),
            holdout_fraction=self.parameterAsDouble(parameters, self.HOLDOUT_FRACTION, context),
            sdcluster_state=SDCLUSTER_STATES[self.parameterAsEnum(parameters, self.SDCLUSTER_STATE, context)],
            timestep=self.parameterAsInt(parameters, self.TIMESTEP, context),
            backbone=BACKBONES[self.parameterAsEnum(parameters, self.BACKBONE, context)],
            recalibrate_pretrained=self.parameterAsBool(parameters, self.RECALIBRATE_PRETRAINED, context),
            device=self.device_choice(parameters, context),
        )

    # ------------------------------------------------------------------ run
    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        from engine.progress import Cancelled
        from training.probe import run_probe
        from training.probe_report import write_probe_report

        config = self.build_config(parameters, context)
        output_html = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        output_json = (self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context)
                       if parameters.get(self.OUTPUT_JSON) else "")
        if output_json and not output_json.lower().endswith(".json"):
            raise QgsProcessingException(self.tr("OUTPUT_JSON: use a .json file name, got {}").format(output_json))
        try:
            result = run_probe(config, feedback=run_feedback(feedback))
        except Cancelled:
            feedback.reportError(self.tr("cancelled; no report written"), False)
            return {}
        except ValueError as exc:  # our messages name the parameter and the fix
            raise QgsProcessingException(str(exc)) from None
        write_probe_report(result, output_html, output_json or None)
        if result.delta is not None:
            feedback.pushInfo(self.tr("pretrained mIoU {:.1f}, random init {:.1f}: DELTA {:+.1f} (standard error {})")
                              .format(result.miou, result.random_miou, result.delta,
                                      "-" if result.delta_se is None else f"{result.delta_se:.1f}"))
        else:
            feedback.pushInfo(self.tr("random init mIoU {:.1f} (no checkpoint given)").format(result.random_miou))
        feedback.pushInfo(self.tr("Report: {}").format(output_html))
        return {
            self.OUTPUT_HTML: output_html,
            self.OUTPUT_JSON: output_json or None,
            self.MIOU: result.miou,
            self.RANDOM_MIOU: result.random_miou,
            self.DELTA: result.delta,
            self.DELTA_SE: result.delta_se,
        }
