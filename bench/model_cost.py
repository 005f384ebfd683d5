"""Cost of the segmentation networks: parameters, GFLOPs at 512x512, Mpix/s through the engine.

    PYTHONPATH=. .venv/bin/python bench/model_cost.py [--raster R] [--size 1024] [--tile 512]
                 [--archs deeplabv3plus,hrnet,diff_hrnet] [--preset small] [--threads 0] [--no-throughput]

For each architecture (3 bands, 6 classes, random weights: cost does not depend on them):
* ``parameters`` (all) and ``trainable_parameters`` (Diff-HRNet's denoiser is frozen);
* ``gflops_512``: floating-point operations of one 512x512 forward pass, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matmuls including attention;
  one multiply-add = 2 FLOPs; element-wise ops are not counted). GMACs = GFLOPs / 2;
* ``mpix_per_s``: end-to-end throughput of ``engine.segment.segment_raster`` (tiling,
  ONNX Runtime on the CPU, blending, GeoTIFF writing) on ``--raster``, or on a synthetic
  ``--size`` x ``--size`` RGB GeoTIFF, with the model exported by ``training.export``.

Diff-HRNet is built around a freshly initialised denoiser of ``--preset`` ("small" is what
pretraining defaults to; "large" is the GPU preset). Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.model_card import ModelCard
from training.nets.registry import build_segmentation_net

IN_CHANNELS, NUM_CLASSES = 3, 6


def diffusion_kwargs(preset: str) -> dict:
    """Architecture kwargs of a Diff-HRNet around a denoiser of ``preset`` (random weights)."""
    from training.methods.diffusion import denoiser_spec, diffusion_process
    from training.methods.diffusion_config import DiffusionConfig

    config = DiffusionConfig(preset=preset)
    return {"denoiser": denoiser_spec(config, IN_CHANNELS).to_dict(), "diffusion": diffusion_process(config)}


def build(arch: str, preset: str) -> torch.nn.Module:
    kwargs = diffusion_kwargs(preset) if arch == "diff_hrnet" else {}
    return build_segmentation_net(arch, IN_CHANNELS, NUM_CLASSES, pretrained=None, **kwargs).eval()


def gflops(net: torch.nn.Module, size: int = 512) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, IN_CHANNELS, size, size))
    return counter.get_total_flops() / 1e9


def synthetic_raster(path: Path, size: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, (IN_CHANNELS, size, size), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=IN_CHANNELS, dtype="uint8",
                       crs="EPSG:32640", transform=from_origin(500000.0, 2800000.0, 1.0, 1.0), tiled=True) as dst:
        dst.write(data)
    return path


def throughput(net: torch.nn.Module, arch: str, raster: Path, tile: int, threads: int, folder: Path) -> dict:
    from engine.progress import RunFeedback
    from engine.segment import segment_raster
    from training.export import export_module

    quiet = RunFeedback(log=lambda _m: None)
    card = ModelCard(class_names=[f"class {k}" for k in range(NUM_CLASSES)], bands=[1, 2, 3],
                     band_offset=[127.5] * 3, band_scale=[64.0] * 3, tile_size=tile, tile_overlap_percent=10.0,
                     method="benchmark")
    onnx_path = export_module(net, card, IN_CHANNELS, folder / f"{arch}.onnx", check=False, feedback=quiet)
    result = segment_raster(str(raster), str(onnx_path), str(folder / f"{arch}_map.tif"), tile_size=tile,
                            device="cpu", threads=threads, feedback=quiet)
    return {"mpix_per_s": round(result.timing["mpix_per_s"], 4), "seconds": round(result.timing["total_s"], 2),
            "tiles": int(result.timing["tiles"]), "onnx_mb": round(onnx_path.stat().st_size / 2**20, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raster", default="")
    parser.add_argument("--size", type=int, default=1024, help="synthetic raster edge when --raster is not given")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--archs", default="deeplabv3plus,hrnet,diff_hrnet")
    parser.add_argument("--preset", default="small", choices=["small", "large"])
    parser.add_argument("--threads", type=int, default=0, help="torch and onnxruntime threads (0 = default)")
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {"command": " ".join(["bench/model_cost.py", *(argv if argv is not None else sys.argv[1:])]),
                    "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                "python": platform.python_version(), "torch": torch.__version__},
                    "diffusion_preset": args.preset, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raster = Path(args.raster) if args.raster else synthetic_raster(folder / "bench.tif", args.size)
        report["raster"] = str(raster) if args.raster else f"synthetic {args.size}x{args.size} RGB"
        for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
            torch.manual_seed(0)
            net = build(arch, args.preset)
            row = {
                "parameters": sum(p.numel() for p in net.parameters()),
                "trainable_parameters": sum(p.numel() for p in net.parameters() if p.requires_grad),
            }
            started = time.perf_counter()
            row["gflops_512"] = round(gflops(net), 2)
            row["torch_forward_512_s"] = round(time.perf_counter() - started, 2)
            if not args.no_throughput:
                row.update(throughput(net, arch, raster, args.tile, args.threads, folder))
            report["models"][arch] = row
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
