"""The rsseg Processing provider: one entry in the toolbox, the modeler and qgis_process.

Algorithms are imported one by one inside :meth:`RssegProvider.loadAlgorithms`: a module
that is missing or fails to import is logged and skipped, so one broken algorithm never
stops QGIS or the others from loading. Importing an algorithm module must stay cheap (no
torch at module level); packages an algorithm needs are checked when it runs.
"""
from __future__ import annotations

import importlib
import traceback
from pathlib import Path

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

ICON_PATH = Path(__file__).resolve().parents[1] / "icon.png"
LOG_TAG = "rsseg"

# (module under plugin.algorithms, class name), in toolbox order
ALGORITHMS: tuple[tuple[str, str], ...] = (
    ("segment", "SegmentAlgorithm"),
    ("finetune", "FinetuneAlgorithm"),
    ("export_onnx", "ExportOnnxAlgorithm"),
    ("evaluate", "EvaluateAlgorithm"),
    ("probe", "ProbeAlgorithm"),
    ("pretrain_grass", "PretrainGrassAlgorithm"),
    ("pretrain_sdcluster", "PretrainSdclusterAlgorithm"),
    ("cluster_map", "ClusterMapAlgorithm"),
    ("pretrain_diffusion", "PretrainDiffusionAlgorithm"),
    ("check_environment", "CheckEnvironmentAlgorithm"),
)


def load_algorithm_classes(specs=ALGORITHMS) -> tuple[list[type], list[str]]:
    """Import each algorithm class; returns (classes, one error line per skipped module)."""
    classes, errors = [], []
    package = __name__.rsplit(".", 1)[0] + ".algorithms"
    for module_name, class_name in specs:
        try:
            module = importlib.import_module(f"{package}.{module_name}")
            classes.append(getattr(module, class_name))
        except Exception as exc:  # noqa: BLE001 - any failure must only skip this algorithm
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            errors.append(f"{module_name}.{class_name}: {detail}")
    return classes, errors


class RssegProvider(QgsProcessingProvider):
    """Provider id ``rsseg``: algorithm ids are ``rsseg:<name>``."""

    def __init__(self):
        super().__init__()
        self.skipped: list[str] = []

    def id(self) -> str:
        return "rsseg"

    def name(self) -> str:
        return "rsseg"

    def longName(self) -> str:
        return "rsseg: remote-sensing segmentation"

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def svgIconPath(self) -> str:
        return str(ICON_PATH)

    def loadAlgorithms(self) -> None:
        classes, self.skipped = load_algorithm_classes()
        for message in self.skipped:
            QgsMessageLog.logMessage(f"algorithm skipped: {message}", LOG_TAG, Qgis.Warning)
        for cls in classes:
            try:
                self.addAlgorithm(cls())
            except Exception as exc:  # noqa: BLE001 - one algorithm that cannot start must not hide the others
                QgsMessageLog.logMessage(f"algorithm {cls.__name__} failed to start: {exc}", LOG_TAG, Qgis.Warning)
                self.skipped.append(f"{cls.__name__}: {exc}")
