"""rsseg:segment — run an ONNX segmentation model (rsseg or Deepness) over a raster layer."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from .base import parse_bands
from .map_base import MapAlgorithm


class SegmentAlgorithm(MapAlgorithm):
    """ONNX model over any raster layer: class map, optional confidence, polygons and areas."""

    algorithm_name = "segment"
    group_key = "inference"
    requires = ("onnxruntime", "rasterio")

    MODEL = "MODEL"
    BANDS = "BANDS"
    TILE_SIZE = "TILE_SIZE"
    OVERLAP = "OVERLAP"
    BATCH_SIZE = "BATCH_SIZE"
    THREADS = "THREADS"
    CONFIDENCE = "CONFIDENCE"

    def displayName(self) -> str:
        return self.tr("Segment raster with an ONNX model")

    def shortHelpString(self) -> str:
        return self.tr(
            "Classifies every pixel of a raster with an ONNX segmentation model: rsseg models (fine-tuned or "
            "cluster maps) and Deepness models alike.\n\n"
            "The raster is cut into overlapping tiles; overlapping class scores are averaged with smooth weights, "
            "so tile borders leave no seams. Reading, inference and writing overlap, and memory does not grow with "
            "the raster's size.\n\n"
            "MODEL: an .onnx file. Its model card (class names, colours, bands, normalisation, tile size) is read "
            "from the file. Models without one follow the Deepness rules: first N bands, values / 255.\n"
            "BANDS: 1-based raster bands fed to the model, e.g. '4,3,2' (empty: from the model card, else the "
            "first N).\n"
            "TILE_SIZE, OVERLAP (% of a tile), BATCH_SIZE: 0 or empty take the model card's values.\n"
            "DEVICE: auto uses the GPU (CUDA) when onnxruntime has it; the provider used is reported as PROVIDER.\n"
            "OUTPUT: class raster (uint8, 255 = nodata) with the model's colours and class names.\n"
            "CONFIDENCE: optional float32 raster with the winning class's probability."
        ) + "\n" + self.map_help()

    def initAlgorithm(self, config=None):
        self.add_input_parameters()
        self.addParameter(QgsProcessingParameterFile(self.MODEL, self.tr("ONNX model"), extension="onnx"))
        self.addParameter(QgsProcessingParameterString(
            self.BANDS, self.tr("Bands (1-based, comma separated; empty: from the model)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.TILE_SIZE, self.tr("Tile size in pixels (0: from the model)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.OVERLAP, self.tr("Tile overlap in % (empty: from the model, else 15)"),
            QgsProcessingParameterNumber.Double, optional=True, minValue=0, maxValue=90))
        self.addParameter(QgsProcessingParameterNumber(
            self.BATCH_SIZE, self.tr("Batch size (0: automatic)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.add_device_parameter()
        threads = QgsProcessingParameterNumber(
            self.THREADS, self.tr("CPU threads (0: all cores)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0)
        threads.setFlags(threads.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(threads)
        self.add_grid_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Class map")))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.CONFIDENCE, self.tr("Confidence (probability of the chosen class)"), optional=True,
            createByDefault=False))
        self.add_product_parameters()

    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        from engine.maps import read_model_card
        from engine.segment import segment_raster

        model = self.parameterAsFile(parameters, self.MODEL, context)
        overlap = None
        if parameters.get(self.OVERLAP) not in (None, ""):
            overlap = self.parameterAsDouble(parameters, self.OVERLAP, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        confidence = self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context) or None
        bands = parse_bands(self.parameterAsString(parameters, self.BANDS, context)) or None
        settings = dict(bands=bands, tile_size=self.parameterAsInt(parameters, self.TILE_SIZE, context),
                        overlap=overlap, batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
                        device=self.device_choice(parameters, context),
                        threads=self.parameterAsInt(parameters, self.THREADS, context))

        def segment(path, extent, confidence_path, run):
            return segment_raster(path, model, output, extent=extent, confidence_path=confidence_path,
                                  feedback=run, **settings)

        card = self.read_card(model, read_model_card)
        result = self.run_map(parameters, context, feedback, segment, output, card.resolution_cm, confidence)
        feedback.pushInfo(self.tr("Execution provider: {}").format(result.segment.provider))
        self.log_areas(feedback, result)
        outputs = self.map_results(context, result, output)
        outputs[self.CONFIDENCE] = confidence
        return outputs

    def read_card(self, model: str, reader):
        """The model card, or a QGIS error naming MODEL."""
        from qgis.core import QgsProcessingException

        try:
            return reader(model)
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from None
