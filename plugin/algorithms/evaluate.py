"""rsseg:evaluate — accuracy of a class or cluster raster against reference data.

Thin: resolves layers to files (rasterizing a vector reference onto the prediction's
grid), then delegates to :func:`engine.evaluate.evaluate_rasters`. The headline numbers
are algorithm outputs so a modeler workflow can use them.
"""
from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..layers import raster_layer_path, rasterize_vector_labels
from .base import RssegAlgorithm, engine_errors, run_feedback, scratch_folder

# MODE choices, in enum order; marked for translation, the index is what the code reads
MODES = [QT_TRANSLATE_NOOP("EvaluateAlgorithm", "classes"), QT_TRANSLATE_NOOP("EvaluateAlgorithm", "clusters")]


class EvaluateAlgorithm(RssegAlgorithm):
    """rsseg:evaluate: confusion matrix and scores of a class or cluster raster."""

    PREDICTION = "PREDICTION"
    REFERENCE = "REFERENCE"
    REFERENCE_FIELD = "REFERENCE_FIELD"
    IGNORE_VALUE = "IGNORE_VALUE"
    MODE = "MODE"
    OUTPUT_HTML = "OUTPUT_HTML"
    OUTPUT_TABLE = "OUTPUT_TABLE"
    MIOU = "MIOU"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    KAPPA = "KAPPA"

    algorithm_name = "evaluate"
    group_key = "evaluation"
    requires = ("rasterio",)

    PREVIEW_LAYERS = "PREVIEW_LAYERS"

    def displayName(self) -> str:
        return self.tr("Evaluate segmentation (accuracy assessment)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Compares a classified raster (PREDICTION) with reference data and reports the confusion "
            "matrix, per-class IoU, F1, precision and recall, mean IoU (over classes present in the "
            "reference), overall accuracy and Cohen's kappa.\n\n"
            "REFERENCE: a raster of class ids, or a polygon layer whose REFERENCE_FIELD holds the class "
            "(integer ids, or class names: matched by name to the class names stored with the prediction, else "
            "numbered in sorted order). A reference on another grid or CRS is "
            "resampled (nearest) onto the prediction's grid. Reference pixels equal to IGNORE_VALUE and "
            "prediction pixels equal to 255 (rsseg's nodata) are skipped.\n\n"
            "MODE 'clusters': prediction values are cluster ids (e.g. from rsseg:cluster_map); each "
            "cluster is first matched to a class: one-to-one (Hungarian) when there are as many clusters "
            "as classes, by majority vote otherwise.\n\n"
            "PREVIEW_LAYERS (optional): more rasters to show in the report, e.g. the image that was segmented "
            "and a cluster map. The report shows previews (small PNG pictures, also written beside it): these "
            "images, then the prediction and the reference, then those with a colour table (class maps).\n\n"
            "Outputs: an HTML report with previews and a confusion matrix coloured by share, a table (.csv or "
            ".json, by the file extension) with the same numbers, and MIOU, OVERALL_ACCURACY and KAPPA as "
            "numbers for models."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.PREDICTION, self.tr("Prediction (class or cluster raster)")))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.REFERENCE, self.tr("Reference (raster of class ids, or polygons)"),
            types=[QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.REFERENCE_FIELD, self.tr("Class field (polygon reference only)"),
            parentLayerParameterName=self.REFERENCE, optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.IGNORE_VALUE, self.tr("Reference value to ignore"), type=QgsProcessingParameterNumber.Integer,
            defaultValue=255, minValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            self.MODE, self.tr("Prediction holds"), options=[self.tr(mode) for mode in MODES], defaultValue=0))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.PREVIEW_LAYERS, self.tr("More rasters to preview in the report (image, cluster map)"),
            layerType=QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_HTML, self.tr("Report"), fileFilter="HTML (*.html)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_TABLE, self.tr("Scores table"), fileFilter="CSV (*.csv);;JSON (*.json)", optional=True))
        self.addOutput(QgsProcessingOutputNumber(self.MIOU, self.tr("Mean IoU")))
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, self.tr("Overall accuracy")))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, self.tr("Cohen's kappa")))

    def _reference(self, parameters, context, feedback, prediction: str, ignore_value: int, workdir: str):
        """REFERENCE as a raster file on any grid, plus the class names of a rasterized
        polygon layer (empty for a raster reference)."""
        layer = self.parameterAsLayer(parameters, self.REFERENCE, context)
        if isinstance(layer, QgsVectorLayer):
            if ignore_value > 255:
                raise QgsProcessingException(self.tr(
                    "{}: a polygon reference is rasterized to bytes; use 0..255").format(self.IGNORE_VALUE))
            field = self.parameterAsString(parameters, self.REFERENCE_FIELD, context)
            feedback.pushInfo(self.tr("Rasterizing '{}' ({}) onto the prediction's grid").format(layer.name(), field))
            return rasterize_vector_labels(layer, field, prediction, os.path.join(workdir, "reference.tif"),
                                           parameter=self.REFERENCE, ignore_value=ignore_value,
                                           field_parameter=self.REFERENCE_FIELD)
        if isinstance(layer, QgsRasterLayer):
            return raster_layer_path(layer, self.REFERENCE), []
        raise QgsProcessingException(self.tr("{}: choose a raster of class ids or a polygon layer").format(
            self.REFERENCE))

    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        from engine.evaluate import evaluate_rasters

        prediction = raster_layer_path(self.parameterAsRasterLayer(parameters, self.PREDICTION, context),
                                       self.PREDICTION)
        ignore_value = self.parameterAsInt(parameters, self.IGNORE_VALUE, context)
        cluster_mode = self.parameterAsEnum(parameters, self.MODE, context) == 1
        output_html = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        output_table = self.parameterAsFileOutput(parameters, self.OUTPUT_TABLE, context) or None
        if output_table and not output_table.lower().endswith((".csv", ".json")):
            raise QgsProcessingException(self.tr("{}: use a .csv or .json file name, got {}").format(
                self.OUTPUT_TABLE, output_table))
        previews = [raster_layer_path(layer, self.PREVIEW_LAYERS)
                    for layer in self.parameterAsLayerList(parameters, self.PREVIEW_LAYERS, context)]
        with engine_errors(self.tr("Cancelled: no report was written")), scratch_folder("rsseg_evaluate_") as workdir:
            reference, class_names = self._reference(parameters, context, feedback, prediction, ignore_value, workdir)
            result = evaluate_rasters(
                prediction, reference, output_html, output_table, ignore_value=ignore_value,
                reference_class_names=class_names or None, cluster_mode=cluster_mode, preview_rasters=previews,
                feedback=run_feedback(feedback))
        feedback.pushInfo(self.tr("Report: {}").format(output_html))
        outputs = {
            self.OUTPUT_HTML: output_html,
            self.MIOU: result.miou,
            self.OVERALL_ACCURACY: result.overall_accuracy,
            self.KAPPA: result.kappa,
        }
        if output_table:
            outputs[self.OUTPUT_TABLE] = output_table
        return outputs
