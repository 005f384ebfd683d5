"""Any QGIS raster layer -> a file the engine reads: web (WMS/WMTS/XYZ), virtual, in-memory layers.

The engine reads files with GDAL/rasterio and must not import QGIS, so a layer that is not
a local GDAL file is read here, through its data provider: ``QgsRasterDataProvider.block()``
over EXTENT at a chosen resolution, chunk by chunk (progress and cancel between chunks),
into a temporary tiled GeoTIFF in the layer's CRS. File-based GDAL layers (GeoTIFF, VRT
mosaics, ...) keep the direct path: nothing is copied.

Web layers cover the whole world, so they need EXTENT; a read larger than MAX_PIXELS is
refused before anything is downloaded, with the numbers to change.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsDistanceArea,
    QgsPointXY,
    QgsProcessingException,
    QgsProject,
    QgsRasterBlockFeedback,
    QgsRasterDataProvider,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QCoreApplication

from .layers import raster_layer_path

CHUNK = 1024                    # pixels per side of one block() request
DEFAULT_MAX_PIXELS = 100_000_000
WEB_PROVIDERS = {"wms", "wcs", "arcgismapserver"}
NUMPY_TYPES = {Qgis.Byte: np.uint8, Qgis.UInt16: np.uint16, Qgis.Int16: np.int16, Qgis.UInt32: np.uint32,
               Qgis.Int32: np.int32, Qgis.Float32: np.float32, Qgis.Float64: np.float64}
COLOR_TYPES = {Qgis.ARGB32, Qgis.ARGB32_Premultiplied}


@dataclass(frozen=True)
class LayerRead:
    """How a layer is read: its grid (layer CRS) and size."""

    extent: QgsRectangle
    units_per_pixel: float
    width: int
    height: int

    @property
    def pixels(self) -> int:
        """Pixels of one band."""
        return self.width * self.height


def is_local_gdal_file(layer: QgsRasterLayer) -> bool:
    """A GDAL layer backed by a local file: the engine reads it directly."""
    return layer.providerType() == "gdal" and os.path.isfile(layer.source().split("|")[0])


def ground_metres_per_unit(layer: QgsRasterLayer, extent: QgsRectangle) -> float:
    """Ground metres of one map unit along x at the extent's centre (ellipsoidal, WGS 84)."""
    distance = QgsDistanceArea()
    distance.setSourceCrs(layer.crs(), QgsProject.instance().transformContext())
    distance.setEllipsoid("WGS84")
    centre = extent.center()
    step = max(extent.width() / 100.0, 1e-9)
    left, right = QgsPointXY(centre.x() - step / 2, centre.y()), QgsPointXY(centre.x() + step / 2, centre.y())
    metres = distance.measureLine(left, right)
    if not metres or not math.isfinite(metres):
        message = QCoreApplication.translate(
            "RssegLayers", "RESOLUTION: cannot measure ground distances in the CRS of '{layer}'")
        raise QgsProcessingException(message.format(layer=layer.name()))
    return metres / step


def native_units_per_pixel(layer: QgsRasterLayer) -> float | None:
    """The layer's own pixel size (map units), or the finest of a tile service's levels; None when unknown."""
    provider = layer.dataProvider()
    if provider.capabilities() & QgsRasterDataProvider.Size and provider.xSize() > 0:
        return layer.rasterUnitsPerPixelX()
    resolutions = [r for r in provider.nativeResolutions() if r > 0]
    return min(resolutions) if resolutions else None


def plan_layer_read(layer: QgsRasterLayer, extent: QgsRectangle | None, resolution_cm: float | None,
                    max_pixels: int) -> LayerRead:
    """The grid to read ``layer`` on: EXTENT (layer CRS) at ``resolution_cm`` on the ground, else native."""
    if extent is None or extent.isEmpty():
        if layer.providerType() in WEB_PROVIDERS or not layer.extent().isFinite() or layer.extent().isEmpty():
            message = QCoreApplication.translate(
                "RssegLayers", "EXTENT: layer '{layer}' is a web or tile layer (or has no finite extent): "
                "set EXTENT to the area to segment")
            raise QgsProcessingException(message.format(layer=layer.name()))
        extent = layer.extent()
    if resolution_cm:
        units = resolution_cm / 100.0 / ground_metres_per_unit(layer, extent)
    else:
        units = native_units_per_pixel(layer)
        if not units:
            message = QCoreApplication.translate(
                "RssegLayers", "RESOLUTION: layer '{layer}' has no pixel size of its own; "
                "set RESOLUTION (cm/px on the ground)")
            raise QgsProcessingException(message.format(layer=layer.name()))
    width, height = max(1, math.ceil(extent.width() / units - 1e-6)), max(1, math.ceil(extent.height() / units - 1e-6))
    read = LayerRead(QgsRectangle(extent.xMinimum(), extent.yMaximum() - height * units,
                                  extent.xMinimum() + width * units, extent.yMaximum()), units, width, height)
    if read.pixels > max_pixels:
        message = QCoreApplication.translate(
            "RssegLayers", "MAX_PIXELS: reading '{layer}' over this extent at {step:.4g} map units per pixel needs "
            "{width} x {height} = {pixels:,} pixels, above MAX_PIXELS ({limit:,}). Choose a smaller "
            "EXTENT or a coarser RESOLUTION, or raise MAX_PIXELS (advanced) if the disk and time allow.")
        raise QgsProcessingException(message.format(layer=layer.name(), step=units, width=width, height=height,
                                                    pixels=read.pixels, limit=max_pixels))
    return read


