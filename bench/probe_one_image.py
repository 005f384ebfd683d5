"""Why a 1-image linear probe shows no pretraining gain for the ResNet encoders: per class.

The label-efficiency benchmark finds GraSS and SDCluster clearly ahead of random init with 4
labelled images and level with it with 1 (docs/results.md). Three explanations are told apart
here, on the benchmark's own seeds, subsets and test tile:

- *class coverage*: one image lacks some classes, whose IoU is then 0 for both networks. The
  ``present_class_gain`` (mean IoU over the classes the labelled image holds) removes them;
- *pixel sampling*: 5000 uniform pixels give a 1 % class ~50 samples. ``--sampling balanced``
  draws the same number per class instead (by swapping the probe's sampler, this script only);
- *BatchNorm statistics*: recalibrating the pretrained network on one image's crops may hurt
  it. ``--keep-bn`` probes it with its pretraining statistics.

    python -m bench.probe_one_image --checkpoint .bench/le/grass_at100.pt
    python -m bench.probe_one_image --checkpoint .bench/le/grass_at100.pt --sampling balanced

Prints JSON: per seed, the classes of the labelled image, both mIoUs and per-class IoUs, and
the paired gains (mean, standard error) over all classes and over the present ones.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

import numpy as np

from bench.dubai_split import CLASS_NAMES, DATA, TEST_TILES, tile_pairs
from bench.label_efficiency import label_subset


def balanced_sampler(item, count: int, seed: int, image_index: int, ignore_index: int) -> np.ndarray:
    """The probe's pixel sample with ``count // classes`` pixels of each class present (seeded)."""
    if item.train_rows is None:
        return np.zeros((0, 2), dtype=np.int64)
    start, end = item.train_rows
    labels = item.labels[start:end]
    rng = np.random.default_rng([int(seed), int(image_index)])
    classes = [k for k in np.unique(labels) if k != ignore_index and k >= 0]
    picked = []
    for k in classes:
        rows, cols = np.nonzero(labels == k)
        chosen = rng.choice(rows.size, size=min(count // len(classes), rows.size), replace=False)
        picked.append(np.stack([rows[chosen] + start, cols[chosen]], axis=1))
    return np.concatenate(picked).astype(np.int64) if picked else np.zeros((0, 2), dtype=np.int64)


@contextlib.contextmanager
def sampling(kind: str):
    """Swap the probe's pixel sampler for the duration (``uniform`` = the probe's own)."""
    import training.probe as probe

    original = probe.sample_pixels
    if kind == "balanced":
        probe.sample_pixels = balanced_sampler
    try:
        yield
    finally:
        probe.sample_pixels = original


def classes_held(label_paths: list[str], ignore_index: int = 255, min_pixels: int = 100) -> list[int]:
    """Class ids with at least ``min_pixels`` pixels in the labelled images."""
    import rasterio

    held: set[int] = set()
    for path in label_paths:
        with rasterio.open(path) as ds:
            values, counts = np.unique(ds.read(1), return_counts=True)
        held |= {int(v) for v, c in zip(values, counts) if v != ignore_index and c >= min_pixels}
    return sorted(held)


def mean_se(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else None
    return {"mean": round(float(arr.mean()), 2), "se": None if se is None else round(se, 2)}


def probe_checkpoint(checkpoint: str, args: argparse.Namespace) -> dict:
    """Every seed of one checkpoint: pretrained vs random init, per class."""
    from training.probe import ProbeConfig, run_probe

    test_images, test_labels = tile_pairs(TEST_TILES)
    seeds, gains, present_gains = [], [], []
    for seed in args.seeds:
        images, labels = label_subset(seed, args.labels)
        config = ProbeConfig(checkpoint=checkpoint, images=images, labels=labels, test_images=test_images,
                             test_labels=test_labels, seeds=[seed], class_names=CLASS_NAMES,
                             sdcluster_state=args.variant, device="cpu",
                             recalibrate_pretrained=not args.keep_bn)
        with sampling(args.sampling):
            result = run_probe(config)
        held = classes_held(labels)
        present = np.mean([result.class_iou[k] - result.random_class_iou[k] for k in held])
        gains.append(result.values[0] - result.random_values[0])
        present_gains.append(float(present))
        seeds.append({"seed": seed, "classes_held": [CLASS_NAMES[k] for k in held],
                      "miou": round(result.values[0], 2), "random_miou": round(result.random_values[0], 2),
                      "class_iou": [None if v is None else round(v, 1) for v in result.class_iou],
                      "random_class_iou": [None if v is None else round(v, 1) for v in result.random_class_iou]})
    return {"checkpoint": checkpoint.split("/")[-1], "seeds": seeds, "gain": mean_se(gains),
            "present_class_gain": mean_se(present_gains)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", required=True, help="a snapshot; repeat for several")
    parser.add_argument("--variant", default="student", help="SDCluster: student or teacher")
    parser.add_argument("--labels", type=int, default=1, help="labelled images per seed (default 1)")
    parser.add_argument("--seeds", type=lambda t: [int(v) for v in t.split(",")], default=[0, 1, 2, 3, 4])
    parser.add_argument("--sampling", choices=["uniform", "balanced"], default="uniform")
    parser.add_argument("--keep-bn", action="store_true", help="keep the pretrained BatchNorm statistics")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"probe_one_image: {DATA} not found (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    result = {"class_names": list(CLASS_NAMES), "labels": args.labels, "sampling": args.sampling,
              "pretrained_bn": "kept" if args.keep_bn else "recalibrated",
              "checkpoints": [probe_checkpoint(c, args) for c in args.checkpoint]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
