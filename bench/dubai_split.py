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
