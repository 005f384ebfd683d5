"""Linear probe: did pretraining learn anything? A one-minute judge before hours of fine-tuning.

Protocol (documented with measured numbers in docs/probe.md):

1. Freeze the checkpoint's network (GraSS / SDCluster encoder, the diffusion denoiser, or a
   fine-tuned DeepLabV3+ / HRNet / Diff-HRNet) and read multi-level features at one output
   stride (:mod:`training.probe_features`).
2. Fit a linear pixel classifier (multinomial logistic regression = a 1x1 conv) on a seeded
   subsample of labelled pixels of the training images: features standardised, full-batch
   L-BFGS from zero weights, L2 penalty. Convex and deterministic: the result depends on
   the features and the pixels, not on optimiser noise.
3. Predict the test images at full resolution (logits bilinearly upsampled from the feature
   grid) and score mIoU over the classes present in the reference (:mod:`engine.metrics`).
4. Do the same for the same architecture at random init (the constructor from-scratch
   training uses, seeded), BatchNorm statistics recalibrated on the probe's images.
5. Repeat for every seed. A seed fixes the random network and the pixel subsample, and the
   pretrained and random networks of one seed see the same pixels, so the differences are
   paired: ``delta`` is their mean and ``delta_se`` their standard error.

Pretraining learned something useful when ``delta`` is clearly above 0 and above twice
``delta_se``.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.metrics import confusion_matrix, scores_from_confusion
from engine.progress import RunFeedback
from training.checkpoint import Checkpoint, CheckpointError
from training.data.rasters import Normalization, bands_to_read, compute_normalization
from training.paired import paired_difference
from training.probe_config import ProbeConfig
from training.probe_data import (
    MARGIN,
    ProbeImage,
    Tile,
    iter_tiles,
    label_class_names,
    normalised,
    padded_image,
    plan_split,
    positions_in_tile,
    read_probe_image,
    sample_pixels,
    spread_tiles,
    tile_input,
)
from training.probe_features import (
    ExtractorSpec,
    FeatureExtractor,
    build_extractor,
    has_batchnorm,
    random_spec,
    recalibrate_batchnorm,
    spec_from_checkpoint,
)
from training.runtime import select_device

BN_CROP = 320       # side of the crops BatchNorm statistics are recalibrated on
__all__ = ["ProbeConfig", "ProbeResult", "fit_linear", "paired_difference", "run_probe", "sample_at"]


@dataclass
class ProbeResult:
    """Scores in mIoU percent; ``values[i]`` and ``random_values[i]`` belong to ``seeds[i]``.

    With no checkpoint, only the random network's numbers are set (the pretrained ones are
    None / empty); with ``run_probe(..., random_init=False)`` only the pretrained ones.
    """

    miou: float | None
    random_miou: float | None
    delta: float | None
    delta_se: float | None
    values: list[float]
    random_values: list[float]
    seeds: list[int]
    class_names: list[str]
    class_iou: list[float | None]             # per class, mean over seeds (%), None = absent from the reference
    random_class_iou: list[float | None]
    seconds: float
    method: str                               # checkpoint method ("grass", ..., "supervised"), or "random"
    features: str                             # what was read from the network
    feature_channels: int
    train_pixels: int                         # pixels fitted per seed
    test_pixels: int                          # labelled pixels scored per seed
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict (NaN written as None)."""
        return _clean(asdict(self))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


