"""Adapters from QGIS layers to what engine/ and training/ read: file paths.

The engine and training read rasters with rasterio, so a layer must be a file GDAL can
open. Vector labels are rasterized here, on the QGIS side, onto the image's pixel grid.
"""
from __future__ import annotations

import os
import tempfile

from qgis.core import (
    QgsCoordinateTransformContext,
    QgsProcessingException,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication

# These messages reach the user through the algorithms, so they are translated too (context
# RssegLayers); QCoreApplication.translate is spelt out at each call so pylupdate5 collects them.

SUPPORTED_RASTERS = "file-based rasters that GDAL reads (GeoTIFF, VRT, JPEG2000, IMG, ...)"


def raster_layer_path(layer: QgsRasterLayer | None, parameter: str = "INPUT") -> str:
    """The file behind a raster layer, or a clear error for web and virtual layers."""
    if layer is None:
        message = QCoreApplication.translate("RssegLayers", "{parameter}: no raster layer given")
        raise QgsProcessingException(message.format(parameter=parameter))
    if layer.providerType() != "gdal":
        message = QCoreApplication.translate(
            "RssegLayers",
            "{parameter}: layer '{layer}' comes from the '{provider}' provider (web or virtual layer); rsseg "
            "reads {supported}. Save it first with Raster > Conversion > Translate (or 'Export > Save As...') "
            "and use the saved file.")
        raise QgsProcessingException(message.format(parameter=parameter, layer=layer.name(),
                                                    provider=layer.providerType(), supported=SUPPORTED_RASTERS))
    source = layer.source().split("|")[0]
    if not os.path.isfile(source):
        message = QCoreApplication.translate(
            "RssegLayers", "{parameter}: layer '{layer}' is not a local file ({source}); rsseg reads {supported}")
        raise QgsProcessingException(message.format(parameter=parameter, layer=layer.name(), source=source,
                                                    supported=SUPPORTED_RASTERS))
    return source


def raster_layers_paths(layers: list[QgsRasterLayer], parameter: str = "INPUT") -> list[str]:
    """Files of several raster layers, each checked as in :func:`raster_layer_path`."""
    if not layers:
        message = QCoreApplication.translate("RssegLayers", "{parameter}: choose at least one raster layer")
        raise QgsProcessingException(message.format(parameter=parameter))
    return [raster_layer_path(layer, parameter) for layer in layers]


def rasterize_vector_labels(
    layer: QgsVectorLayer,
    field: str,
    reference_raster: str,
    output_path: str | None = None,
    parameter: str = "LABELS",
    ignore_value: int = 255,
    field_parameter: str = "LABEL_FIELD",
) -> tuple[str, list[str]]:
    """Burn polygon classes onto the grid of ``reference_raster``.

    The class field may hold integers (used as class ids, 0..254) or text (class names:
    ids are given in sorted order). Pixels under no polygon get ``ignore_value``.
    Returns the label raster's path and the class names (empty for integer fields).
    Errors about the field name ``field_parameter`` (REFERENCE_FIELD for rsseg:evaluate).
    """
    from osgeo import gdal

    from engine.run_scope import run_temp_dir

    if layer is None:
        message = QCoreApplication.translate("RssegLayers", "{parameter}: no vector layer given")
        raise QgsProcessingException(message.format(parameter=parameter))
    index = layer.fields().indexOf(field) if field else -1
    if index < 0:
        names = ", ".join(layer.fields().names())
        message = QCoreApplication.translate(
            "RssegLayers", "{parameter}: set it to the field holding the class of each polygon (fields of '{layer}': "
            "{names})")
        raise QgsProcessingException(message.format(parameter=field_parameter, layer=layer.name(), names=names))
    mapping, class_names, numeric = _class_mapping(layer, field, parameter, field_parameter, ignore_value)
    reference = gdal.Open(reference_raster)
    workdir = tempfile.mkdtemp(prefix="rsseg_labels_", dir=run_temp_dir())  # removed with the run
    vector_path = os.path.join(workdir, "labels.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject

    target_crs = QgsCoordinateReferenceSystem.fromWkt(reference.GetProjection())
    if target_crs.isValid() and target_crs != layer.crs():
        options.ct = QgsCoordinateTransform(layer.crs(), target_crs, QgsProject.instance())
    error = QgsVectorFileWriter.writeAsVectorFormatV3(layer, vector_path, QgsCoordinateTransformContext(), options)
    if error[0] != QgsVectorFileWriter.NoError:
        message = QCoreApplication.translate(
            "RssegLayers", "{parameter}: could not read the polygons of '{layer}': {error}")
        raise QgsProcessingException(message.format(parameter=parameter, layer=layer.name(), error=error[1]))

    output_path = output_path or os.path.join(workdir, "labels.tif")
    _burn_classes(vector_path, reference, output_path, field, mapping, numeric, ignore_value)
    return output_path, class_names

def _class_mapping(layer: QgsVectorLayer, field: str, parameter: str, field_parameter: str,
                   ignore_value: int) -> tuple[dict, list[str], bool]:
    """(field value -> class id, class names, whether the field is numeric), or a message
    naming the parameter when the field's values cannot be classes."""
    values = sorted({f[field] for f in layer.getFeatures() if f[field] is not None}, key=str)
    if not values:
        message = QCoreApplication.translate(
            "RssegLayers", "{parameter}: layer '{layer}' has no polygon with a value in '{field}'")
        raise QgsProcessingException(message.format(parameter=parameter, layer=layer.name(), field=field))
    numeric = all(isinstance(v, int) or (isinstance(v, float) and float(v).is_integer()) for v in values)
    if numeric:
        mapping = {v: int(v) for v in values}
        bad = [v for v in mapping.values() if not 0 <= v < ignore_value]
        if bad:
            message = QCoreApplication.translate(
                "RssegLayers", "{parameter}: class ids must be 0..{largest}; found {bad}")
            raise QgsProcessingException(message.format(parameter=field_parameter, largest=ignore_value - 1,
                                                        bad=bad[:5]))
        class_names: list[str] = []
    else:
        if len(values) >= ignore_value:
            message = QCoreApplication.translate(
                "RssegLayers", "{parameter}: {count} distinct classes; at most {largest}")
            raise QgsProcessingException(message.format(parameter=field_parameter, count=len(values),
                                                        largest=ignore_value - 1))
        mapping = {v: i for i, v in enumerate(values)}
        class_names = [str(v) for v in values]

    return mapping, class_names, numeric


def _burn_classes(vector_path: str, reference, output_path: str, field: str, mapping: dict, numeric: bool,
                  ignore_value: int) -> None:
    """Rasterize each class's polygons onto a new byte raster on ``reference``'s grid."""
    from osgeo import gdal, ogr

    driver = gdal.GetDriverByName("GTiff")
    target = driver.Create(output_path, reference.RasterXSize, reference.RasterYSize, 1, gdal.GDT_Byte,
                           options=["COMPRESS=DEFLATE", "TILED=YES"])
    target.SetGeoTransform(reference.GetGeoTransform())
    target.SetProjection(reference.GetProjection())
    band = target.GetRasterBand(1)
    band.SetNoDataValue(ignore_value)
    band.Fill(ignore_value)
    source = ogr.Open(vector_path)
    ogr_layer = source.GetLayer(0)
    for value, class_id in mapping.items():
        literal = str(value).replace("'", "''")
        ogr_layer.SetAttributeFilter(f"\"{field}\" = '{literal}'" if not numeric else f"\"{field}\" = {value}")
        gdal.RasterizeLayer(target, [1], ogr_layer, burn_values=[class_id])
    target.FlushCache()
    target = None
    source = None

