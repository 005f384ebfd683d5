"""Segmentation throughput and memory, printed as JSON; ``--real`` also writes docs/performance.json.

Three numbers on the same raster, model and tiles (Mpix of raster per second):

* ``end_to_end``: ``engine.segment.segment_raster`` (read, infer, blend, write, threaded);
* ``ceiling``: the model alone on the same tiles, already normalised in memory;
* ``naive``: one tile at a time, read -> infer -> accumulate, no overlap of I/O and compute.

Then peak RSS (VmHWM, else ``ru_maxrss``, of a fresh subprocess per size) segmenting a small and a large
raster with a cheap model: memory should not grow with the raster.

    PYTHONPATH=. .venv/bin/python bench/segment_throughput.py --size 2048 --large 20000

Rasters are generated (uint8, 3 bands, tiled GeoTIFF) in a temporary folder. The load
average at start and end is printed: on a shared machine, read the ratios with it.

Real-network mode (the numbers of docs/performance.json, explained in docs/performance.md):

    PYTHONPATH=. .venv/bin/python bench/deeplab_heads.py --heads separable --work /tmp/heads
    PYTHONPATH=. .venv/bin/python bench/segment_throughput.py --real --checkpoint /tmp/heads/deeplab_separable_s0.pt

takes a DeepLabV3+ (the default separable head) fine-tuned briefly on the Dubai training
tiles, exports it in fp32 and int8 (``training.export``), and measures in one run, in
interleaved rounds: model-only vs end-to-end on a whole 2062x1817 Dubai image
(``ceiling_ratio_real``), int8 vs fp32 end to end (``int8_speedup``), test-tile mIoU of both
(``int8_miou_drop``), border vs interior class-change rate with the real network
(``seam_excess``, and the same with the old 0.02 window floor), GFLOPs at 512x512, and the
tiles run vs the grid plus peak RSS on synthetic 2048^2 and 20000^2 rasters.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def make_raster(path: Path, size: int, seed: int = 0) -> Path:
    """A size x size uint8 RGB tiled GeoTIFF with blocky, image-like content, written in strips."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    pattern = (rng.random((3, 512, 1024)) * 60 + np.repeat(np.repeat(rng.random((3, 16, 32)) * 190, 32, 1), 32, 2))
    pattern = pattern.astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs="EPSG:32640",
                       transform=from_origin(500000, 2800000, 0.5, 0.5), tiled=True, blockxsize=256, blockysize=256,
                       BIGTIFF="IF_SAFER") as dst:
        for row in range(0, size, 512):
            rows = min(512, size - row)
            reps = -(-size // 1024)
            strip = np.tile(np.roll(pattern, row // 512 * 97, axis=2), (1, 1, reps))[:, :rows, :size]
            dst.write(strip, window=Window(0, row, size, rows))
    return path


def make_models(folder: Path) -> tuple[Path, Path]:
    """A small realistic net (3x3 convs 3->16->16->5) and a cheap one (1x1, 3->5)."""
    from helpers_onnx import conv_model

    from engine.model_card import ModelCard

    card = ModelCard(class_names=[f"class {k}" for k in range(5)], tile_size=256, tile_overlap_percent=15)
    real = conv_model(folder / "small_net.onnx", 3, 5, kernel=3, layers=3, hidden=16, card=card)
    cheap = conv_model(folder / "cheap.onnx", 3, 5, kernel=1, layers=1, card=card)
    return real, cheap


def tiles_in_memory(raster: Path, model, tile: int, overlap: float, batch: int):
    """Every batch segment_raster would run, read and normalised up front."""
    import rasterio

    from engine.raster_io import RasterReader, raster_region
    from engine.segment import output_geometry, tile_batches
    from engine.tiling import column_blocks, make_grid

    with rasterio.open(raster) as src:
        region = raster_region(src, None)
        out, _ = output_geometry(model, (tile, tile))
        grid = make_grid(region.height, region.width, (tile, tile), out, overlap)
        offset, scale = model.card.normalization(3)
        reader = RasterReader(src, [1, 2, 3], offset, scale)
        timing = {"read_s": 0.0}
        return [data for data, _ in tile_batches(reader, region, grid, column_blocks(grid, 0), batch, timing)], grid


def naive(raster: Path, model, grid, output: Path) -> float:
    """One tile at a time: read, normalise, infer, accumulate in full-raster arrays, write at the end."""
    import rasterio
    from rasterio.windows import Window

    from engine.tiling import blend_window

    start = time.perf_counter()
    with rasterio.open(raster) as src:
        offset, scale = model.card.normalization(3)
        off = np.asarray(offset, np.float32)[:, None, None]
        sc = np.asarray(scale, np.float32)[:, None, None]
        scores = np.zeros((5, src.height, src.width), np.float32)
        weights = np.zeros((src.height, src.width), np.float32)
        window = blend_window(*grid.out)
        th, tw = grid.tile
        for r in grid.rows:
            for c in grid.cols:
                data = (src.read(window=Window(c, r, tw, th)).astype(np.float32) - off) / sc
                probs = model.probabilities(data[None])[0]
                scores[:, r:r + th, c:c + tw] += probs * window
                weights[r:r + th, c:c + tw] += window
        classes = (scores / weights).argmax(axis=0).astype(np.uint8)
        profile = dict(driver="GTiff", width=src.width, height=src.height, count=1, dtype="uint8", crs=src.crs,
                       transform=src.transform, tiled=True, compress="deflate")
    with rasterio.open(output, "w", **profile) as dst:
        dst.write(classes, 1)
    return time.perf_counter() - start


def throughput(folder: Path, size: int, tile: int, overlap: float, batch: int, threads: int, rounds: int) -> dict:
    from engine.progress import RunFeedback
    from engine.segment import segment_raster
    from engine.session import open_model

    raster = make_raster(folder / f"raster_{size}.tif", size)
    real, _ = make_models(folder)
    model = open_model(real, device="cpu", threads=threads)
    batches, grid = tiles_in_memory(raster, model, tile, overlap, batch)
    mpix = size * size / 1e6
    model.probabilities(batches[0])  # warm-up
    quiet = RunFeedback(log=lambda m: None)
    # The machine is shared: run the three variants in interleaved rounds and keep each one's best.
    # The ceiling uses a session opened exactly as segment_raster opens its own (same threads,
    # same options), so the ratio compares like with like.
    ceiling_s = e2e = naive_s = float("inf")
    per_round = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for data in batches:
            model.probabilities(data)
        ceiling_round = time.perf_counter() - t0
        ceiling_s = min(ceiling_s, ceiling_round)
        run = segment_raster(str(raster), str(real), str(folder / "out.tif"), tile_size=tile, overlap=overlap,
                             batch_size=batch, device="cpu", threads=threads, feedback=quiet)
        per_round.append(round(ceiling_round / run.timing["total_s"], 3))
        if run.timing["total_s"] < e2e:
            e2e, result = run.timing["total_s"], run
        naive_s = min(naive_s, naive(raster, model, grid, folder / "naive.tif"))
    del batches
    return {
        "raster": f"{size}x{size} uint8 x3", "model": "3x3 conv 3->16->16->5 + softmax", "tile": tile,
        "overlap_percent": overlap, "batch": batch, "tiles": grid.n_tiles, "rounds_best_of": rounds,
        "ceiling_mpix_s": round(mpix / ceiling_s, 3),
        "end_to_end_mpix_s": round(mpix / e2e, 3),
        "naive_mpix_s": round(mpix / naive_s, 3),
        "end_to_end_vs_ceiling": round(ceiling_s / e2e, 3),
        "end_to_end_vs_ceiling_each_round": per_round,
        "end_to_end_timing_s": {k: round(v, 2) for k, v in result.timing.items() if k.endswith("_s")},
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory since exec.

    VmHWM (Linux) starts afresh at exec; ru_maxrss may carry the forking parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(raster: str, model: str, output: str, tile: int, batch: int, threads: int) -> None:
    """Runs in its own process: segment, then print peak RSS, time and tiles run vs grid tiles as JSON."""
    from engine.progress import RunFeedback
    from engine.segment import segment_raster

    t0 = time.perf_counter()
    result = segment_raster(raster, model, output, tile_size=tile, batch_size=batch, device="cpu", threads=threads,
                            feedback=RunFeedback(log=lambda m: None))
    print(json.dumps({"peak_rss_mb": round(peak_rss_mb(), 1),
                      "seconds": round(time.perf_counter() - t0, 1),
                      "tiles_run": int(result.timing["tiles"]), "grid_tiles": int(result.timing["grid_tiles"])}))


def peak_rss(folder: Path, size: int, tile: int, batch: int, threads: int) -> dict:
    raster = make_raster(folder / f"rss_{size}.tif", size, seed=size)
    _, cheap = make_models(folder)
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(raster), str(cheap), str(folder / f"rss_out_{size}.tif"),
         "--tile", str(tile), "--batch", str(batch), "--threads", str(threads)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    os.remove(raster)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    return {"raster": f"{size}x{size} uint8 x3", "model": "1x1 conv 3->5", **measured}


def main() -> None:
    """Synthetic throughput + peak RSS (default), or the real-network report (``--real``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="raster edge for the throughput comparison")
    parser.add_argument("--small", type=int, default=2048, help="small raster edge for peak RSS")
    parser.add_argument("--large", type=int, default=20000, help="large raster edge for peak RSS (0: skip)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best of each is kept")
    parser.add_argument("--rss-child", nargs=3, metavar=("RASTER", "MODEL", "OUTPUT"))
    parser.add_argument("--real", action="store_true", help="real-network mode: writes docs/performance.json")
    parser.add_argument("--checkpoint", default="", help="--real: fine-tuned DeepLabV3+ checkpoint (.pt)")
    parser.add_argument("--real-tile", type=int, default=0,
                        help="--real: tile of the exported models (0: the training patch size, the export default)")
    parser.add_argument("--json", default=str(REPO / "docs" / "performance.json"), help="--real: report to write")
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child, tile=args.tile, batch=args.batch, threads=args.threads)
        return
    if args.real:
        from bench.segment_real import real_report
        from engine.atomic import atomic_write_text

        report = real_report(args, peak_rss)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="rsseg_bench_") as tmp:
        folder = Path(tmp)
        report = {"cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                  "throughput": throughput(folder, args.size, args.tile, args.overlap, args.batch, args.threads,
                                           args.rounds)}
        sizes = [args.small] + ([args.large] if args.large else [])
        report["peak_rss"] = [peak_rss(folder, s, args.tile, args.batch, args.threads) for s in sizes]
        if len(report["peak_rss"]) == 2:
            small, large = (row["peak_rss_mb"] for row in report["peak_rss"])
            report["rss_ratio_large_vs_small"] = round(large / small, 3)
        report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