def layer_to_raster(layer: QgsRasterLayer | None, parameter: str, extent: QgsRectangle | None,
                    resolution_cm: float | None, max_pixels: int, folder: str, feedback=None) -> tuple[str, bool]:
    """(path the engine reads, whether it is a temporary copy). Local GDAL files are returned as they are."""
    if layer is None:
        message = QCoreApplication.translate("RssegLayers", "{parameter}: no raster layer given")
        raise QgsProcessingException(message.format(parameter=parameter))
    if is_local_gdal_file(layer):
        return raster_layer_path(layer, parameter), False
    if not layer.isValid():
        message = QCoreApplication.translate(
            "RssegLayers", "{parameter}: layer '{layer}' is not valid (its source cannot be read)")
        raise QgsProcessingException(message.format(parameter=parameter, layer=layer.name()))
    read = plan_layer_read(layer, extent, resolution_cm, max_pixels)
    if feedback is not None:
        message = QCoreApplication.translate(
            "RssegLayers", "{parameter}: reading '{layer}' ({provider} provider) as {width} x {height} px at "
            "{step:.4g} map units per pixel")
        feedback.pushInfo(message.format(parameter=parameter, layer=layer.name(), provider=layer.providerType(),
                                         width=read.width, height=read.height, step=read.units_per_pixel))
    path = os.path.join(folder, "layer.tif")
    _write_layer(layer, read, path, feedback)
    return path, True


def _write_layer(layer: QgsRasterLayer, read: LayerRead, path: str, feedback) -> None:
    """Copy the layer's blocks over ``read`` into a tiled GeoTIFF; deleted again on cancel or error."""
    from osgeo import gdal

    provider = layer.dataProvider()
    data_type = provider.dataType(1)
    colour = data_type in COLOR_TYPES
    if not colour and data_type not in NUMPY_TYPES:
        message = QCoreApplication.translate(
            "RssegLayers", "INPUT: layer '{layer}' has pixels of an unsupported type ({type})")
        raise QgsProcessingException(message.format(layer=layer.name(), type=data_type))
    bands = 4 if colour else provider.bandCount()
    gdal_type = gdal.GDT_Byte if colour else int(data_type)  # Qgis.DataType numbers GDAL's types
    options = ["TILED=YES", "COMPRESS=DEFLATE", "ZLEVEL=1", "BIGTIFF=IF_SAFER"]
    options += ["PHOTOMETRIC=RGB", "ALPHA=YES"] if colour else []
    target = gdal.GetDriverByName("GTiff").Create(path, read.width, read.height, bands, gdal_type, options=options)
    if target is None:
        message = QCoreApplication.translate("RssegLayers", "INPUT: cannot create the temporary copy {path} ({error})")
        raise QgsProcessingException(message.format(path=path, error=gdal.GetLastErrorMsg()))
    try:
        target.SetGeoTransform((read.extent.xMinimum(), read.units_per_pixel, 0.0, read.extent.yMaximum(), 0.0,
                                -read.units_per_pixel))
        target.SetProjection(layer.crs().toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL))
        if not colour:
            for band in range(1, bands + 1):
                if provider.sourceHasNoDataValue(band):
                    target.GetRasterBand(band).SetNoDataValue(provider.sourceNoDataValue(band))
        _copy_chunks(layer, read, target, colour, bands, feedback)
        target.FlushCache()
        target = None
    except BaseException:
        target = None
        if os.path.exists(path):
            os.remove(path)
        raise


def _copy_chunks(layer: QgsRasterLayer, read: LayerRead, target, colour: bool, bands: int, feedback) -> None:
    provider = layer.dataProvider()
    chunks = [(r, c) for r in range(0, read.height, CHUNK) for c in range(0, read.width, CHUNK)]
    block_feedback = QgsRasterBlockFeedback()
    if feedback is not None:  # a cancel also stops a tile download in progress
        feedback.canceled.connect(block_feedback.cancel)
    for done, (row, col) in enumerate(chunks):
        if feedback is not None and feedback.isCanceled():
            raise QgsProcessingException(QCoreApplication.translate("RssegLayers", "Cancelled: no output was written"))
        rows, cols = min(CHUNK, read.height - row), min(CHUNK, read.width - col)
        u = read.units_per_pixel
        x0, y1 = read.extent.xMinimum() + col * u, read.extent.yMaximum() - row * u
        rect = QgsRectangle(x0, y1 - rows * u, x0 + cols * u, y1)
        for band in range(1, (1 if colour else bands) + 1):
            block = provider.block(band, rect, cols, rows, block_feedback)
            if not block.isValid():
                message = QCoreApplication.translate(
                    "RssegLayers", "INPUT: layer '{layer}' returned no data for {area}")
                raise QgsProcessingException(message.format(layer=layer.name(), area=rect.toString()))
            if colour:
                argb = np.frombuffer(bytes(block.data()), np.uint32).reshape(rows, cols)
                for k, shift in enumerate((16, 8, 0, 24), 1):  # R, G, B, alpha
                    target.GetRasterBand(k).WriteArray(((argb >> shift) & 255).astype(np.uint8), col, row)
            else:
                values = np.frombuffer(bytes(block.data()), NUMPY_TYPES[block.dataType()]).reshape(rows, cols)
                target.GetRasterBand(band).WriteArray(values, col, row)
        if feedback is not None:
            feedback.setProgress(100.0 * (done + 1) / len(chunks))
