"""The grid a model runs on: the model's ground resolution, in a metric CRS, via a warped VRT.

A segmentation model has learnt objects at the ground resolution of its training imagery
(the model card's ``resolution``, cm/px, Deepness's key). When a raster's pixels are more
than ``RESOLUTION_TOLERANCE`` (5 %) larger or smaller, buildings and fields look smaller or
larger than the model knows them, so the input is resampled on the fly with GDAL's warper
(a VRT: nothing is copied; pixels are warped as the segmenter reads its windows) and the
class map is written on that grid.

Pixels in degrees (geographic CRS) or in Mercator metres (web tiles, EPSG:3857) are not
square on the ground away from the equator, or not at their nominal size: such rasters are
always processed in the UTM zone of the area's centre (WGS 84), so the model sees square
pixels of a known ground size and areas are planar metres.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from osgeo import gdal, osr

from .areas import open_raster, spatial_ref

RESOLUTION_TOLERANCE = 0.05       # relative difference tolerated before resampling (the "few percent")
MERCATOR_METHODS = {"Mercator_1SP", "Mercator_2SP", "Mercator_Auxiliary_Sphere",
                    "Popular_Visualisation_Pseudo_Mercator"}


@dataclass(frozen=True)
class GridPlan:
    """Where and how the engine reads the input."""

    path: str                 # the input, or a warped VRT of it
    extent: tuple[float, float, float, float] | None   # what is left to clip (None once warped)
    warped: bool
    native_cm: float | None   # input ground resolution (None: unknown, no CRS)
    target_cm: float | None   # resolution of the grid the model runs on
    crs: str                  # the processing CRS, e.g. 'EPSG:32640'
    message: str              # what was done, for the log


def needs_metric_crs(srs: osr.SpatialReference | None) -> bool:
    """Degrees, or Mercator metres (whose ground size shrinks with cos(latitude))."""
    if srs is None:
        return False
    return bool(srs.IsGeographic()) or srs.GetAttrValue("PROJECTION") in MERCATOR_METHODS


def crs_label(srs: osr.SpatialReference | None) -> str:
    """'EPSG:code' when known, else the CRS's name."""
    if srs is None:
        return "no CRS"
    code = srs.GetAuthorityCode(None)
    return f"{srs.GetAuthorityName(None)}:{code}" if code else (srs.GetName() or "custom CRS")


def utm_for(lon: float, lat: float) -> osr.SpatialReference:
    """WGS 84 / UTM zone of a point (EPSG:326zz north, 327zz south)."""
    zone = min(max(int(math.floor((lon + 180.0) / 6.0)) + 1, 1), 60)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG((32600 if lat >= 0 else 32700) + zone)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _centre_lonlat(dataset, srs: osr.SpatialReference, extent) -> tuple[float, float]:
    if extent is None:
        gt = dataset.GetGeoTransform()
        x = gt[0] + gt[1] * dataset.RasterXSize / 2 + gt[2] * dataset.RasterYSize / 2
        y = gt[3] + gt[4] * dataset.RasterXSize / 2 + gt[5] * dataset.RasterYSize / 2
    else:
        x, y = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(srs, wgs84).TransformPoint(x, y)
    return lon, lat


def _check_overlap(dataset, extent) -> None:
    """EXTENT (input CRS) must be non-empty and overlap the raster, or the warped input would be all nodata."""
    xmin, ymin, xmax, ymax = (float(v) for v in extent)
    gt = dataset.GetGeoTransform()
    xs = sorted((gt[0], gt[0] + gt[1] * dataset.RasterXSize))
    ys = sorted((gt[3], gt[3] + gt[5] * dataset.RasterYSize))
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"EXTENT: empty extent ({xmin}, {ymin}, {xmax}, {ymax}); draw or choose a non-empty area")
    if xmax <= xs[0] or xmin >= xs[1] or ymax <= ys[0] or ymin >= ys[1]:
        raise ValueError(f"EXTENT: ({xmin}, {ymin}, {xmax}, {ymax}) does not overlap the raster "
                         f"({xs[0]}, {ys[0]}, {xs[1]}, {ys[1]}, same CRS); choose an extent over the raster")


def _suggested_cm(dataset, dst: osr.SpatialReference) -> float:
    """Ground resolution the warper suggests in ``dst`` (about the input's own, in metres)."""
    probe = gdal.Warp("", dataset, format="VRT", dstSRS=dst.ExportToWkt())
    if probe is None:
        raise ValueError(f"INPUT: GDAL cannot reproject {dataset.GetDescription()} ({gdal.GetLastErrorMsg()})")
    return abs(probe.GetGeoTransform()[1]) * (dst.GetLinearUnits() or 1.0) * 100.0


