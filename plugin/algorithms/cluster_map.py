"""rsseg:cluster_map: an unsupervised land-cover map from an SDCluster model."""
from __future__ import annotations

import os
import tempfile

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..extent import extent_in_layer_crs
from ..layers import raster_layer_path
from ..styling import style_on_load
from .base import RssegAlgorithm, run_feedback

BRANCHES = ["from the checkpoint", "teacher", "student"]


class ClusterMapAlgorithm(RssegAlgorithm):
    algorithm_name = "cluster_map"
    group_key = "inference"
    requires = ("onnxruntime", "rasterio")

    def displayName(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr("Cluster map (unsupervised land cover from SDCluster)")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API name)
        return self.tr(
            "Maps the clusters an SDCluster model has learned: every pixel gets the cluster (prototype) it is "
            "most similar to. No labels are needed; use it to judge a pretrained model before fine-tuning, or as "
            "an unsupervised land-cover map whose clusters you name yourself.\n\n"
            "CHECKPOINT: an SDCluster checkpoint (.pt from rsseg:pretrain_sdcluster) or a cluster model (.onnx) "
            "exported by this algorithm before (then CLUSTERS and BRANCH are already fixed in it).\n"
            "CLUSTERS: 0 keeps one cluster per prototype that occurs in the input; N merges the prototypes into "
            "N clusters of similar ones (agglomerative clustering, average linkage on cosine distance), e.g. "
            "the number of land-cover classes you expect.\n"
            "EXTENT: only this area. TILE_SIZE: 0 takes 512 pixels; tiles overlap and their probabilities are "
            "blended, so the map has no seams, and memory does not grow with the raster's size.\n"
            "BRANCH (advanced): the network whose clusters are shown: the teacher (the moving average, default) "
            "or the student (the encoder fine-tuning starts from; ahead of the teacher after short training).\n"
            "OUTPUT: class raster (uint8, 255 = nodata), styled with well-separated colours and named "
            "'cluster 0', 'cluster 1', ...\n"
            "OUTPUT_MODEL: optionally keep the exported cluster model (.onnx) to run it again with rsseg:segment "
            "or Deepness.\n"
            "Score it against a reference with rsseg:evaluate, MODE clusters (clusters are matched to classes)."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        self.addParameter(QgsProcessingParameterFile(
            "CHECKPOINT", self.tr("SDCluster checkpoint (.pt) or cluster model (.onnx)"),
            fileFilter="SDCluster checkpoint or cluster model (*.pt *.onnx)"))
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", self.tr("Input raster")))
        self.addParameter(QgsProcessingParameterExtent("EXTENT", self.tr("Extent (empty: whole raster)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "CLUSTERS", self.tr("Number of clusters (0: one per prototype used)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0, maxValue=255))
        self.addParameter(QgsProcessingParameterNumber(
            "TILE_SIZE", self.tr("Tile size in pixels (0: from the model)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.add_device_parameter()
        branch = QgsProcessingParameterEnum("BRANCH", self.tr("Network"), options=BRANCHES, defaultValue=0)
        branch.setFlags(branch.flags() | branch.FlagAdvanced)
        self.addParameter(branch)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", self.tr("Cluster map")))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT_MODEL", self.tr("Keep the cluster model (.onnx)"), fileFilter="ONNX model (*.onnx)",
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString("PROVIDER", self.tr("Execution provider used")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        self.check_dependencies()
        from engine.progress import Cancelled
        from engine.run_scope import run_temp_dir
        from engine.segment import segment_raster

        checkpoint = self.parameterAsFile(parameters, "CHECKPOINT", context)
        if not checkpoint or not os.path.isfile(checkpoint):
            raise QgsProcessingException(f"CHECKPOINT: {checkpoint!r} is not a file; choose an SDCluster .pt or .onnx")
        layer = self.parameterAsRasterLayer(parameters, "INPUT", context)
        input_path = raster_layer_path(layer, "INPUT")
        extent = extent_in_layer_crs(self, parameters, context, layer, "EXTENT")
        clusters = self.parameterAsInt(parameters, "CLUSTERS", context)
        tile_size = self.parameterAsInt(parameters, "TILE_SIZE", context)
        branch = BRANCHES[self.parameterAsEnum(parameters, "BRANCH", context)]
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        keep_model = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context) or None
        run = run_feedback(feedback)

        workdir = None
        try:
            if checkpoint.lower().endswith(".onnx"):
                if clusters:
                    feedback.pushWarning(self.tr("CLUSTERS is ignored: the .onnx cluster model fixes its clusters"))
                model_path = checkpoint
            else:
                self.check_torch()
                from training.methods.sdcluster_export import export_cluster_model

                if keep_model:
                    model_path = keep_model
                else:
                    workdir = tempfile.mkdtemp(prefix="rsseg_clusters_", dir=run_temp_dir())
                    model_path = os.path.join(workdir, "clusters.onnx")
                export_cluster_model(
                    checkpoint, model_path, clusters=clusters, usage_raster=input_path,
                    branch=None if branch == BRANCHES[0] else branch, tile_size=tile_size or None, feedback=run,
                )
            result = segment_raster(
                input_path, model_path, output, extent=extent, tile_size=tile_size,
                device=self.device_choice(parameters, context), feedback=run,
            )
        except Cancelled:
            raise QgsProcessingException(self.tr("Cancelled: no output was written")) from None
        except ValueError as exc:  # our messages name the parameter and the fix
            raise QgsProcessingException(str(exc)) from None
        finally:
            if workdir is not None:
                for name in os.listdir(workdir):
                    os.remove(os.path.join(workdir, name))
                os.rmdir(workdir)
        feedback.pushInfo(self.tr("{} clusters: {}").format(len(result.class_names), ", ".join(result.class_names)))
        style_on_load(context, output, result.class_names, result.class_colors)
        outputs = {"OUTPUT": output, "PROVIDER": result.provider}
        if keep_model:
            outputs["OUTPUT_MODEL"] = keep_model
        return outputs

    def check_torch(self) -> None:
        """A .pt checkpoint is exported with torch first; say what to install when it is missing."""
        from ..dependencies import missing_message, missing_modules

        missing = missing_modules("torch", "onnx")
        if missing:
            raise QgsProcessingException(
                "CHECKPOINT: exporting a .pt checkpoint needs torch and onnx. " + missing_message(missing)
                + " Or pass a cluster .onnx exported elsewhere."
            )
