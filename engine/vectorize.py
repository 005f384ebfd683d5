"""Class raster -> polygons: GDAL's sieve and polygonize, then per-polygon attributes, streaming.

One polygon per 4-connected region of one class (nodata excluded), with the fields

    class_id    the class value
    class_name  from the model card
    area_m2     ground area of the region's pixels (engine.areas: planar in a projected
                CRS, ellipsoidal for a geographic one), before SIMPLIFY
    confidence  mean over the region's pixels of the model's winning-class probability
                (null without a confidence raster)

Every step is one of GDAL's streaming algorithms or a block-by-block numpy pass, so memory
does not grow with the raster (docs/maps.md has the measurement on 20000 x 20000 pixels):

1. ``gdal.SieveFilter`` merges regions smaller than MIN_AREA into their largest neighbour
   (into a temporary tiled GeoTIFF, so the class raster itself is never changed);
2. ``gdal.Polygonize`` writes the regions into a temporary GeoPackage;
3. ``gdal.RasterizeLayer`` burns each polygon's id onto the same grid: polygonized
   pixel-edge polygons rasterize back onto exactly their own pixels;
4. one pass over rows of the id and confidence rasters sums pixel areas and confidences
   per polygon with ``numpy.bincount`` (arrays as long as the polygon count);
5. features are copied to the requested file (GeoPackage, GeoJSON, FlatGeobuf, Shapefile)
   with their attributes, simplified when SIMPLIFY > 0, into a temporary name then renamed.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import traceback
import uuid
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, ogr

from .areas import gdal_ok, open_raster, row_areas_m2, row_blocks, spatial_ref
from .atomic import commit, discard
from .progress import Cancelled, RunFeedback
from .run_scope import register_temp, run_temp_dir

VECTOR_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".fgb": "FlatGeobuf",
                  ".shp": "ESRI Shapefile"}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
FIELDS = (("class_id", ogr.OFTInteger), ("class_name", ogr.OFTString), ("area_m2", ogr.OFTReal),
          ("confidence", ogr.OFTReal))
TEMP_TIFF = ["TILED=YES", "COMPRESS=DEFLATE", "ZLEVEL=1", "BIGTIFF=IF_SAFER"]
COMMIT_EVERY = 20000
GDAL_CACHE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class VectorResult:
    """What :func:`vectorize_classes` wrote."""

    path: str
    polygons: int
    min_area_pixels: int
    simplify: float


def vector_driver(path: str) -> str:
    """The OGR driver for ``path``'s extension, or a ValueError naming OUTPUT_VECTOR."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in VECTOR_DRIVERS:
        raise ValueError(f"OUTPUT_VECTOR: cannot write '{ext or path}' files; use one of "
                         f"{', '.join(sorted(VECTOR_DRIVERS))} (GeoPackage .gpkg is the default)")
    return VECTOR_DRIVERS[ext]


def min_area_pixels(min_area_m2: float, pixel_area_m2: float) -> int:
    """SieveFilter threshold: regions of fewer pixels than this are below ``min_area_m2``."""
    if min_area_m2 < 0:
        raise ValueError(f"MIN_AREA: expected 0 (keep every region) or a positive area in m2, got {min_area_m2}")
    if not min_area_m2 or pixel_area_m2 <= 0:
        return 0
    return int(math.ceil(min_area_m2 / pixel_area_m2 - 1e-9))


def vectorize_classes(class_path: str, vector_path: str, class_names: list[str], *,
                      confidence_path: str | None = None, min_area_m2: float = 0.0, simplify: float = 0.0,
                      feedback: RunFeedback | None = None) -> VectorResult:
    """Polygons of the class regions of ``class_path`` written to ``vector_path`` (see the module doc)."""
    feedback = feedback or RunFeedback()
    driver = vector_driver(vector_path)
    if simplify < 0:
        raise ValueError(f"SIMPLIFY: expected 0 (no simplification) or a tolerance in map units, got {simplify}")
    workdir = tempfile.mkdtemp(prefix="vector_", dir=run_temp_dir())
    cache = gdal.GetCacheMax()
    gdal.SetCacheMax(GDAL_CACHE_BYTES)  # GDAL's default (5 % of RAM) would grow with the raster
    try:
        return _vectorize_in(workdir, class_path, vector_path, driver, class_names, confidence_path,
                             min_area_m2, simplify, feedback)
    except BaseException as exc:
        # the traceback's frames hold the temporary datasets: close them before their folder goes
        traceback.clear_frames(exc.__traceback__)
        if isinstance(exc, RuntimeError) and feedback.is_cancelled():  # a GDAL step stopped by its callback
            raise Cancelled("cancelled by the user") from None
        raise
    finally:
        gdal.SetCacheMax(cache)
        shutil.rmtree(workdir, ignore_errors=True)