# ----------------------------------------------------------------------------- the run
def run_probe(config: ProbeConfig, feedback: RunFeedback | None = None, random_init: bool = True) -> ProbeResult:
    """Probe ``config.checkpoint`` against the same network at random init; see the module docstring.

    ``random_init=False`` probes the checkpoint alone (the random-init fields of the result are
    then empty): for a caller that already holds the baseline of this architecture, seeds and
    labelled images, e.g. the label-efficiency benchmark, whose checkpoints of one
    architecture at several pretraining lengths all share one random-init baseline per seed.
    """
    feedback = feedback or RunFeedback()
    started = time.perf_counter()
    config.validate()
    checkpoint = _load_checkpoint(config.checkpoint)
    spec = (spec_from_checkpoint(checkpoint, config.sdcluster_state) if checkpoint
            else random_spec(_band_count(config, None), config.backbone))
    bands = _bands(config, checkpoint)
    items = _read_images(config, bands)
    num_classes, names = _classes(config, items, checkpoint)
    device = select_device(config.device)
    random_norm = compute_normalization([it.image for it in items if it.train_rows], bands, seed=0)
    positions = {s: [sample_pixels(it, config.max_pixels_per_image, s, i, config.ignore_index)
                     for i, it in enumerate(items)] for s in config.seeds}
    if not (checkpoint or random_init):
        raise ValueError("CHECKPOINT: give a checkpoint to probe, or probe the random-init network")
    runs = (len(config.seeds) if random_init else 0) + (1 if checkpoint else 0)
    progress = _Progress(feedback, runs * _tile_count(items, config))
    feedback.log(f"probe: {spec.description}; {len(items)} image(s), {num_classes} classes, "
                 f"seeds {config.seeds}, output stride {config.output_stride}, device {device}")

    pretrained_cms: list[np.ndarray] = []
    if checkpoint:
        norm = Normalization(tuple(checkpoint.band_offset), tuple(checkpoint.band_scale))
        extractor = build_extractor(spec, config.output_stride, True, 0, config.timestep).to(device)
        extractor.set_check(progress.check)
        channels = extractor.channels
        pretrained_cms = _probe_network(extractor, items, norm, positions, num_classes, config, device, progress,
                                        recalibrate=config.recalibrate_pretrained)
        feedback.log("pretrained: mIoU " + ", ".join(f"{_miou(cm):.1f}" for cm in pretrained_cms))
    random_cms = []
    for seed in config.seeds if random_init else ():
        extractor = build_extractor(spec, config.output_stride, False, seed, config.timestep).to(device)
        extractor.set_check(progress.check)
        channels = extractor.channels
        random_cms += _probe_network(extractor, items, random_norm, {seed: positions[seed]}, num_classes, config,
                                     device, progress, recalibrate=True)
        feedback.log(f"random init, seed {seed}: mIoU {_miou(random_cms[-1]):.1f}")
    fitted = int(sum(len(p) for p in positions[config.seeds[0]]))
    tested = int((random_cms or pretrained_cms)[0].sum())
    return _result(config, checkpoint, spec, channels, names, pretrained_cms, random_cms, fitted, tested,
                   time.perf_counter() - started)


def _load_checkpoint(path: str) -> Checkpoint | None:
    if not path:
        return None
    try:
        return Checkpoint.load(path)
    except CheckpointError as exc:
        raise ValueError(f"CHECKPOINT: {exc}") from None


def _band_count(config: ProbeConfig, checkpoint: Checkpoint | None) -> int:
    return len(_bands(config, checkpoint))


def _bands(config: ProbeConfig, checkpoint: Checkpoint | None) -> list[int]:
    bands = list(config.bands) or (list(checkpoint.bands) if checkpoint else [])
    for path in [*config.images, *config.test_images]:
        try:
            bands = bands_to_read(path, bands)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - rasterio raises its own kinds for unreadable files
            name = "TEST_IMAGES" if path in config.test_images else "INPUT_IMAGES"
            raise ValueError(f"{name}: {path} is not a readable raster ({exc})") from None
    if checkpoint is not None:
        try:
            checkpoint.check_bands(len(bands), "the probe images (BANDS)")
        except CheckpointError as exc:
            raise ValueError(f"BANDS: {exc}") from None
    return bands


def _read_images(config: ProbeConfig, bands: list[int]) -> list[ProbeImage]:
    train = [read_probe_image(i, lab, bands, config.ignore_index, "LABELS")
             for i, lab in zip(config.images, config.labels)]
    test = [read_probe_image(i, lab, bands, config.ignore_index, "TEST_LABELS")
            for i, lab in zip(config.test_images, config.test_labels)]
    items = plan_split(train, test, config.holdout_fraction)
    for item in items:
        if item.train_rows and not np.any(item.labels[slice(*item.train_rows)] != config.ignore_index):
            raise ValueError(f"LABELS: the label raster of {item.image.name} holds no class id in the rows fitted on")
    if not any(np.any(it.labels[slice(*it.test_rows)] != config.ignore_index) for it in items if it.test_rows):
        raise ValueError("TEST_LABELS: the scored images hold no labelled pixel")
    return items


def _classes(config: ProbeConfig, items: list[ProbeImage], checkpoint: Checkpoint | None) -> tuple[int, list[str]]:
    present = [int(v) for it in items for v in np.unique(it.labels) if int(v) != config.ignore_index]
    num_classes = max(present) + 1
    names = list(config.class_names) or label_class_names(config.labels[0])
    if not names and checkpoint is not None:
        names = list(checkpoint.class_names)
    names = [str(n) for n in names][:num_classes]
    return num_classes, names + [f"class {k}" for k in range(len(names), num_classes)]


