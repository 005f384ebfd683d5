"""Peak memory of polygonizing a large class raster (engine.vectorize), printed as JSON.

    .venv/bin/python bench/vectorize_memory.py --size 20000

Writes a synthetic class raster of SIZE x SIZE pixels block by block (6 classes in 40-pixel
cells, 1 % isolated speckle pixels, a constant-per-cell confidence raster), then polygonizes
it with MIN_AREA = 4 pixels in a fresh process and reports that process's peak RSS
(``VmHWM`` of /proc/self/status: ``ru_maxrss`` would carry over the parent's peak across
exec on Linux), the time, the polygon count and the file sizes. ``--steps`` runs the steps
of engine.vectorize one at a time and reports the peak after each. Temporary files go to
--workdir (default: a new folder in the system temp folder, removed afterwards).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CELL = 40
BLOCK = 512


def make_rasters(folder: Path, size: int) -> tuple[str, str]:
    """The class and confidence rasters, written one 512-row strip at a time."""
    from osgeo import gdal, osr

    gdal.SetCacheMax(64 * 2**20)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32640)
    paths = []
    for name, dtype in (("classes.tif", gdal.GDT_Byte), ("confidence.tif", gdal.GDT_Float32)):
        ds = gdal.GetDriverByName("GTiff").Create(str(folder / name), size, size, 1, dtype,
                                                  options=["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=YES"])
        ds.SetGeoTransform((500000.0, 0.5, 0.0, 2800000.0, 0.0, -0.5))
        ds.SetProjection(srs.ExportToWkt())
        if name == "classes.tif":
            ds.GetRasterBand(1).SetNoDataValue(255)
        paths.append(ds)
    cells = size // CELL + 1
    lut = np.random.default_rng(0).integers(0, 6, (cells, cells)).astype(np.uint8)
    for row in range(0, size, BLOCK):
        rows = min(BLOCK, size - row)
        r = (np.arange(row, row + rows) // CELL)[:, None]
        c = (np.arange(size) // CELL)[None, :]
        classes = lut[r, c]
        speckle = np.random.default_rng(row).random(classes.shape) < 0.01
        classes = np.where(speckle, (classes + 1) % 6, classes).astype(np.uint8)
        paths[0].GetRasterBand(1).WriteArray(classes, 0, row)
        paths[1].GetRasterBand(1).WriteArray((0.5 + lut[r, c] / 12.0).astype(np.float32), 0, row)
    for ds in paths:
        ds.FlushCache()
    return str(folder / "classes.tif"), str(folder / "confidence.tif")


def polygonize(classes: str, confidence: str, output: str) -> dict:
    """Run in the child process: polygonize and report its own peak RSS."""
    sys.path.insert(0, str(REPO))
    from engine.progress import RunFeedback
    from engine.vectorize import vectorize_classes

    started = time.perf_counter()
    result = vectorize_classes(classes, output, [f"class {k}" for k in range(6)], confidence_path=confidence,
                               min_area_m2=1.0, feedback=RunFeedback(log=lambda message: None))
    return {"polygons": result.polygons, "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(peak_rss_kb() / 1024, 1)}


def polygonize_steps(classes: str, confidence: str, output: str) -> dict:
    """Run in the child process: the steps of engine.vectorize one at a time, peak RSS (MB) after each."""
    sys.path.insert(0, str(REPO))
    from osgeo import gdal

    import engine.vectorize as steps
    from engine.progress import RunFeedback

    feedback = RunFeedback(log=lambda message: None)
    workdir = tempfile.mkdtemp(dir=os.path.dirname(output))
    gdal.SetCacheMax(steps.GDAL_CACHE_BYTES)
    peaks = {"start": peak_rss_kb() / 1024}
    source = gdal.Open(classes)
    areas = steps.row_areas_m2(source)
    sieved = steps._sieved(source, 4, workdir, feedback)
    peaks["sieve"] = peak_rss_kb() / 1024
    regions = steps._polygonize(sieved, workdir, feedback)
    peaks["polygonize"] = peak_rss_kb() / 1024
    ids = steps._rasterize_ids(sieved, regions.GetLayer(0), workdir, feedback)
    peaks["rasterize"] = peak_rss_kb() / 1024
    area, conf = steps._region_sums(ids, areas, confidence, steps._max_fid(regions), feedback)
    peaks["sums"] = peak_rss_kb() / 1024
    steps._write_features(regions.GetLayer(0), output, "GPKG", [f"class {k}" for k in range(6)], area, conf, 0.0,
                          feedback)
    peaks["write"] = peak_rss_kb() / 1024
    return {"peak_rss_mb_after": {k: round(v, 1) for k, v in peaks.items()}}


def peak_rss_kb() -> int:
    """This process's peak resident set size (kB) since its exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--steps", action="store_true", help="peak RSS after each step of engine.vectorize")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps((polygonize_steps if args.steps else polygonize)(*args.child)))
        return
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="rsseg_vector_bench_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        classes, confidence = make_rasters(folder, args.size)
        made = time.perf_counter() - started
        output = str(folder / "polygons.gpkg")
        command = [sys.executable, __file__, "--child", classes, confidence, output]
        command += ["--steps"] if args.steps else []
        child = subprocess.run(command,
                               check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        report = json.loads(child.stdout.strip().splitlines()[-1])
        report.update(size=args.size, megapixels=args.size * args.size / 1e6, make_rasters_s=round(made, 1),
                      class_raster_mb=round(os.path.getsize(classes) / 2**20, 1),
                      gpkg_mb=round(os.path.getsize(output) / 2**20, 1))
        print(json.dumps(report, indent=2))
    finally:
        if not args.workdir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
