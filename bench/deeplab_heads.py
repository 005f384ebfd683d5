"""DeepLabV3+ heads side by side: separable (published, default) vs dense, same training run.

    PYTHONPATH=. .venv/bin/python bench/deeplab_heads.py [--epochs 6] [--patches 96] [--seeds 0]
                 [--heads separable,dense] [--work DIR] [--threads 2]

For each head and seed (interleaved: seed 0 separable, seed 0 dense, seed 1 ...): fine-tune a
ResNet-18 DeepLabV3+ from scratch on the Dubai training tiles (``bench/dubai_split.py``)
with identical settings and seed, export it to ONNX, segment the test tile's images whole
with ``engine.segment`` and pool their confusion matrices (mIoU over classes present), as
``bench/label_efficiency.py`` does. Reports parameters, GFLOPs at 512x512
(``bench/model_cost.gflops``), training seconds and steps/s, and test mIoU. ``--work`` keeps
the checkpoints and ONNX files (the throughput and int8 benchmarks can reuse them).
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.dubai_split import CLASS_COLORS, CLASS_NAMES, TRAIN_TILES, score_test_tiles, tile_pairs

REPO = Path(__file__).resolve().parents[1]


def train_head(head: str, seed: int, args: argparse.Namespace, work: Path) -> Path:
    """Fine-tune one DeepLabV3+ with ``head`` from scratch; returns the checkpoint path."""
    from engine.progress import RunFeedback
    from training.finetune import finetune
    from training.finetune_config import FinetuneConfig

    images, labels = tile_pairs(TRAIN_TILES)
    config = FinetuneConfig(
        images=images, labels=labels, class_names=CLASS_NAMES, class_colors=CLASS_COLORS,
        architecture="deeplabv3plus", backbone="resnet18", head=head, epochs=args.epochs, batch_size=8,
        patch_size=args.patch, patches_per_epoch=args.patches, learning_rate=1e-3, val_fraction=0.0,
        split_block_size=512, seed=seed, device="cpu", num_workers=0,
    )
    checkpoint = work / f"deeplab_{head}_s{seed}.pt"
    lines: list[str] = []
    finetune(config, checkpoint, feedback=RunFeedback(log=lines.append))
    (work / f"deeplab_{head}_s{seed}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return checkpoint




def head_cost(head: str) -> dict:
    """Parameters and GFLOPs at 512x512 of a 3-band, 5-class ResNet-18 DeepLabV3+."""
    from bench.model_cost import gflops
    from training.nets.deeplab import DeepLabV3Plus

    net = DeepLabV3Plus(3, len(CLASS_NAMES), head=head).eval()
    return {"parameters": sum(p.numel() for p in net.parameters()), "gflops_512": round(gflops(net), 2)}


def main(argv: list[str] | None = None) -> dict:
    """Run the comparison; prints and returns the JSON report."""
    import torch

    from training.export import export_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heads", default="separable,dense")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patches", type=int, default=96, help="patches per epoch")
    parser.add_argument("--patch", type=int, default=128, help="patch size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="", help="folder to keep checkpoints and ONNX files in")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = args.epochs * max(1, args.patches // 8)
    report: dict = {"command": " ".join(["bench/deeplab_heads.py", *(argv if argv is not None else sys.argv[1:])]),
                    "load_average_start": os.getloadavg(), "steps_per_run": steps, "heads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for head in heads:
            report["heads"][head] = {**head_cost(head), "runs": []}
        for seed in seeds:
            for head in heads:
                started = time.monotonic()
                checkpoint = train_head(head, seed, args, work)
                trained = time.monotonic() - started
                onnx_path = export_checkpoint(checkpoint, work / f"deeplab_{head}_s{seed}.onnx")
                miou = score_test_tiles(onnx_path, work, threads=args.threads)
                report["heads"][head]["runs"].append({"seed": seed, "train_s": round(trained, 1),
                                                      "steps_per_s": round(steps / trained, 3),
                                                      "test_miou": round(miou, 2)})
                print(f"{head} seed {seed}: mIoU {miou:.2f}, {trained:.0f} s", file=sys.stderr, flush=True)
        for row in report["heads"].values():
            row["test_miou_mean"] = round(float(np.mean([r["test_miou"] for r in row["runs"]])), 2)
    report["load_average_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