def _tile_count(items: list[ProbeImage], config: ProbeConfig) -> int:
    train = sum(len(t) for _i, _it, t in iter_tiles(items, "train", config.tile_size))
    test = sum(len(t) for _i, _it, t in iter_tiles(items, "test", config.tile_size))
    return train + test + min(config.bn_tiles, train)


class _Progress:
    """Counts network forwards for the progress bar and polls cancellation at each."""

    def __init__(self, feedback: RunFeedback, total: int) -> None:
        self.feedback, self.total, self.done = feedback, max(1, total), 0

    def step(self) -> None:
        self.feedback.check_cancelled()
        self.done += 1
        self.feedback.set_progress(self.done / self.total)

    def check(self) -> None:
        self.feedback.check_cancelled()


# ----------------------------------------------------------------------------- one network
def _probe_network(extractor: FeatureExtractor, items: list[ProbeImage], norm: Normalization,
                   positions: dict[int, list[np.ndarray]], num_classes: int, config: ProbeConfig,
                   device: torch.device, progress: _Progress, recalibrate: bool) -> list[np.ndarray]:
    """Confusion matrices of this network's classifiers, one per seed in ``positions``."""
    padded = {i: padded_image(normalised(it, norm)) for i, it in enumerate(items)}
    if recalibrate and has_batchnorm(extractor.net):
        tiles = [(i, t) for i, _it, ts in iter_tiles(items, "train", config.tile_size) for t in ts]
        chosen = spread_tiles(tiles, config.bn_tiles)

        def batches():  # central crops of at most BN_CROP px: statistics need pixels, not whole tiles
            for i, tile in chosen:
                progress.step()
                yield _to_tensor(_central_crop(tile_input(padded[i], tile), BN_CROP), device)

        recalibrate_batchnorm(extractor, batches(), progress.check)
    samples = _gather_training(extractor, items, padded, positions, config, device, progress)
    classifiers = [fit_linear(x, y, num_classes, config.weight_decay, config.max_iterations, progress.check)
                   for x, y in samples]
    weight = torch.cat([w for w, _b in classifiers]).to(device)
    bias = torch.cat([b for _w, b in classifiers]).to(device)
    return _score(extractor, items, padded, weight, bias, len(classifiers), num_classes, config, device, progress)


def _central_crop(array: np.ndarray, size: int) -> np.ndarray:
    h, w = array.shape[-2:]
    top, left = max(0, (h - size) // 2) // 32 * 32, max(0, (w - size) // 2) // 32 * 32
    return array[:, top:top + min(size, h), left:left + min(size, w)]


def _to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))[None].to(device)


def _gather_training(extractor, items, padded, positions, config, device,
                     progress) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Features (float16, N x D) and labels of every seed's sampled pixels, one pass over the tiles."""
    seeds = list(positions)
    feats: dict[int, list[torch.Tensor]] = {s: [] for s in seeds}
    labels: dict[int, list[np.ndarray]] = {s: [] for s in seeds}
    for index, item, tiles in iter_tiles(items, "train", config.tile_size):
        for tile in tiles:
            progress.step()
            chosen = {s: positions[s][index][positions_in_tile(positions[s][index], tile)] for s in seeds}
            if not any(len(p) for p in chosen.values()):
                continue
            grid = extractor(_to_tensor(tile_input(padded[index], tile), device))
            for s, pos in chosen.items():
                if len(pos):
                    feats[s].append(sample_at(grid, pos, tile).half().cpu())
                    labels[s].append(item.labels[pos[:, 0], pos[:, 1]])
    return [(torch.cat(feats[s]), torch.from_numpy(np.concatenate(labels[s]))) for s in seeds]


def sample_at(grid: torch.Tensor, positions: np.ndarray, tile: Tile) -> torch.Tensor:
    """(N, D) features at pixel ``positions`` (row, col) of the image, bilinear from the
    (1, D, h, w) grid of ``tile`` plus its margin: the same values a bilinear upsampling of
    the grid to full resolution gives there."""
    height, width = tile.height + 2 * MARGIN, tile.width + 2 * MARGIN
    rows = torch.as_tensor(positions[:, 0] - tile.row + MARGIN + 0.5, dtype=torch.float32)
    cols = torch.as_tensor(positions[:, 1] - tile.col + MARGIN + 0.5, dtype=torch.float32)
    where = torch.stack([cols / width * 2 - 1, rows / height * 2 - 1], dim=1).to(grid.device)
    picked = F.grid_sample(grid, where[None, None], mode="bilinear", padding_mode="border", align_corners=False)
    return picked[0, :, 0].T


