"""A small synthetic land-cover scene for the SDCluster tests: blocks of a few textures.

Each class has its own colour *and* texture (smooth, stripes, speckle), laid out in
random blocks, so a clustering that works separates them and the label raster tells
how well. Written as uint8 GeoTIFFs like real imagery.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASS_COLOURS = np.array([[40, 110, 50], [200, 190, 150], [60, 80, 160]], dtype=np.float32)


def make_scene(size: int = 128, block: int = 32, seed: int = 0, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(3, size, size) uint8 image and (size, size) uint8 labels."""
    rng = np.random.default_rng(seed)
    n = -(-size // block)
    layout = rng.integers(0, classes, size=(n, n))
    layout.flat[:classes] = np.arange(classes)          # every class present
    labels = np.kron(layout, np.ones((block, block), dtype=np.int64))[:size, :size]
    yy, xx = np.mgrid[0:size, 0:size]
    textures = [
        rng.normal(0, 6, (size, size)),                                   # smooth vegetation
        18 * np.sign(np.sin(xx * 2 * np.pi / 6)) + rng.normal(0, 4, (size, size)),  # stripes (fields)
        rng.normal(0, 30, (size, size)),                                  # speckle (roofs)
    ]
    image = np.zeros((3, size, size), dtype=np.float32)
    for k in range(classes):
        mask = labels == k
        for b in range(3):
            image[b][mask] = CLASS_COLOURS[k % 3, b] + textures[k % 3][mask]
    return np.clip(image, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_scene(folder: Path, size: int = 128, block: int = 32, seed: int = 0) -> tuple[Path, Path]:
    """The scene as ``scene_image.tif`` and ``scene_label.tif`` (1 m pixels, EPSG:32640)."""
    import rasterio
    from rasterio.transform import from_origin

    image, labels = make_scene(size, block, seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "scene_image.tif", folder / "scene_label.tif"
    for path, data, extra in ((paths[0], image, {}), (paths[1], labels[None], {"nodata": 255})):
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=data.shape[0], dtype="uint8",
                           crs="EPSG:32640", transform=from_origin(500000.0, 2800000.0, 1.0, 1.0), **extra) as dst:
            dst.write(data)
    return paths
