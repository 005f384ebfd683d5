"""rsseg:cluster_map: an unsupervised land-cover map from an SDCluster model."""
from __future__ import annotations

import os
import shutil
import tempfile

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from .map_base import MapAlgorithm

BRANCHES = ["from the checkpoint", "teacher", "student"]


class ClusterMapAlgorithm(MapAlgorithm):
    """Unsupervised map from an SDCluster checkpoint or its cluster model, with polygons and areas."""

    algorithm_name = "cluster_map"
    group_key = "inference"
    requires = ("onnxruntime", "rasterio")

    CHECKPOINT = "CHECKPOINT"
    CLUSTERS = "CLUSTERS"
    TILE_SIZE = "TILE_SIZE"
    BRANCH = "BRANCH"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    def displayName(self) -> str:
        return self.tr("Cluster map (unsupervised land cover from SDCluster)")

    def shortHelpString(self) -> str:
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
            "(its tile size is dynamic, so Deepness does not load it).\n"
            "Score it against a reference with rsseg:evaluate, MODE clusters (clusters are matched to classes)."
        ) + "\n" + self.map_help()

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(
            self.CHECKPOINT, self.tr("SDCluster checkpoint (.pt) or cluster model (.onnx)"),
            fileFilter="SDCluster checkpoint or cluster model (*.pt *.onnx)"))
        self.add_input_parameters()
        self.addParameter(QgsProcessingParameterNumber(
            self.CLUSTERS, self.tr("Number of clusters (0: one per prototype used)"),
            QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0, maxValue=255))
        self.addParameter(QgsProcessingParameterNumber(
            self.TILE_SIZE, self.tr("Tile size in pixels (0: from the model)"), QgsProcessingParameterNumber.Integer,
            defaultValue=0, minValue=0))
        self.add_device_parameter()
        branch = QgsProcessingParameterEnum(self.BRANCH, self.tr("Network"), options=BRANCHES, defaultValue=0)
        branch.setFlags(branch.flags() | branch.FlagAdvanced)
        self.addParameter(branch)
        self.add_grid_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Cluster map")))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Keep the cluster model (.onnx)"), fileFilter="ONNX model (*.onnx)",
            optional=True, createByDefault=False))
        self.add_product_parameters()

    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        checkpoint = self.parameterAsFile(parameters, self.CHECKPOINT, context)
        if not checkpoint or not os.path.isfile(checkpoint):
            raise QgsProcessingException(self.tr(
                "CHECKPOINT: {!r} is not a file; choose an SDCluster .pt or .onnx").format(checkpoint))
        is_onnx = checkpoint.lower().endswith(".onnx")
        if not is_onnx:
            self.check_torch()
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        keep_model = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context) or None
        segment = self.cluster_segmenter(parameters, context, feedback, checkpoint, output, keep_model)
        card_cm = None
        if is_onnx:
            from engine.maps import read_model_card

            try:
                card_cm = read_model_card(checkpoint).resolution_cm
            except ValueError as exc:
                raise QgsProcessingException(str(exc)) from None
        result = self.run_map(parameters, context, feedback, segment, output, card_cm)
        names = result.segment.class_names
        feedback.pushInfo(self.tr("{} clusters: {}").format(len(names), ", ".join(names)))
        self.log_areas(feedback, result)
        outputs = self.map_results(context, result, output)
        if keep_model:
            outputs[self.OUTPUT_MODEL] = keep_model
        return outputs

    def cluster_segmenter(self, parameters, context, feedback, checkpoint: str, output: str, keep_model: str | None):
        """The segment step of engine.maps: export the cluster model (for a .pt) on the run's grid, then segment."""
        from engine.run_scope import run_temp_dir
        from engine.segment import segment_raster

        clusters = self.parameterAsInt(parameters, self.CLUSTERS, context)
        tile_size = self.parameterAsInt(parameters, self.TILE_SIZE, context)
        branch = BRANCHES[self.parameterAsEnum(parameters, self.BRANCH, context)]
        device = self.device_choice(parameters, context)

        def segment(path, extent, confidence_path, run):
            if checkpoint.lower().endswith(".onnx"):
                if clusters:
                    feedback.pushWarning(self.tr("CLUSTERS is ignored: the .onnx cluster model fixes its clusters"))
                return segment_raster(path, checkpoint, output, extent=extent, tile_size=tile_size, device=device,
                                      confidence_path=confidence_path, feedback=run)
            from training.methods.sdcluster_export import export_cluster_model

            workdir = None if keep_model else tempfile.mkdtemp(prefix="clusters_", dir=run_temp_dir())
            model_path = keep_model or os.path.join(workdir, "clusters.onnx")
            try:
                export_cluster_model(checkpoint, model_path, clusters=clusters, usage_raster=path,
                                     branch=None if branch == BRANCHES[0] else branch, tile_size=tile_size or None,
                                     feedback=run)
                return segment_raster(path, model_path, output, extent=extent, tile_size=tile_size, device=device,
                                      confidence_path=confidence_path, feedback=run)
            finally:
                if workdir is not None:
                    shutil.rmtree(workdir, ignore_errors=True)

        return segment

    def check_torch(self) -> None:
        """A .pt checkpoint is exported with torch first; say what to install when it is missing."""
        from ..dependencies import missing_message, missing_modules

        missing = missing_modules("torch", "onnx")
        if missing:
            raise QgsProcessingException(self.tr(
                "CHECKPOINT: exporting a .pt checkpoint needs torch and onnx. {} Or pass a cluster .onnx exported "
                "elsewhere.").format(missing_message(missing)))
