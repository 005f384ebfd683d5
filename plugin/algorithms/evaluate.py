"""rsseg:evaluate — accuracy of a class or cluster raster against reference data.

Thin: resolves layers to files (rasterizing a vector reference onto the prediction's
grid), then delegates to :func:`engine.evaluate.evaluate_rasters`. The headline numbers
are algorithm outputs so a modeler workflow can use them.
"""
from __future__ import annotations

import os
import shutil
import tempfile

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

from ..layers import raster_layer_path, rasterize_vector_labels
from .base import RssegAlgorithm, run_feedback

MODES = ["classes", "clusters"]


class EvaluateAlgorithm(RssegAlgorithm):
    algorithm_name = "evaluate"
    group_key = "evaluation"
    requires = ("rasterio",)

    PREVIEW_LAYERS = "PREVIEW_LAYERS"

    def displayName(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr("Evaluate segmentation (accuracy assessment)")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr(
            "Compares a classified raster (PREDICTION) with reference data and reports the confusion "
            "matrix, per-class IoU, F1, precision and recall, mean IoU (over classes present in the "
            "reference), overall accuracy and Cohen's kappa.\n\n"
            "REFERENCE: a raster of class ids, or a polygon layer whose REFERENCE_FIELD holds the class "
            "(integer ids, or class names: matched by name to the class names stored with the prediction, else numbered in sorted order). A reference on another grid or CRS is "
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

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(QgsProcessingParameterRasterLayer("PREDICTION", self.tr("Prediction (class or cluster raster)")))
        self.addParameter(QgsProcessingParameterMapLayer(
            "REFERENCE", self.tr("Reference (raster of class ids, or polygons)"),
            types=[QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            "REFERENCE_FIELD", self.tr("Class field (polygon reference only)"), parentLayerParameterName="REFERENCE",
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "IGNORE_VALUE", self.tr("Reference value to ignore"), type=QgsProcessingParameterNumber.Integer,
            defaultValue=255, minValue=0))
        self.addParameter(QgsProcessingParameterEnum("MODE", self.tr("Prediction holds"), options=MODES, defaultValue=0))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.PREVIEW_LAYERS, self.tr("More rasters to preview in the report (image, cluster map)"),
            layerType=QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT_HTML", self.tr("Report"), fileFilter="HTML (*.html)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT_TABLE", self.tr("Scores table"), fileFilter="CSV (*.csv);;JSON (*.json)", optional=True))
        self.addOutput(QgsProcessingOutputNumber("MIOU", self.tr("Mean IoU")))
        self.addOutput(QgsProcessingOutputNumber("OVERALL_ACCURACY", self.tr("Overall accuracy")))
        self.addOutput(QgsProcessingOutputNumber("KAPPA", self.tr("Cohen's kappa")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        self.check_dependencies()
        from engine.evaluate import evaluate_rasters
        from engine.progress import Cancelled
        from engine.run_scope import run_temp_dir

        prediction = raster_layer_path(self.parameterAsRasterLayer(parameters, "PREDICTION", context), "PREDICTION")
        reference_layer = self.parameterAsLayer(parameters, "REFERENCE", context)
        ignore_value = self.parameterAsInt(parameters, "IGNORE_VALUE", context)
        cluster_mode = MODES[self.parameterAsEnum(parameters, "MODE", context)] == "clusters"
        output_html = self.parameterAsFileOutput(parameters, "OUTPUT_HTML", context)
        output_table = self.parameterAsFileOutput(parameters, "OUTPUT_TABLE", context) or None
        if output_table and not output_table.lower().endswith((".csv", ".json")):
            raise QgsProcessingException(f"OUTPUT_TABLE: use a .csv or .json file name, got {output_table}")

        previews = [raster_layer_path(layer, self.PREVIEW_LAYERS)
                    for layer in self.parameterAsLayerList(parameters, self.PREVIEW_LAYERS, context)]
        workdir = None
        class_names: list[str] = []
        try:
            if isinstance(reference_layer, QgsVectorLayer):
                if ignore_value > 255:
                    raise QgsProcessingException("IGNORE_VALUE: a polygon reference is rasterized to bytes; use 0..255")
                field = self.parameterAsString(parameters, "REFERENCE_FIELD", context)
                workdir = tempfile.mkdtemp(prefix="rsseg_evaluate_", dir=run_temp_dir())
                feedback.pushInfo(f"Rasterizing '{reference_layer.name()}' ({field}) onto the prediction's grid")
                reference, class_names = rasterize_vector_labels(
                    reference_layer, field, prediction, os.path.join(workdir, "reference.tif"),
                    parameter="REFERENCE", ignore_value=ignore_value,
                    field_parameter="REFERENCE_FIELD")
            elif isinstance(reference_layer, QgsRasterLayer):
                reference = raster_layer_path(reference_layer, "REFERENCE")
            else:
                raise QgsProcessingException("REFERENCE: choose a raster of class ids or a polygon layer")
            try:
                result = evaluate_rasters(
                    prediction, reference, output_html, output_table, ignore_value=ignore_value,
                    reference_class_names=class_names or None, cluster_mode=cluster_mode, preview_rasters=previews,
                    feedback=run_feedback(feedback))
            except Cancelled:
                feedback.reportError("cancelled; no report written", False)
                return {}
            except ValueError as exc:  # engine messages name the parameter and the fix
                raise QgsProcessingException(str(exc)) from None
        finally:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        feedback.pushInfo(f"Report: {output_html}")
        outputs = {
            "OUTPUT_HTML": output_html,
            "MIOU": result.miou,
            "OVERALL_ACCURACY": result.overall_accuracy,
            "KAPPA": result.kappa,
        }
        if output_table:
            outputs["OUTPUT_TABLE"] = output_table
        return outputs