def _vectorize_in(workdir: str, class_path: str, vector_path: str, driver: str, class_names: list[str],
                  confidence_path: str | None, min_area_m2: float, simplify: float,
                  feedback: RunFeedback) -> VectorResult:
    """The five steps of the module doc, with temporary files in ``workdir``."""
    source = open_raster(class_path, "OUTPUT")
    areas = row_areas_m2(source, feedback.log)
    threshold = min_area_pixels(min_area_m2, float(areas[len(areas) // 2]))
    classes = _sieved(source, threshold, workdir, feedback) if threshold > 1 else source
    regions = _polygonize(classes, workdir, feedback)
    layer = regions.GetLayer(0)
    count = layer.GetFeatureCount()
    merged = f" after merging regions under {threshold} pixels" if threshold > 1 else ""
    feedback.log(f"{count} polygons{merged}")
    ids = _rasterize_ids(classes, layer, workdir, feedback)
    area, confidence = _region_sums(ids, areas, confidence_path, _max_fid(regions), feedback)
    ids = classes = source = None
    _write_features(layer, vector_path, driver, class_names, area, confidence, simplify, feedback)
    return VectorResult(vector_path, count, threshold, simplify)


def _progress(feedback: RunFeedback, start: float, span: float):
    """A GDAL progress callback mapping its 0..1 onto ``start..start+span``; returns 0 (stop) on cancel."""
    def callback(done, _message, _data):
        feedback.set_progress(start + span * done)
        return 0 if feedback.is_cancelled() else 1
    return callback


def _temp_like(source, path: str, data_type: int):
    target = gdal.GetDriverByName("GTiff").Create(path, source.RasterXSize, source.RasterYSize, 1, data_type,
                                                  options=TEMP_TIFF)
    if target is None:
        raise RuntimeError(f"GDAL cannot create {path}: {gdal.GetLastErrorMsg()}")
    target.SetGeoTransform(source.GetGeoTransform())
    target.SetProjection(source.GetProjection())
    return target


def _sieved(source, threshold: int, workdir: str, feedback: RunFeedback):
    """The class raster with regions under ``threshold`` pixels merged into their largest neighbour."""
    band = source.GetRasterBand(1)
    target = _temp_like(source, os.path.join(workdir, "sieved.tif"), band.DataType)
    out = target.GetRasterBand(1)
    nodata = band.GetNoDataValue()
    if nodata is not None:
        out.SetNoDataValue(nodata)
    code = gdal.SieveFilter(band, band.GetMaskBand(), out, threshold, 4, callback=_progress(feedback, 0.0, 0.25))
    feedback.check_cancelled()
    gdal_ok(code, "sieve")
    return target


def _polygonize(classes, workdir: str, feedback: RunFeedback):
    """Regions as polygons in a temporary GeoPackage layer ``regions`` (fields class_id, rid)."""
    regions = ogr.GetDriverByName("GPKG").CreateDataSource(os.path.join(workdir, "regions.gpkg"))
    if regions is None:
        raise RuntimeError(f"OGR cannot create a GeoPackage in {workdir}: {gdal.GetLastErrorMsg()}")
    layer = regions.CreateLayer("regions", spatial_ref(classes), ogr.wkbPolygon, ["SPATIAL_INDEX=NO"])
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    layer.CreateField(ogr.FieldDefn("rid", ogr.OFTInteger))
    band = classes.GetRasterBand(1)
    layer.StartTransaction()
    code = gdal.Polygonize(band, band.GetMaskBand(), layer, 0, [], callback=_progress(feedback, 0.25, 0.25))
    layer.CommitTransaction()
    feedback.check_cancelled()
    gdal_ok(code, "polygonize")
    regions.ExecuteSQL("UPDATE regions SET rid = fid")  # fids count from 1; 0 is left for 'no polygon'
    return regions


def _max_fid(regions) -> int:
    """Largest polygon id (0 when there is none): the length of the per-polygon sums."""
    result = regions.ExecuteSQL("SELECT MAX(fid) FROM regions")
    try:
        value = result.GetNextFeature().GetField(0)
    finally:
        regions.ReleaseResultSet(result)
    return int(value or 0)


def _rasterize_ids(classes, layer, workdir: str, feedback: RunFeedback):
    """Each polygon's ``rid`` burnt onto the class grid (Int32 temporary GeoTIFF, 0 outside)."""
    ids = _temp_like(classes, os.path.join(workdir, "ids.tif"), gdal.GDT_Int32)
    code = gdal.RasterizeLayer(ids, [1], layer, options=["ATTRIBUTE=rid"], callback=_progress(feedback, 0.5, 0.2))
    feedback.check_cancelled()
    gdal_ok(code, "rasterize")
    return ids


def _region_sums(ids, areas: np.ndarray, confidence_path: str | None, max_id: int,
                 feedback: RunFeedback) -> tuple[np.ndarray, np.ndarray | None]:
    """Per polygon id (index = rid): ground area in m2 and mean confidence (None without a confidence raster)."""
    band = ids.GetRasterBand(1)
    conf_ds = open_raster(confidence_path, "CONFIDENCE") if confidence_path else None
    conf_band = conf_ds.GetRasterBand(1) if conf_ds is not None else None
    size = max_id + 1
    area = np.zeros(size, np.float64)
    pixels = np.zeros(size, np.float64)
    conf_sum = np.zeros(size, np.float64)
    height, width = ids.RasterYSize, ids.RasterXSize
    for row, rows in row_blocks(height, width, feedback):
        rid = band.ReadAsArray(0, row, width, rows).ravel()
        weights = np.repeat(areas[row:row + rows], width)
        area += np.bincount(rid, weights=weights, minlength=size)[:size]
        if conf_band is not None:
            pixels += np.bincount(rid, minlength=size)[:size]
            values = conf_band.ReadAsArray(0, row, width, rows).ravel()
            conf_sum += np.bincount(rid, weights=values, minlength=size)[:size]
        feedback.set_progress(0.7 + 0.1 * (row + rows) / height)
    if conf_band is None:
        return area, None
    with np.errstate(invalid="ignore", divide="ignore"):
        return area, conf_sum / pixels


def _write_features(regions, path: str, driver_name: str, class_names: list[str], area: np.ndarray,
                    confidence: np.ndarray | None, simplify: float, feedback: RunFeedback) -> None:
    """Copy the regions with their attributes into ``path`` (temporary name, renamed when complete)."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    tmp_stem = f".{stem}.{uuid.uuid4().hex[:8]}"
    tmp = os.path.join(folder, tmp_stem + ext)
    for part in _parts(ext):
        register_temp(os.path.join(folder, tmp_stem + part))  # removed if the run is killed
    target = ogr.GetDriverByName(driver_name).CreateDataSource(tmp)
    if target is None:
        raise ValueError(f"OUTPUT_VECTOR: OGR cannot create {path} ({gdal.GetLastErrorMsg()})")
    try:
        layer = target.CreateLayer(stem, regions.GetSpatialRef(), ogr.wkbPolygon)
        for field_name, field_type in FIELDS:
            layer.CreateField(ogr.FieldDefn(field_name, field_type))
        definition = layer.GetLayerDefn()
        total = max(regions.GetFeatureCount(), 1)
        layer.StartTransaction()
        for done, feature in enumerate(regions, 1):
            rid, class_id = feature.GetField("rid"), feature.GetField("class_id")
            geometry = feature.GetGeometryRef()
            if simplify > 0:
                geometry = geometry.SimplifyPreserveTopology(simplify)
            out = ogr.Feature(definition)
            out.SetGeometry(geometry)
            out.SetField("class_id", int(class_id))
            known = 0 <= class_id < len(class_names)
            out.SetField("class_name", class_names[class_id] if known else f"class {class_id}")
            out.SetField("area_m2", float(area[rid]))
            if confidence is not None and np.isfinite(confidence[rid]):
                out.SetField("confidence", float(confidence[rid]))
            if layer.CreateFeature(out) != 0:
                raise RuntimeError(f"OGR cannot write a polygon to {path}: {gdal.GetLastErrorMsg()}")
            if done % COMMIT_EVERY == 0:
                layer.CommitTransaction()
                feedback.check_cancelled()
                feedback.set_progress(0.8 + 0.2 * done / total)
                layer.StartTransaction()
        layer.CommitTransaction()
        target = None
    except BaseException:
        target = None
        _move_parts(folder, tmp_stem, ext, None)
        raise
    _move_parts(folder, tmp_stem, ext, stem)


def _parts(ext: str) -> tuple[str, ...]:
    """The files one vector output is made of (a Shapefile has side-cars)."""
    return SHAPEFILE_PARTS if ext.lower() == ".shp" else (ext,)


def _move_parts(folder: str, tmp_stem: str, ext: str, final_stem: str | None) -> None:
    """Commit (fsync + rename, engine.atomic) or, with ``final_stem`` None, discard a written file and its side-cars."""
    for part in _parts(ext):
        tmp = os.path.join(folder, tmp_stem + part)
        if final_stem is None or not os.path.exists(tmp):
            discard(tmp)
        else:
            commit(tmp, os.path.join(folder, final_stem + part))