def fit_linear(features: torch.Tensor, labels: torch.Tensor, num_classes: int, weight_decay: float = 1e-4,
               max_iterations: int = 100,
               check: Callable[[], None] = lambda: None) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression on (N, D) features: (weight (K, D), bias (K,)) that
    apply to raw (unstandardised) features. Full-batch L-BFGS from zeros: deterministic."""
    x = features.float()
    mean = x.mean(dim=0)
    std = x.std(dim=0).clamp_min(1e-6)
    x = (x - mean) / std
    y = labels.long()
    w = torch.zeros(num_classes, x.shape[1], requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iterations, history_size=20,
                                  tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        check()
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, y) + 0.5 * weight_decay * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        weight = w / std
        bias = b - weight @ mean
    return weight.detach(), bias.detach()


def _score(extractor, items, padded, weight, bias, n_classifiers, num_classes, config, device,
           progress) -> list[np.ndarray]:
    """Confusion matrix of each classifier over the scored rows, logits upsampled to full resolution."""
    cms = [np.zeros((num_classes, num_classes), dtype=np.int64) for _ in range(n_classifiers)]
    for index, item, tiles in iter_tiles(items, "test", config.tile_size):
        pred = np.zeros((n_classifiers, item.height, item.width), dtype=np.int64)
        for tile in tiles:
            progress.step()
            grid = extractor(_to_tensor(tile_input(padded[index], tile), device))[0]
            logits = torch.einsum("kd,dhw->khw", weight, grid) + bias[:, None, None]
            size = (tile.height + 2 * MARGIN, tile.width + 2 * MARGIN)
            logits = F.interpolate(logits[None], size=size, mode="bilinear", align_corners=False)[0]
            logits = logits[:, MARGIN:MARGIN + tile.height, MARGIN:MARGIN + tile.width]
            labels = logits.reshape(n_classifiers, num_classes, tile.height, tile.width).argmax(dim=1).cpu().numpy()
            h = min(tile.height, item.height - tile.row)
            w = min(tile.width, item.width - tile.col)
            if h > 0 and w > 0:
                pred[:, tile.row:tile.row + h, tile.col:tile.col + w] = labels[:, :h, :w]
        start, end = item.test_rows
        reference = item.labels[start:end]
        for k in range(n_classifiers):
            cms[k] += confusion_matrix(pred[k, start:end], reference, num_classes, config.ignore_index)
    return cms


# ----------------------------------------------------------------------------- results
def _miou(cm: np.ndarray) -> float:
    return 100.0 * float(scores_from_confusion(cm)["miou"])


def _class_iou(cms: list[np.ndarray]) -> list[float | None]:
    if not cms:
        return []
    per_seed = np.array([[np.nan if v is None else v for v in scores_from_confusion(cm)["iou"]] for cm in cms])
    present = cms[0].sum(axis=1) > 0
    means = 100.0 * np.nan_to_num(per_seed).mean(axis=0)
    return [float(m) if p else None for m, p in zip(means, present)]


def _result(config, checkpoint, spec: ExtractorSpec, channels: int, names, pretrained_cms, random_cms, fitted,
            tested, seconds) -> ProbeResult:
    values = [_miou(cm) for cm in pretrained_cms]
    random_values = [_miou(cm) for cm in random_cms]
    delta, delta_se = paired_difference(values, random_values) if values and random_values else (None, None)
    random_miou = float(np.mean(random_values)) if random_values else None
    return ProbeResult(
        miou=float(np.mean(values)) if values else None,
        random_miou=random_miou, delta=delta, delta_se=delta_se, values=values, random_values=random_values,
        seeds=list(config.seeds), class_names=names,
        class_iou=_class_iou(pretrained_cms), random_class_iou=_class_iou(random_cms),
        seconds=round(seconds, 1), method=checkpoint.method if checkpoint else "random",
        features=spec.description, feature_channels=int(channels),
        train_pixels=fitted, test_pixels=tested, config=asdict(config),
    )