def choose_target(native_cm: float | None, resolution_cm: float | None,
                  card_cm: float | None) -> tuple[float | None, str]:
    """The resolution to run at and why: RESOLUTION (0 = native) overrides the model card's."""
    if resolution_cm is not None and resolution_cm < 0:
        raise ValueError(f"RESOLUTION: expected 0 (native) or a ground resolution in cm/px, got {resolution_cm}")
    if resolution_cm is not None:
        return (None, "RESOLUTION 0: native") if resolution_cm == 0 else (float(resolution_cm), "RESOLUTION")
    if card_cm:
        return float(card_cm), "the model card's resolution"
    return None, "the model card gives no resolution"


def plan_grid(input_path: str, extent: tuple[float, float, float, float] | None, workdir: str, *,
              resolution_cm: float | None = None, card_resolution_cm: float | None = None,
              tolerance: float = RESOLUTION_TOLERANCE) -> GridPlan:
    """Decide the processing grid of ``input_path`` and, when it differs, write a warped VRT in ``workdir``.

    ``extent`` (xmin, ymin, xmax, ymax) is in the input's CRS; once the input is warped it
    becomes the VRT's bounds, so the returned plan has no extent left to apply.
    """
    dataset = open_raster(input_path, "INPUT")
    if extent is not None:
        _check_overlap(dataset, extent)
    srs = spatial_ref(dataset)
    if srs is None:
        target, why = choose_target(None, resolution_cm, card_resolution_cm)
        note = "; the raster has no CRS, so it is not resampled" if target else ""
        return GridPlan(input_path, extent, False, None, None, "no CRS", f"native grid ({why}{note})")
    metric = needs_metric_crs(srs)
    dst = utm_for(*_centre_lonlat(dataset, srs, extent)) if metric else srs
    if metric:
        native = _suggested_cm(dataset, dst)
    else:
        native = abs(dataset.GetGeoTransform()[1]) * (srs.GetLinearUnits() or 1.0) * 100.0
    target, why = choose_target(native, resolution_cm, card_resolution_cm)
    resample = target is not None and abs(native / target - 1.0) > tolerance
    if not (metric or resample):
        kept = f" ({why} {target:g} cm/px is within {tolerance:.0%})" if target else f" ({why})"
        return GridPlan(input_path, extent, False, native, native, crs_label(srs),
                        f"native grid: {native:.3g} cm/px in {crs_label(srs)}{kept}")
    run_cm = target if target is not None else native  # warped anyway: straight onto the target
    path = os.path.join(workdir, "input_on_model_grid.vrt")
    _warp(dataset, path, srs, dst, run_cm / 100.0 / (dst.GetLinearUnits() or 1.0), extent, downsample=run_cm > native)
    reason = why if target is not None else "native resolution"
    message = (f"resampled on the fly: {native:.3g} cm/px in {crs_label(srs)} -> {run_cm:.3g} cm/px in "
               f"{crs_label(dst)} ({reason}"
               + ("; degrees/Mercator are processed in the local UTM zone" if metric else "")
               + "); the outputs are written on that grid")
    return GridPlan(path, None, True, native, run_cm, crs_label(dst), message)


def _warp(dataset, path: str, src: osr.SpatialReference, dst: osr.SpatialReference, pixel: float,
          extent, downsample: bool) -> None:
    """A warped VRT on ``dst`` with square ``pixel``-sized cells (map units), aligned on multiples of them.

    Pixels outside the input are marked by the input's nodata, else by a mask: the warper's
    alpha band becomes the mask of a plain VRT over the warped one, so the bands keep the
    input's numbering (BANDS, the model card's bands) and the segmenter writes nodata there.
    """
    has_nodata = dataset.GetRasterBand(1).GetNoDataValue() is not None
    last = dataset.GetRasterBand(dataset.RasterCount).GetColorInterpretation()
    options = dict(format="VRT", dstSRS=dst.ExportToWkt(), xRes=pixel, yRes=pixel, targetAlignedPixels=True,
                   resampleAlg="average" if downsample else "bilinear",
                   dstAlpha=not has_nodata, srcAlpha=last == gdal.GCI_AlphaBand)
    if extent is not None:
        options.update(outputBounds=tuple(float(v) for v in extent), outputBoundsSRS=src.ExportToWkt())
    warped_path = path if has_nodata else os.path.splitext(path)[0] + "_warped.vrt"
    warped = gdal.Warp(warped_path, dataset, **options)
    if warped is None:
        raise ValueError(f"INPUT: GDAL could not warp {dataset.GetDescription()} to {crs_label(dst)} "
                         f"({gdal.GetLastErrorMsg()})")
    if not has_nodata:
        alpha = warped.RasterCount
        masked = gdal.Translate(path, warped, format="VRT", bandList=list(range(1, alpha)), maskBand=alpha)
        if masked is None:
            raise ValueError(f"INPUT: GDAL could not mask the warped {dataset.GetDescription()} "
                             f"({gdal.GetLastErrorMsg()})")
        masked = None
    warped = None
