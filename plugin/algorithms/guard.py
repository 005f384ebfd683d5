"""The QGIS half of the output guard: parameter values -> file paths for engine.safeguards.

Which parameters are inputs and outputs is read from the algorithm's own definitions
(destination parameters are outputs, layer/file parameters inputs), so an algorithm added
later is guarded without listing anything. Outputs are resolved the way QGIS itself will
resolve them (default extension appended), in a scratch context so that resolving has no
side effect (no temporary names taken, no layers queued to load).
"""
from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputLayerDefinition,
    QgsProperty,
)
from qgis.PyQt.QtCore import QCoreApplication

TEMPORARY = ("", "TEMPORARY_OUTPUT")
INPUT_TYPES = ("raster", "file", "multilayer", "layer", "vector", "source", "mesh", "pointcloud")


def _source_path(layer) -> str | None:
    """The file behind a layer (provider options such as ``|layername=`` dropped)."""
    if layer is None:
        return None
    return layer.source().split("|")[0] or None


def _input_paths(alg, definition, parameters, context) -> list[str]:
    name = definition.name()
    value = parameters.get(name)
    if value in (None, ""):
        return []
    kind = definition.type()
    paths = []
    if isinstance(value, str):
        paths.append(value.split("|")[0])  # the path as given, even when QGIS cannot load it
    try:
        if kind == "file":
            paths.append(alg.parameterAsFile(parameters, name, context))
        elif kind == "raster":
            paths.append(_source_path(alg.parameterAsRasterLayer(parameters, name, context)))
        elif kind == "multilayer":
            paths += [_source_path(layer) for layer in alg.parameterAsLayerList(parameters, name, context)]
            if isinstance(value, (list, tuple)):
                paths += [v.split("|")[0] for v in value if isinstance(v, str)]
        elif kind in ("vector", "source"):
            paths.append(_source_path(alg.parameterAsVectorLayer(parameters, name, context)))
        else:
            paths.append(_source_path(alg.parameterAsLayer(parameters, name, context)))
    except Exception:  # noqa: BLE001 - a value QGIS cannot resolve is the algorithm's to report
        pass
    return [p for p in dict.fromkeys(paths) if p and (os.path.isabs(p) or os.path.exists(p))]


def _output_path(alg, definition, parameters) -> str | None:
    name = definition.name()
    value = parameters.get(name)
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        sink = value.sink
        value = sink.staticValue() if sink.propertyType() == QgsProperty.StaticProperty else None
    elif isinstance(value, QgsProperty):
        value = value.staticValue() if value.propertyType() == QgsProperty.StaticProperty else None
    if not isinstance(value, str) or value in TEMPORARY or value.startswith(("memory:", "postgres:", "postgis:")):
        return None
    scratch = QgsProcessingContext()
    try:
        if definition.type() in ("rasterDestination", "vectorDestination"):
            path = alg.parameterAsOutputLayer(parameters, name, scratch)
        elif definition.type() == "sink":
            path = value
        else:
            path = alg.parameterAsFileOutput(parameters, name, scratch)
    except Exception:  # noqa: BLE001 - a value QGIS cannot resolve is checked as given
        path = value
    path = (path or value).split("|")[0]
    return path[len("ogr:"):] if path.startswith("ogr:") else path


def run_paths(alg, parameters, context) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(inputs, outputs) of one run: parameter name -> paths read / path written."""
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, str] = {}
    for definition in alg.parameterDefinitions():
        name = definition.name()
        if definition.isDestination():
            path = _output_path(alg, definition, parameters)
            if path:
                outputs[name] = path
                for suffix in getattr(alg, "output_companions", {}).get(name, ()):
                    outputs[f"{name} ({os.path.basename(path)}{suffix})"] = path + suffix
        elif definition.type() in INPUT_TYPES:
            paths = _input_paths(alg, definition, parameters, context)
            if paths:
                inputs[name] = paths
    return inputs, outputs


def check_run_paths(alg, parameters, context) -> None:
    """QgsProcessingException when an output of this run would overwrite an input or another output."""
    from engine.safeguards import check_outputs_distinct, check_outputs_writable

    inputs, outputs = run_paths(alg, parameters, context)
    try:
        check_outputs_distinct(inputs, outputs)
        check_outputs_writable(outputs)
    except ValueError as exc:
        raise QgsProcessingException(str(exc)) from None


def check_written_outputs(alg, results) -> None:
    """Nothing is reported as an output unless it exists: a reported file that is missing is an error."""
    if not isinstance(results, dict):
        return
    for definition in alg.parameterDefinitions():
        if not definition.isDestination() or definition.type() not in ("rasterDestination", "fileDestination"):
            continue
        value = results.get(definition.name())
        if isinstance(value, str) and value and not os.path.exists(value):
            raise QgsProcessingException(QCoreApplication.translate(
                "RssegAlgorithm", "{}: {} was reported as written but does not exist; nothing was saved there"
            ).format(definition.name(), value))
