"""rsseg:export_onnx — fine-tuned checkpoint to a checked ONNX model with its model card."""
from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
)

from .base import RssegAlgorithm, engine_errors, run_feedback


class ExportOnnxAlgorithm(RssegAlgorithm):
    """rsseg:export_onnx: checkpoint -> ONNX (fp32, or int8 with QUANTIZE; FIXED_SHAPE for Deepness)."""

    CHECKPOINT = "CHECKPOINT"
    TILE_SIZE = "TILE_SIZE"
    OVERLAP = "OVERLAP"
    FIXED_SHAPE = "FIXED_SHAPE"
    QUANTIZE = "QUANTIZE"
    CALIBRATION = "CALIBRATION"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    algorithm_name = "export_onnx"
    group_key = "finetuning"
    requires = ("torch", "onnx", "onnxruntime")

    def displayName(self) -> str:
        return self.tr("Export a fine-tuned checkpoint to ONNX")

    def shortHelpString(self) -> str:
        return self.tr(
            "Writes the network of a fine-tuned checkpoint as an ONNX model that 'Segment raster with an ONNX "
            "model' (and, with FIXED_SHAPE, the Deepness plugin) can run.\n\n"
            "The model outputs class probabilities (softmax in the graph) for any batch size, and carries its model "
            "card: class names and colours, bands, normalisation, tile size and overlap, and the training "
            "configuration. The export is run once with onnxruntime and compared with torch; a model that differs by "
            "more than 1e-4 is not written.\n"
            "CHECKPOINT: a .pt file written by 'Fine-tune a segmentation model'. Pretraining checkpoints have no "
            "segmentation head: fine-tune them first (for SDCluster cluster maps use 'Cluster map').\n"
            "TILE_SIZE: tile edge stored in the card (0 = the training patch size, the geometry the model was "
            "trained on).\n"
            "OVERLAP: tile overlap in percent stored in the card (default 15).\n"
            "FIXED_SHAPE: fix the input's height and width to the tile size (the batch stays dynamic). Deepness "
            "only loads models of a fixed tile size; rsseg runs both forms, a fixed one only at its tile size.\n"
            "QUANTIZE: write an int8 model instead (onnxruntime static quantization, QDQ), faster on a CPU "
            "(docs/performance.md). It is calibrated on patches of the CALIBRATION rasters (empty: the rasters the "
            "checkpoint was trained on) and checked against the fp32 model on other patches: the share of pixels "
            "keeping their class and the mIoU against fp32 are logged and stored in the model card.\n"
            "CALIBRATION: rasters like the imagery you will segment (same bands), used only with QUANTIZE."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(
            self.CHECKPOINT, self.tr("Fine-tuned checkpoint"), extension="pt"))
        self.addParameter(QgsProcessingParameterNumber(
            self.TILE_SIZE, self.tr("Tile size in pixels (0: default)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.OVERLAP, self.tr("Tile overlap in % (empty: 15)"), QgsProcessingParameterNumber.Double,
            optional=True, minValue=0, maxValue=90))
        self.addParameter(QgsProcessingParameterBoolean(
            self.FIXED_SHAPE, self.tr("Fixed tile size (for the Deepness plugin)"), defaultValue=False))
        self.addParameter(QgsProcessingParameterBoolean(
            self.QUANTIZE, self.tr("Quantize to int8 (faster on CPU, checked against fp32)"), defaultValue=False))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.CALIBRATION, self.tr("Calibration rasters for int8 (empty: the training rasters)"),
            QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("ONNX model"), fileFilter=self.tr("ONNX model (*.onnx)")))

    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        from training.export import export_checkpoint

        checkpoint = self.parameterAsFile(parameters, self.CHECKPOINT, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        overlap = None
        if parameters.get(self.OVERLAP) not in (None, ""):
            overlap = self.parameterAsDouble(parameters, self.OVERLAP, context)
        with engine_errors(self.tr("Cancelled: no model was written")):
            path = export_checkpoint(
                checkpoint, output, tile_size=self.parameterAsInt(parameters, self.TILE_SIZE, context) or None,
                overlap_percent=overlap, fixed_shape=self.parameterAsBoolean(parameters, self.FIXED_SHAPE, context),
                feedback=run_feedback(feedback),
                int8=self.parameterAsBool(parameters, self.QUANTIZE, context),
                calibration=[layer.source() for layer in
                             self.parameterAsLayerList(parameters, self.CALIBRATION, context) or []])
        feedback.setProgress(100)
        return {self.OUTPUT_MODEL: str(path)}
