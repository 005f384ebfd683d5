"""The Dubai aerial tiles as the benchmarks use them: one split, one class legend.

``label_efficiency.py`` and ``cluster_map_quality.py`` must score on the same test tile,
so the split lives here once. Data: ``../shared/data/dubai_aerial/geotiff`` (see its
SOURCE.txt): 54 RGB images in 6 tiles, labels 0-4 plus 255 ignore. The split is by TILE,
so no test pixel's neighbourhood is seen in training; tile 2 is the smallest tile with every
class in good numbers.
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "dubai_aerial" / "geotiff"
TRAIN_TILES = (1, 3, 4, 5, 7)
TEST_TILES = (2,)
CLASS_NAMES = ["building", "land", "road", "vegetation", "water"]
CLASS_COLORS = [[60, 16, 152], [132, 41, 246], [110, 193, 228], [254, 221, 58], [226, 169, 41]]


def label_of(image: str | Path) -> Path:
    """The label raster beside an ``*_image.tif``."""
    image = Path(image)
    return image.with_name(image.name.replace("_image.tif", "_label.tif"))


def tile_pairs(tiles, per_tile: int = 0) -> tuple[list[str], list[str]]:
    """(images, labels) of the given tiles, sorted (the first ``per_tile`` of each tile when
    set); raises when the data is missing."""
    images, labels = [], []
    for tile in tiles:
        found = sorted(DATA.glob(f"tile_{tile}_*_image.tif"))
        if not found:
            raise SystemExit(f"no images of tile {tile} in {DATA}; see ../shared/data/README.md")
        if per_tile:
            found = found[:per_tile]
        images += [str(image) for image in found]
        labels += [str(label_of(image)) for image in found]
    return images, labels


def score_test_tiles(model: str | Path, folder: Path, device: str = "cpu", threads: int = 0, feedback=None) -> float:
    """Pooled mIoU (%) of an ONNX model on the test tile(s), each image segmented whole through
    the engine (what rsseg:segment and rsseg:evaluate run). Predictions are written in
    ``folder`` and deleted with their side-cars once scored."""
    import numpy as np

    from engine.evaluate import add_confusion, evaluate_rasters
    from engine.metrics import scores_from_confusion
    from engine.progress import RunFeedback
    from engine.segment import segment_raster

    feedback = feedback or RunFeedback(log=lambda _m: None)
    total = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    for image, label in zip(*tile_pairs(TEST_TILES)):
        prediction = Path(folder) / (Path(image).stem + "_classes.tif")
        segment_raster(image, str(model), str(prediction), device=device, threads=threads, feedback=feedback)
        total = add_confusion(total, evaluate_rasters(prediction, label, None, None, feedback=feedback).confusion)
        for path in (prediction, prediction.with_name(prediction.name + ".aux.xml")):
            path.unlink(missing_ok=True)
    return 100.0 * float(scores_from_confusion(total)["miou"])
