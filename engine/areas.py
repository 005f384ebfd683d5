"""Ground area of class-raster pixels, and per-class area statistics, streamed block by block.

Areas are computed here, in the engine, from the pixels of the class raster rather than from
polygon geometries (and not with QGIS, which the engine must not import), because:

* a class region *is* a set of pixels, so the sum of its pixel areas is its exact area,
  before any cartographic simplification, and the polygon attribute ``area_m2`` adds up to
  the per-class statistics;
* on a projected CRS every pixel has the same planar area (its size times the CRS's linear
  unit in metres, squared);
* on a geographic CRS the ground area of a pixel depends only on its row (latitude): the
  area of an ellipsoidal latitude band has a closed form (authalic latitude), so geodesic
  areas need neither pyproj nor a geodesic library, only the ellipsoid GDAL reports;
* both fit a single streaming pass (``numpy.bincount`` per block), so memory stays bounded.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
from osgeo import gdal, osr

from .atomic import atomic_write_text
from .progress import RunFeedback
from .safeguards import csv_cell

READ_PIXELS = 2**21            # pixels per read of a streaming pass: memory bounded whatever the width


def row_blocks(height: int, width: int, feedback: RunFeedback) -> Iterator[tuple[int, int]]:
    """(first row, row count) of the reads a streaming pass makes: about READ_PIXELS pixels
    each (at least one row, at most 256), cancellation polled before each."""
    step = max(1, min(256, READ_PIXELS // max(width, 1)))
    for row in range(0, height, step):
        feedback.check_cancelled()
        yield row, min(step, height - row)

CSV_FIELDS = ("class_id", "class_name", "pixels", "area_m2", "percent")


@dataclass(frozen=True)
class ClassArea:
    """One class of a class map: how many pixels, how many square metres, what share of the valid pixels."""

    class_id: int
    class_name: str
    pixels: int
    area_m2: float
    percent: float


def open_raster(path: str, parameter: str):
    """``gdal.Open`` with a ValueError naming ``parameter`` (GDAL's exceptions stay off: the
    setting is global to the QGIS process, and other plugins rely on GDAL's None returns)."""
    dataset = gdal.Open(str(path))
    if dataset is None:
        raise ValueError(f"{parameter}: GDAL cannot read {path} ({gdal.GetLastErrorMsg() or 'not a raster'})")
    return dataset


def gdal_ok(code: int, what: str) -> None:
    """Raise RuntimeError when a GDAL algorithm returned an error code."""
    if code not in (0, None):
        raise RuntimeError(f"GDAL {what} failed: {gdal.GetLastErrorMsg() or f'error {code}'}")


def spatial_ref(dataset) -> osr.SpatialReference | None:
    """The dataset's CRS with x = easting/longitude, or None when it has none."""
    srs = dataset.GetSpatialRef()
    if srs is None:
        return None
    srs = srs.Clone()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _authalic_q(sin_phi: np.ndarray, e: float) -> np.ndarray:
    """The q(phi) of the ellipsoidal band area; tends to 2 sin(phi) on a sphere."""
    if e < 1e-12:
        return 2.0 * sin_phi
    es = e * sin_phi
    return sin_phi / (1.0 - es * es) + np.log((1.0 + es) / (1.0 - es)) / (2.0 * e)


def geodesic_cell_areas(lat_top: np.ndarray, lat_bottom: np.ndarray, dlon_deg: float,
                        semi_major: float, inv_flattening: float) -> np.ndarray:
    """Area in m2 of ellipsoidal cells between two latitudes (degrees) and ``dlon_deg`` degrees wide.

    The band between latitudes phi1 and phi2 over a longitude span L (radians) has area
    L * b^2 / 2 * (q(phi2) - q(phi1)), b the semi-minor axis (Snyder, Map Projections, eq. 3-12).
    """
    f = 0.0 if not inv_flattening else 1.0 / inv_flattening
    e = math.sqrt(max(f * (2.0 - f), 0.0))
    b = semi_major * (1.0 - f)
    q_top = _authalic_q(np.sin(np.radians(lat_top)), e)
    q_bottom = _authalic_q(np.sin(np.radians(lat_bottom)), e)
    return np.abs(math.radians(dlon_deg) * b * b / 2.0 * (q_top - q_bottom))


def row_areas_m2(dataset, log=None) -> np.ndarray:
    """Ground area in m2 of one pixel of each row of ``dataset`` (a north-up grid).

    Projected CRS: pixel width x height x (metres per unit)^2, the same for every row.
    Geographic CRS: the ellipsoidal cell area of each row. No CRS: map units are taken
    as metres (logged).
    """
    gt = dataset.GetGeoTransform()
    height = dataset.RasterYSize
    pixel = abs(gt[1] * gt[5] - gt[2] * gt[4])
    srs = spatial_ref(dataset)
    if srs is None:
        if log is not None:
            log("the class raster has no CRS: its map units are taken as metres for area_m2")
        return np.full(height, pixel, np.float64)
    if srs.IsGeographic():
        rows = np.arange(height + 1, dtype=np.float64)
        lats = np.clip(gt[3] + rows * gt[5], -90.0, 90.0)
        return geodesic_cell_areas(lats[:-1], lats[1:], abs(gt[1]), srs.GetSemiMajor(), srs.GetInvFlattening())
    unit = srs.GetLinearUnits() or 1.0
    return np.full(height, pixel * unit * unit, np.float64)


def class_area_statistics(class_path: str, class_names: list[str],
                          feedback: RunFeedback | None = None) -> list[ClassArea]:
    """Per-class pixel count, area (m2) and percent of the valid pixels of a class raster.

    Streams rows of blocks; nodata pixels (the band's nodata value) are not counted.
    Classes that do not occur are listed with 0 pixels, so the table always has one row
    per class of the model.
    """
    feedback = feedback or RunFeedback()
    dataset = open_raster(class_path, "OUTPUT")
    band = dataset.GetRasterBand(1)
    nodata = band.GetNoDataValue()
    areas_per_row = row_areas_m2(dataset, feedback.log)
    size = max(len(class_names), 1)
    pixels = np.zeros(size, np.int64)
    area = np.zeros(size, np.float64)
    height, width = dataset.RasterYSize, dataset.RasterXSize
    for row, rows in row_blocks(height, width, feedback):
        values = band.ReadAsArray(0, row, width, rows).astype(np.int64, copy=False)
        valid = values != nodata if nodata is not None else np.ones(values.shape, bool)
        ids = values[valid]
        weights = np.broadcast_to(areas_per_row[row:row + rows, None], values.shape)[valid]
        top = int(ids.max()) + 1 if ids.size else 0
        if top > size:
            pixels, area = np.pad(pixels, (0, top - size)), np.pad(area, (0, top - size))
            size = top
        pixels += np.bincount(ids, minlength=size)
        area += np.bincount(ids, weights=weights, minlength=size)
    dataset = None
    total = int(pixels.sum())
    names = list(class_names) + [f"class {k}" for k in range(len(class_names), size)]
    return [ClassArea(k, names[k], int(pixels[k]), float(area[k]), 100.0 * pixels[k] / total if total else 0.0)
            for k in range(size) if k < len(class_names) or pixels[k]]


def write_area_csv(path: str, areas: list[ClassArea]) -> None:
    """The statistics as CSV (one row per class, header ``CSV_FIELDS``), written atomically.

    Class names come from a model file someone else made: a name starting like a formula is
    quoted so a spreadsheet shows it instead of running it (``engine.safeguards.csv_cell``).
    """
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for row in areas:
        values = asdict(row)
        values["class_name"] = csv_cell(row.class_name)
        values["area_m2"] = f"{row.area_m2:.3f}"
        values["percent"] = f"{row.percent:.4f}"
        writer.writerow(values)
    atomic_write_text(path, buffer.getvalue())


def areas_as_dicts(areas: list[ClassArea]) -> list[dict]:
    """Plain dicts for JSON results."""
    return [asdict(a) for a in areas]
