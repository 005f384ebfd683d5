"""Regenerate tests/segment_and_count.model3, the graphical-modeler model the tests run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/make_modeler_model.py

The model is what a user would draw in Processing > Graphical Modeler: the rsseg:segment
algorithm, followed by QGIS's native "Raster layer unique values report", which counts the
pixels of each class. Inputs: SCENE (raster layer) and MODEL (ONNX file); outputs: the
class raster (segment:CLASSES) and the pixel counts per class (count:COUNTS). It shows that
rsseg algorithms chain with QGIS's own in a model and run from qgis_process.
"""
from __future__ import annotations

import sys
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parent / "segment_and_count.model3"


def build_model():
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFile,
        QgsProcessingParameterRasterLayer,
    )
    from qgis.core import (
        QgsProcessingModelChildParameterSource as Source,
    )
    from qgis.PyQt.QtCore import QPointF

    model = QgsProcessingModelAlgorithm("segment_and_count", "rsseg examples", "rssegexamples")
    model.setHelpContent({"ALG_DESC": "Segments a raster with an ONNX model (rsseg:segment) and counts the pixels "
                                      "of each class (native:rasterlayeruniquevaluesreport)."})

    def add_input(parameter, x):
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(QPointF(x, 60))
        model.addModelParameter(parameter, component)

    add_input(QgsProcessingParameterRasterLayer("SCENE", "Scene to segment"), 120)
    add_input(QgsProcessingParameterFile("MODEL", "ONNX model", extension="onnx"), 360)

    segment = QgsProcessingModelChildAlgorithm("rsseg:segment")
    segment.setChildId("segment")
    segment.setDescription("Segment with an ONNX model")
    segment.setPosition(QPointF(240, 200))
    segment.addParameterSources("INPUT", [Source.fromModelParameter("SCENE")])
    segment.addParameterSources("MODEL", [Source.fromModelParameter("MODEL")])
    classes = QgsProcessingModelOutput("CLASSES", "Classes")
    classes.setChildId("segment")
    classes.setChildOutputName("OUTPUT")
    classes.setPosition(QPointF(440, 260))
    segment.setModelOutputs({"CLASSES": classes})
    model.addChildAlgorithm(segment)

    count = QgsProcessingModelChildAlgorithm("native:rasterlayeruniquevaluesreport")
    count.setChildId("count")
    count.setDescription("Pixels per class")
    count.setPosition(QPointF(240, 340))
    count.addParameterSources("INPUT", [Source.fromChildOutput("segment", "OUTPUT")])
    count.addParameterSources("BAND", [Source.fromStaticValue(1)])
    counts = QgsProcessingModelOutput("COUNTS", "Pixels per class")
    counts.setChildId("count")
    counts.setChildOutputName("OUTPUT_TABLE")
    counts.setPosition(QPointF(440, 400))
    count.setModelOutputs({"COUNTS": counts})
    model.addChildAlgorithm(count)
    for child in (segment, count):
        set_defaults(model, child)
    return model


def set_defaults(model, child) -> None:
    """Give every parameter left unset its default, as the modeler's dialog does (a model
    child with a mandatory parameter unset does not validate)."""
    from qgis.core import QgsApplication, QgsProcessingDestinationParameter
    from qgis.core import QgsProcessingModelChildParameterSource as Source

    algorithm = QgsApplication.processingRegistry().algorithmById(child.algorithmId())
    if algorithm is None:
        raise SystemExit(f"{child.algorithmId()} is not available: is the rsseg provider loaded?")
    stored = model.childAlgorithm(child.childId())
    for parameter in algorithm.parameterDefinitions():
        if parameter.name() in stored.parameterSources() or isinstance(parameter, QgsProcessingDestinationParameter):
            continue
        if parameter.defaultValue() is not None:
            stored.addParameterSources(parameter.name(), [Source.fromStaticValue(parameter.defaultValue())])


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "tests"))
    from helpers import QGIS_PLUGINS, load_rsseg_package

    sys.path[1:1] = [str(repo), QGIS_PLUGINS]  # the plugin's packages, and QGIS's `processing`
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    plugin = load_rsseg_package().classFactory(None)
    plugin.initProcessing()
    model = build_model()
    ok, errors = model.validate()
    if not ok:
        print("model is not valid:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    if not model.toFile(str(MODEL_FILE)):
        print(f"could not write {MODEL_FILE}", file=sys.stderr)
        return 1
    print(f"wrote {MODEL_FILE}")
    plugin.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
