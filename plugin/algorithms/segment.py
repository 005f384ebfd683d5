"""rsseg:segment — run an ONNX segmentation model (rsseg or Deepness) over a raster layer."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..extent import extent_in_layer_crs
from ..layers import raster_layer_path
from ..styling import style_on_load
from .base import RssegAlgorithm, parse_bands, run_feedback


class SegmentAlgorithm(RssegAlgorithm):
    algorithm_name = "segment"
    group_key = "inference"
    requires = ("onnxruntime", "rasterio")

    def displayName(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr("Segment raster with an ONNX model")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr(
            "Classifies every pixel of a raster with an ONNX segmentation model: rsseg models (fine-tuned or "
            "cluster maps) and Deepness models alike.\n\n"
            "The raster is cut into overlapping tiles; overlapping class scores are averaged with smooth weights, "
            "so tile borders leave no seams. Reading, inference and writing overlap, and memory does not grow with "
            "the raster's size.\n\n"
            "MODEL: an .onnx file. Its model card (class names, colours, bands, normalisation, tile size) is read "
            "from the file. Models without one follow the Deepness rules: first N bands, values / 255.\n"
            "EXTENT: only this area (any CRS; reprojected to the raster's).\n"
            "BANDS: 1-based raster bands fed to the model, e.g. '4,3,2' (empty: from the model card, else the first N).\n"
            "TILE_SIZE, OVERLAP (% of a tile), BATCH_SIZE: 0 or empty take the model card's values.\n"
            "DEVICE: auto uses the GPU (CUDA) when onnxruntime has it; the provider used is reported as PROVIDER.\n"
            "OUTPUT: class raster (uint8, 255 = nodata) with the model's colours and class names.\n"
            "CONFIDENCE: optional float32 raster with the winning class's probability."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", self.tr("Input raster")))
        self.addParameter(QgsProcessingParameterFile("MODEL", self.tr("ONNX model"), extension="onnx"))
        self.addParameter(QgsProcessingParameterExtent("EXTENT", self.tr("Extent (empty: whole raster)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            "BANDS", self.tr("Bands (1-based, comma separated; empty: from the model)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "TILE_SIZE", self.tr("Tile size in pixels (0: from the model)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "OVERLAP", self.tr("Tile overlap in % (empty: from the model, else 15)"), QgsProcessingParameterNumber.Double,
            optional=True, minValue=0, maxValue=90))
        self.addParameter(QgsProcessingParameterNumber(
            "BATCH_SIZE", self.tr("Batch size (0: automatic)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.add_device_parameter()
        threads = QgsProcessingParameterNumber(
            "THREADS", self.tr("CPU threads (0: all cores)"), QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0)
        threads.setFlags(threads.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(threads)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", self.tr("Class map")))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "CONFIDENCE", self.tr("Confidence (probability of the chosen class)"), optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString("PROVIDER", self.tr("Execution provider used")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        self.check_dependencies()
        from engine.progress import Cancelled
        from engine.segment import segment_raster

        layer = self.parameterAsRasterLayer(parameters, "INPUT", context)
        input_path = raster_layer_path(layer, "INPUT")
        extent = extent_in_layer_crs(self, parameters, context, layer, "EXTENT")
        overlap = None
        if parameters.get("OVERLAP") not in (None, ""):
            overlap = self.parameterAsDouble(parameters, "OVERLAP", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        confidence = self.parameterAsOutputLayer(parameters, "CONFIDENCE", context) or None
        try:
            result = segment_raster(
                input_path,
                self.parameterAsFile(parameters, "MODEL", context),
                output,
                extent=extent,
                bands=parse_bands(self.parameterAsString(parameters, "BANDS", context)) or None,
                tile_size=self.parameterAsInt(parameters, "TILE_SIZE", context),
                overlap=overlap,
                batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
                device=self.device_choice(parameters, context),
                threads=self.parameterAsInt(parameters, "THREADS", context),
                confidence_path=confidence,
                feedback=run_feedback(feedback),
            )
        except Cancelled:
            raise QgsProcessingException(self.tr("Cancelled: no output was written")) from None
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from None
        feedback.pushInfo(self.tr("Execution provider: {}").format(result.provider))
        style_on_load(context, output, result.class_names, result.class_colors)
        return {"OUTPUT": output, "CONFIDENCE": confidence, "PROVIDER": result.provider}
