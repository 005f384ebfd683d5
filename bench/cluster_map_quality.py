"""How well do SDCluster's unsupervised clusters match land cover? (Dubai aerial imagery)

1. Pretrain SDCluster briefly on the images of tiles 1, 3, 4, 5, 7 (labels unused), through
   ``training.methods.pretrain`` exactly as rsseg:pretrain_sdcluster does.
2. Export a cluster model with CLUSTERS=5 (the dataset's 5 classes) for the teacher and the
   student network (``training.methods.sdcluster_export``), prototypes used and their
   centroids measured on the test images, and map the 9 images of tile 2 (the test tile
   of bench.label_efficiency) whole with ``engine.segment.segment_raster``.
3. Score with ``engine.evaluate`` in cluster mode (5 clusters vs 5 classes: Hungarian
   matching), pooling the confusion matrices of the test images: matched mIoU, overall
   accuracy. A majority-class map and a map of the untrained network give the floor.

    .venv/bin/python -m bench.cluster_map_quality               # ~10 min on 2 CPU cores
    .venv/bin/python -m bench.cluster_map_quality --steps 40    # quicker, worse

Prints JSON; ``--docs`` also writes the numbers and the picture into docs/sdcluster.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.dubai_split import CLASS_NAMES, DATA, TEST_TILES, TRAIN_TILES, label_of, tile_pairs
from engine.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]

PICTURE = REPO / "docs" / "sdcluster_cluster_map.png"
RESULTS_START, RESULTS_END = "<!-- cluster-map-quality:start -->", "<!-- cluster-map-quality:end -->"


def images_of(tiles) -> list[Path]:
    return [Path(p) for p in tile_pairs(tiles)[0]]


def pooled_scores(predictions: list[Path], images: list[Path]) -> dict:
    """Cluster-mode evaluation of every test image, confusion matrices pooled, then matched."""
    from engine.evaluate import accumulate_confusion, add_confusion, score_clusters
    from engine.metrics import scores_from_confusion

    n = len(CLASS_NAMES)
    total = np.zeros((0, 0), np.int64)
    for pred, image in zip(predictions, images):
        total = add_confusion(total, accumulate_confusion(pred, label_of(image)))   # reference x prediction
    cm, _cluster_cm, mapping, matching = score_clusters(total, n)
    scores = scores_from_confusion(cm)
    return {
        "miou": round(float(scores["miou"]), 4),
        "overall_accuracy": round(float(scores["overall_accuracy"]), 4),
        "iou": {name: round(float(v), 4) for name, v in zip(CLASS_NAMES, scores["iou"])},
        "cluster_to_class": {str(k): CLASS_NAMES[v] for k, v in sorted(mapping.items())},
        "matching": matching,
    }


def map_and_score(checkpoint: Path, branch: str, clusters: int, test: list[Path], work: Path, usage: Path,
                  threads: int = 1, tag: str = "") -> tuple[dict, list[Path]]:
    """Export ``branch`` of ``checkpoint``, map the test images, score; files named by ``tag``."""
    from engine.segment import segment_raster
    from training.methods.sdcluster_export import export_cluster_model

    tag = tag or branch
    model = export_cluster_model(checkpoint, work / f"clusters_{tag}.onnx", clusters=clusters,
                                 usage_raster=usage, branch=branch)
    outputs = []
    for image in test:
        out = work / f"{tag}_{image.stem}.tif"
        segment_raster(str(image), str(model), str(out), device="cpu", threads=threads)
        outputs.append(out)
    return pooled_scores(outputs, test), outputs


def write_picture(image: Path, clusters: Path, path: Path) -> None:
    """The test image beside its cluster map, halved, as a PNG for the docs."""
    import rasterio

    from engine.model_card import default_color
    from engine.png import label_to_rgb, stretch_to_rgb, write_png

    with rasterio.open(image) as src:
        rgb = stretch_to_rgb(src.read()[:, ::2, ::2])
    with rasterio.open(clusters) as src:
        ids = src.read(1)[::2, ::2]
    colours = label_to_rgb(ids, [default_color(k) for k in range(256)])
    gap = np.full((rgb.shape[0], 6, 3), 255, np.uint8)
    write_png(path, np.concatenate([rgb, gap, colours], axis=1))


def update_docs(result: dict) -> None:
    doc = REPO / "docs" / "sdcluster.md"
    text = doc.read_text()
    if RESULTS_START not in text:
        raise SystemExit(f"{doc} has no {RESULTS_START} marker")
    head, rest = text.split(RESULTS_START, 1)
    _, tail = rest.split(RESULTS_END, 1)
    t, s, u = result["teacher"], result["student"], result["untrained"]
    st, m = result["settings"], result["majority"]
    body = f"""
Command: `{result['command']}` ({result['wall_seconds']:.0f} s wall time on {result['machine']}).

Pretraining: {st['steps']} steps of {st['batch_size']} patches of
{st['patch_size']} px (ResNet-18, output stride {st['output_stride']},
{st['prototypes']} prototypes, MLP width {st['projector_hidden']}, lr {st['learning_rate']}, \
{result['pretrain_seconds']:.0f} s) on the {result['train_images']}
images of tiles {', '.join(map(str, TRAIN_TILES))}. Cluster maps with CLUSTERS=5 of the \
{result['test_images']} images of
tile 2, scored in cluster mode (Hungarian matching of the 5 clusters to the 5 classes, test pixels pooled).

