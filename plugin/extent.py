"""The EXTENT parameter, read once for every algorithm that takes one.

QGIS's ``parameterAsExtent`` quietly gives up in two cases a careful tool must not let
through: an extent whose CRS is unknown or cannot be transformed is used as if it were
in the raster's CRS, and a zero-area extent (a click instead of a drag) reads as "no
extent", i.e. the whole raster. Both now stop the run with a message naming EXTENT.
"""
from __future__ import annotations

import math
import re

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsProcessingException,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

CRS_SUFFIX = re.compile(r"\[(?P<crs>[^\]]*)\]\s*$")


def _tr(text: str) -> str:
    """A message below in QGIS's language."""
    return QCoreApplication.translate("RssegAlgorithm", text)


def _given_crs_text(value) -> str | None:
    """The CRS written in an extent string 'xmin,xmax,ymin,ymax [EPSG:xxxx]', or None."""
    if not isinstance(value, str):
        return None
    match = CRS_SUFFIX.search(value)
    return match.group("crs").strip() if match else None


# Messages, marked for pylupdate5 under the algorithms' shared context and formatted after translation.
NOT_FINITE = QT_TRANSLATE_NOOP("RssegAlgorithm", "{}: the extent {} is not a finite rectangle; draw the area again")
ZERO_AREA = QT_TRANSLATE_NOOP(
    "RssegAlgorithm",
    "{}: the extent {} has zero area ({:g}, {:g}, {:g}, {:g}); drag a rectangle over the area to process, "
    "or leave EXTENT empty for the whole raster")
UNKNOWN_CRS = QT_TRANSLATE_NOOP(
    "RssegAlgorithm",
    "{}: unknown CRS '{}'; write it as [EPSG:code] (e.g. [EPSG:4326]) or leave it out to use the raster's CRS")
UNREADABLE = QT_TRANSLATE_NOOP(
    "RssegAlgorithm", "{}: cannot read an extent from {!r}; use 'xmin,xmax,ymin,ymax [EPSG:code]'")
AS_GIVEN = QT_TRANSLATE_NOOP("RssegAlgorithm", "given")
RASTER_WITHOUT_CRS = QT_TRANSLATE_NOOP(
    "RssegAlgorithm",
    "{}: the extent is in {}, but the raster has no CRS to transform it to; give the extent in the raster's "
    "coordinates without a CRS, or georeference the raster")
NOT_TRANSFORMABLE = QT_TRANSLATE_NOOP(
    "RssegAlgorithm",
    "{}: the extent cannot be transformed from {} to the raster's {} ({}); give it in the raster's CRS")
IN_RASTER_CRS = QT_TRANSLATE_NOOP("RssegAlgorithm", "in the raster's CRS ({})")


def _check_area(rect: QgsRectangle, what: str, name: str) -> None:
    values = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
    if not all(math.isfinite(v) for v in values):
        raise QgsProcessingException(_tr(NOT_FINITE).format(name, what))
    if rect.width() <= 0 or rect.height() <= 0:
        raise QgsProcessingException(_tr(ZERO_AREA).format(name, what, *values))


def extent_in_layer_crs(alg, parameters, context, layer, name: str = "EXTENT"):
    """``(xmin, ymin, xmax, ymax)`` of parameter ``name`` in ``layer``'s CRS, or None when it is empty.

    Raises QgsProcessingException naming ``name`` for an unknown CRS, a CRS that cannot be
    transformed to the layer's, and extents of zero area (before or after reprojection).
    """
    value = parameters.get(name)
    if value in (None, ""):
        return None
    written = _given_crs_text(value)
    if written is not None and not QgsCoordinateReferenceSystem(written).isValid():
        raise QgsProcessingException(_tr(UNKNOWN_CRS).format(name, written))
    rect = alg.parameterAsExtent(parameters, name, context)
    if rect.isNull():
        raise QgsProcessingException(_tr(UNREADABLE).format(name, value))
    _check_area(rect, _tr(AS_GIVEN), name)
    crs = alg.parameterAsExtentCrs(parameters, name, context)
    target = layer.crs()
    if not crs.isValid() or crs == target:
        return rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()
    if not target.isValid():
        if written is None and isinstance(value, str):  # no CRS written: the raster's own coordinates
            return rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()
        raise QgsProcessingException(_tr(RASTER_WITHOUT_CRS).format(name, crs.authid() or crs.description()))
    try:
        moved = QgsCoordinateTransform(crs, target, context.transformContext()).transformBoundingBox(rect)
    except QgsCsException as exc:
        raise QgsProcessingException(_tr(NOT_TRANSFORMABLE).format(name, crs.authid(), target.authid(), exc)) from None
    _check_area(moved, _tr(IN_RASTER_CRS).format(target.authid()), name)
    return moved.xMinimum(), moved.yMinimum(), moved.xMaximum(), moved.yMaximum()
