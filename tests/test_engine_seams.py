"""No seams: class changes along tile borders are as frequent as anywhere else.

Measured with a "real-ish" network (``helpers_onnx.dilated_net``: 63-px receptive field,
zero padding, so border predictions differ as a real network's do) on a smooth synthetic
image. The old 0.02 floor of the blend window made each tile's share jump from 0 to ~9 %
on the line where it starts; that must show here, or the test could not fail.
"""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff
from helpers_onnx import dilated_net
from scipy.ndimage import gaussian_filter

import engine.blending as blending
from engine.progress import RunFeedback
from engine.segment import segment_raster
from engine.tiling import blend_profile, make_grid

SIZE, TILE, OVERLAP = 600, 64, 15.0


def border_excess(classes: np.ndarray, grid) -> float:
    """Class-change rate (percent of neighbouring column pairs) on tile borders minus elsewhere.

    Border pairs are those straddling the first or the last column of any tile's output
    (where one tile's contribution starts or ends).
    """
    width = classes.shape[1]
    changes = (classes[:, 1:] != classes[:, :-1]).mean(axis=0)  # pair x-1|x at index x-1
    edges = {c for c in grid.cols[1:]} | {c + grid.out[1] for c in grid.cols[:-1]}
    border = np.zeros(width - 1, bool)
    for edge in edges:
        for x in (edge - 1, edge):
            if 1 <= x < width:
                border[x - 1] = True
    return 100.0 * (changes[border].mean() - changes[~border].mean())


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seams")
    rng = np.random.default_rng(0)
    field = np.stack([gaussian_filter(rng.standard_normal((SIZE, SIZE)), 4.0) for _ in range(3)])
    image = np.clip(127 + field / field.std() * 50, 0, 255).astype(np.uint8)
    return folder, write_geotiff(folder / "in.tif", image), dilated_net(folder / "net.onnx")


def seam_excess(scene, name: str) -> float:
    folder, raster, model = scene
    out = folder / f"{name}.tif"
    segment_raster(str(raster), str(model), str(out), tile_size=TILE, overlap=OVERLAP,
                   feedback=RunFeedback(log=lambda _m: None))
    with rasterio.open(out) as src:
        classes = src.read(1)
    return border_excess(classes, make_grid(SIZE, SIZE, (TILE, TILE), (TILE, TILE), OVERLAP))


def test_tile_borders_change_class_no_more_than_the_interior(scene):
    assert seam_excess(scene, "default") <= 0.2  # percentage points (issue target: seam_excess <= 0.2)


def test_the_old_floor_made_seams_this_test_sees(scene, monkeypatch):
    monkeypatch.setattr(blending, "blend_profile", lambda n: blend_profile(n, floor=0.02))
    assert seam_excess(scene, "old_floor") > 0.3