| map | matched mIoU | overall accuracy |
|---|---|---|
| SDCluster teacher (default) | {t['miou']:.3f} | {t['overall_accuracy']:.3f} |
| SDCluster student | {s['miou']:.3f} | {s['overall_accuracy']:.3f} |
| same network before training | {u['miou']:.3f} | {u['overall_accuracy']:.3f} |
| every pixel "land" (majority class) | {m['miou']:.3f} | {m['overall_accuracy']:.3f} |

Per-class IoU (teacher): {', '.join(f'{k} {v:.2f}' for k, v in t['iou'].items())}.

![A Dubai test image beside its SDCluster cluster map]({PICTURE.name})
"""
    atomic_write_text(doc, head + RESULTS_START + body + RESULTS_END + tail)


def parse_args(argv=None) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=80, help="pretraining steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=128)
    parser.add_argument("--output-stride", type=int, default=16)
    parser.add_argument("--prototypes", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=512, help="projector and predictor width (paper: 2048)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="used as is (no batch scaling)")
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch/onnxruntime threads (1: on a shared, oversubscribed CPU more threads only spin)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the checkpoint and maps (default: temporary)")
    parser.add_argument("--docs", action="store_true", help="write the result and picture into docs/")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Pretrain, map, score against the floors, print (and optionally record) the result."""
    args = parse_args(argv)
    if not DATA.is_dir():
        raise SystemExit(f"the Dubai data is not at {DATA}")

    import platform

    import torch

    from training.methods import pretrain
    from training.methods.sdcluster_config import SDClusterConfig

    for module in ("engine.segment", "training.methods.sdcluster_export"):
        importlib.import_module(module)  # a broken engine or export fails now, not after the long pretraining

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="rsseg_cluster_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    train, test = images_of(TRAIN_TILES), images_of(TEST_TILES)
    steps_per_epoch = 10
    config = SDClusterConfig(
        inputs=[str(p) for p in train], patch_size=args.patch_size, batch_size=args.batch_size,
        epochs=max(1, args.steps // steps_per_epoch), patches_per_epoch=steps_per_epoch * args.batch_size,
        learning_rate=args.learning_rate, lr_reference_batch=0, output_stride=args.output_stride,
        prototypes=args.prototypes, projector_hidden=args.hidden, predictor_hidden=args.hidden, device="cpu", seed=0,
    )
    checkpoint = work / "sdcluster.pt"
    checkpoint.unlink(missing_ok=True)
    pretrain("sdcluster", config, checkpoint)
    pretrain_seconds = time.perf_counter() - started

    # the usage sample for "prototypes used" / centroids: the test images, as a user maps them
    usage = test[0]
    result = {"settings": {"steps": config.epochs * steps_per_epoch, "batch_size": config.batch_size,
                           "patch_size": config.patch_size, "output_stride": config.output_stride,
                           "prototypes": config.prototypes, "learning_rate": config.learning_rate,
                           "projector_hidden": config.projector_hidden},
              "train_images": len(train), "test_images": len(test), "test_tile": TEST_TILES[0],
              "pretrain_seconds": round(pretrain_seconds, 1)}
    maps = {}
    for branch in ("teacher", "student"):
        result[branch], maps[branch] = map_and_score(checkpoint, branch, args.clusters, test, work, usage, args.threads)

    result["untrained"] = untrained_floor(checkpoint, config, args, test, work, usage)
    result["majority"] = majority_floor(test, work)

    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = f"{platform.machine()} CPU, {args.threads} torch threads, shared"
    result["command"] = ".venv/bin/python -m bench.cluster_map_quality " + shlex.join(argv or sys.argv[1:])
    if args.docs:
        write_picture(test[0], maps["teacher"][0], PICTURE)
        update_docs(result)
    print(json.dumps(result, indent=2))
    return result


def untrained_floor(checkpoint: Path, config, args: argparse.Namespace, test, work: Path, usage) -> dict:
    """Floor 1: the same architecture before training (fresh weights, same seed), saved as the
    trained checkpoint with its weights swapped, so bands, normalisation and config match."""
    import torch

    from training.checkpoint import Checkpoint
    from training.methods.sdcluster import SDClusterMethod

    trained = Checkpoint.load(checkpoint)
    torch.manual_seed(0)
    fresh = SDClusterMethod(config, trained.in_channels)
    untrained_path = work / "untrained.pt"
    dataclasses.replace(trained, model_state=fresh.state_dict(), encoder_state=None, history=[], epoch=0, step=0,
                        finished=False, optimizer_state=None).save(untrained_path)
    scores, _ = map_and_score(untrained_path, "teacher", args.clusters, test, work, usage, args.threads,
                              tag="untrained")
    return scores


def majority_floor(test, work: Path) -> dict:
    """Floor 2: every pixel the majority class ("land")."""
    import rasterio

    majority = []
    for image in test:
        with rasterio.open(label_of(image)) as src:
            profile = src.profile
            profile.update(nodata=None)
            out = work / f"majority_{image.stem}.tif"
            with rasterio.open(out, "w", **profile) as dst:
                dst.write(np.zeros((1, src.height, src.width), np.uint8))
        majority.append(out)
    return pooled_scores(majority, test)


if __name__ == "__main__":
    main()
