"""Real-network mode of ``bench/segment_throughput.py --real`` (see its docstring for the commands).

Every ratio comes from rounds interleaved in one run (fp32 model alone, fp32 end to end,
int8 end to end, int8 model alone, then again), so background load hits all variants alike;
each variant's best round is kept and every round's ratio is listed beside it.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from bench.dubai_split import DATA, score_test_tiles

REPO = Path(__file__).resolve().parents[1]

SPEED_IMAGE = "tile_7_004_image.tif"   # one of the largest Dubai images (2062 x 1817): 30 tiles of 512 px
SEAM_TILE, SEAM_OVERLAP = 256, 15.0


def quiet():
    """A RunFeedback that says nothing."""
    from engine.progress import RunFeedback

    return RunFeedback(log=lambda _m: None)


def speed_raster() -> Path:
    """The Dubai image the speed and seam measurements segment whole."""
    return DATA / SPEED_IMAGE


MOSAIC_TILE = 7                        # the nine images of tile 7, side by side: a map layer of ~30 Mpix


def mosaic_raster(folder: Path) -> Path:
    """A large real layer for the ceiling: the nine images of one Dubai tile in a 3 x 3 grid.

    Each image is cut to the smallest one's size and written into one temporary GeoTIFF
    (tiled, the source's compression) in ``folder``, never into the repository. On one
    3.7 Mpix image a run's fixed costs (opening the model, checking the input, committing the
    files: ~0.2 s) are 5-6 % of the model time; on a layer of the size rsseg is built for they
    vanish, and what is left is the streaming pipeline against the model.
    """
    import rasterio

    images = [DATA / f"tile_{MOSAIC_TILE}_{k:03d}_image.tif" for k in range(1, 10)]
    sources = [rasterio.open(p) for p in images]
    try:
        h, w = min(s.height for s in sources), min(s.width for s in sources)
        profile = {**sources[0].profile, "height": 3 * h, "width": 3 * w, "tiled": True,
                   "blockxsize": 256, "blockysize": 256}
        target = folder / f"tile_{MOSAIC_TILE}_mosaic.tif"
        with rasterio.open(target, "w", **profile) as dst:
            for k, src in enumerate(sources):
                window = rasterio.windows.Window((k % 3) * w, (k // 3) * h, w, h)
                dst.write(src.read(window=rasterio.windows.Window(0, 0, w, h)), window=window)
    finally:
        for src in sources:
            src.close()
    return target


def in_memory_batches(raster: Path, model, tile: int, overlap: float, batch: int) -> list[np.ndarray]:
    """Every batch segment_raster runs on ``raster``, read and normalised up front (the ceiling's input)."""
    import rasterio

    from engine.raster_io import RasterReader, raster_region
    from engine.segment import output_geometry, tile_batches
    from engine.tiling import column_blocks, make_grid

    with rasterio.open(raster) as src:
        region = raster_region(src, None)
        out, _ = output_geometry(model, (tile, tile))
        grid = make_grid(region.height, region.width, (tile, tile), out, overlap)
        offset, scale = model.card.normalization(len(model.card.bands or [1, 2, 3]))
        reader = RasterReader(src, list(model.card.bands or [1, 2, 3]), offset, scale)
        return [data for data, _ in tile_batches(reader, region, grid, column_blocks(grid, 0), batch, {"read_s": 0})]


def timed_rounds(raster: Path, models: dict[str, Path], rounds: int, threads: int, folder: Path) -> dict:
    """Interleaved rounds of model-only and end-to-end runs of each model; best seconds and per-round ratios."""
    from engine.segment import segment_raster
    from engine.session import open_model

    sessions = {name: open_model(path, device="cpu", threads=threads) for name, path in models.items()}
    tile = int(sessions["fp32"].card.tile_size or 512)
    overlap = float(sessions["fp32"].card.tile_overlap_percent or 15.0)
    batches = {name: in_memory_batches(raster, s, tile, overlap, 4) for name, s in sessions.items()}
    for name, s in sessions.items():
        s.probabilities(batches[name][0])  # warm-up
    best: dict[str, float] = {}
    each: dict[str, list[float]] = {"ceiling_ratio": [], "int8_speedup": []}
    for _ in range(rounds):
        seconds = {}
        for name in models:
            t0 = time.perf_counter()
            for data in batches[name]:
                sessions[name].probabilities(data)
            seconds[f"{name}_model_only"] = time.perf_counter() - t0
            run = segment_raster(str(raster), str(models[name]), str(folder / f"{name}.tif"), batch_size=4,
                                 device="cpu", threads=threads, feedback=quiet())
            seconds[f"{name}_end_to_end"] = run.timing["total_s"]
            seconds[f"{name}_in_pipeline_model"] = run.timing["model_s"]  # onnxruntime's share of that run
        for key, value in seconds.items():
            best[key] = min(best.get(key, float("inf")), value)
        each["ceiling_ratio"].append(round(seconds["fp32_model_only"] / seconds["fp32_end_to_end"], 3))
        each["int8_speedup"].append(round(seconds["fp32_end_to_end"] / seconds["int8_end_to_end"], 3))
    return {"tile": tile, "overlap_percent": overlap, "tiles": sum(b.shape[0] for b in batches["fp32"]),
            "best_s": {k: round(v, 2) for k, v in best.items()}, "each_round": each}




def change_rates(classes: np.ndarray, grid) -> tuple[float, float]:
    """Class-change rate (%) across tile borders and elsewhere, along both axes.

    Border pairs straddle the first or the last pixel of a tile's output (where one tile's
    contribution starts or ends), the region's own edges excepted.
    """
    border_changes = border_pairs = other_changes = other_pairs = 0
    for axis in (0, 1):
        a = classes if axis == 1 else classes.T
        starts, size = (grid.cols, grid.out[1]) if axis == 1 else (grid.rows, grid.out[0])
        changes = a[:, 1:] != a[:, :-1]
        length = a.shape[1]
        edges = {s for s in starts[1:]} | {s + size for s in starts[:-1]}
        border = np.zeros(length - 1, bool)
        for edge in edges:
            for x in (edge - 1, edge):
                if 1 <= x < length:
                    border[x - 1] = True
        border_changes += int(changes[:, border].sum())
        border_pairs += changes[:, border].size
        other_changes += int(changes[:, ~border].sum())
        other_pairs += changes[:, ~border].size
    return 100.0 * border_changes / border_pairs, 100.0 * other_changes / other_pairs


def seam_rates(raster: Path, model: Path, threads: int, folder: Path, floor: float | None) -> dict:
    """Border and interior change rates with SEAM_TILE tiles; ``floor`` replaces the window's floor."""
    import rasterio

    import engine.blending as blending
    from engine.segment import segment_raster
    from engine.tiling import blend_profile, make_grid

    original = blending.blend_profile
    if floor is not None:
        blending.blend_profile = lambda n: blend_profile(n, floor=floor)
    try:
        out = folder / f"seams_{floor}.tif"
        segment_raster(str(raster), str(model), str(out), tile_size=SEAM_TILE, overlap=SEAM_OVERLAP, device="cpu",
                       threads=threads, feedback=quiet())
    finally:
        blending.blend_profile = original
    with rasterio.open(out) as src:
        classes = src.read(1)
    grid = make_grid(*classes.shape, (SEAM_TILE, SEAM_TILE), (SEAM_TILE, SEAM_TILE), SEAM_OVERLAP)
    border, interior = change_rates(classes, grid)
    return {"border_change_pct": round(border, 3), "interior_change_pct": round(interior, 3),
            "excess_pp": round(border - interior, 3)}


def real_report(args, peak_rss) -> dict:
    """Everything docs/performance.json holds, measured in one run."""
    import tempfile

    import torch

    from bench.model_cost import gflops
    from training.export import export_checkpoint, load_finetuned, rebuild_network

    if not args.checkpoint:
        raise SystemExit("--real needs --checkpoint (bench/deeplab_heads.py --heads separable --work DIR makes one)")
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {"command": "bench/segment_throughput.py " + " ".join(sys.argv[1:]),
                    "cpu_count": os.cpu_count(), "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="rsseg_real_") as tmp:
        folder = Path(tmp)
        tile = args.real_tile or None
        models = {"fp32": export_checkpoint(args.checkpoint, folder / "fp32.onnx", tile_size=tile, feedback=quiet())}
        t0 = time.perf_counter()
        models["int8"] = export_checkpoint(args.checkpoint, folder / "int8.onnx", tile_size=tile, int8=True,
                                           feedback=quiet())
        report["int8_export_s"] = round(time.perf_counter() - t0, 1)
        from engine.session import open_model

        report["int8_check"] = open_model(models["int8"], device="cpu").card.config.get("quantization")
        raster = speed_raster()
        single = timed_rounds(raster, models, args.rounds, args.threads, folder)
        mosaic = mosaic_raster(folder)
        speed = timed_rounds(mosaic, models, args.rounds, args.threads, folder)
        mosaic.unlink()
        best = speed["best_s"]
        report["ceiling_ratio_real"] = round(best["fp32_model_only"] / best["fp32_end_to_end"], 3)
        report["ceiling_ratio_single_image"] = round(single["best_s"]["fp32_model_only"]
                                                     / single["best_s"]["fp32_end_to_end"], 3)
        report["int8_speedup"] = round(best["fp32_end_to_end"] / best["int8_end_to_end"], 3)
        report["int8_speedup_model_only"] = round(best["fp32_model_only"] / best["int8_model_only"], 3)
        # what the pipeline adds besides opening the model and onnxruntime's first-run warm-up
        report["model_share_of_end_to_end"] = round(best["fp32_in_pipeline_model"] / best["fp32_end_to_end"], 3)
        report["speed"] = {"raster": f"tile {MOSAIC_TILE}'s nine images in a 3 x 3 mosaic", **speed}
        report["speed_single_image"] = {"raster": SPEED_IMAGE, **single}
        miou = {name: round(score_test_tiles(path, folder, threads=args.threads), 2) for name, path in models.items()}
        report["test_miou"] = miou
        report["int8_miou_drop"] = round(miou["fp32"] - miou["int8"], 2)
        seams = {"now": seam_rates(raster, models["fp32"], args.threads, folder, None),
                 "old_floor_0.02": seam_rates(raster, models["fp32"], args.threads, folder, 0.02)}
        report["seam_excess"] = seams["now"]["excess_pp"]
        report["seams"] = {"tile": SEAM_TILE, "overlap_percent": SEAM_OVERLAP, **seams}
        net = rebuild_network(load_finetuned(args.checkpoint))
        report["gflops_512"] = round(gflops(net), 2)
        report["parameters"] = sum(p.numel() for p in net.parameters())
        rss = {size: peak_rss(folder, size, args.tile, args.batch, args.threads) for size in (args.small, args.large)}
    for size, row in rss.items():  # peak_rss_mb_2048 and peak_rss_mb_20000 with the default sizes
        report[f"peak_rss_mb_{size}"] = row["peak_rss_mb"]
    large = rss[args.large]
    report["tile_recompute_ratio"] = round(large["tiles_run"] / large["grid_tiles"], 4)
    report["peak_rss"] = rss
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return report
