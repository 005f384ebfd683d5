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

CRS_SUFFIX = re.compile(r"\[(?P<crs>[^\]]*)\]\s*$")


def _given_crs_text(value) -> str | None:
    """The CRS written in an extent string 'xmin,xmax,ymin,ymax [EPSG:xxxx]', or None."""
    if not isinstance(value, str):
        return None
    match = CRS_SUFFIX.search(value)
    return match.group("crs").strip() if match else None


def _check_area(rect: QgsRectangle, what: str, name: str) -> None:
    values = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
    if not all(math.isfinite(v) for v in values):
        raise QgsProcessingException(f"{name}: the extent {what} is not a finite rectangle; draw the area again")
    if rect.width() <= 0 or rect.height() <= 0:
        raise QgsProcessingException(
            f"{name}: the extent {what} has zero area ({values[0]:g}, {values[1]:g}, {values[2]:g}, {values[3]:g}); "
            "drag a rectangle over the area to process, or leave EXTENT empty for the whole raster"
        )


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
        raise QgsProcessingException(
            f"{name}: unknown CRS '{written}'; write it as [EPSG:code] (e.g. [EPSG:4326]) or leave it out "
            "to use the raster's CRS"
        )
    rect = alg.parameterAsExtent(parameters, name, context)
    if rect.isNull():
        raise QgsProcessingException(
            f"{name}: cannot read an extent from {value!r}; use 'xmin,xmax,ymin,ymax [EPSG:code]'")
    _check_area(rect, "given", name)
    crs = alg.parameterAsExtentCrs(parameters, name, context)
    target = layer.crs()
    if not crs.isValid() or crs == target:
        return rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()
    if not target.isValid():
        if written is None and isinstance(value, str):  # no CRS written: the raster's own coordinates
            return rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()
        raise QgsProcessingException(
            f"{name}: the extent is in {crs.authid() or crs.description()}, but the raster has no CRS to transform "
            "it to; give the extent in the raster's pixel coordinates without a CRS, or georeference the raster"
        )
    try:
        moved = QgsCoordinateTransform(crs, target, context.transformContext()).transformBoundingBox(rect)
    except QgsCsException as exc:
        raise QgsProcessingException(
            f"{name}: the extent cannot be transformed from {crs.authid()} to the raster's {target.authid()} ({exc}); "
            "give it in the raster's CRS"
        ) from None
    _check_area(moved, f"in the raster's CRS ({target.authid()})", name)
    return moved.xMinimum(), moved.yMinimum(), moved.xMaximum(), moved.yMaximum()
