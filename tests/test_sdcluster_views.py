"""Two overlapping views and their alignment: the same ground lands in the same cell.

The patch holds its own pixel coordinates (band 0 = x, band 1 = y of the pixel centre),
so after cropping, flipping, "encoding" (average pooling, like a strided network) and
aligning, every cell must read the coordinates of the ground it covers, in both views.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from training.data.augment import crop_resize
from training.methods.overlap_views import (
    align_to_overlap,
    box_area,
    intersection,
    make_view_pair,
    overlapping_boxes,
)

SIZE = 64


def coordinate_patch(n: int, size: int = SIZE) -> torch.Tensor:
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([x, y]).expand(n, 2, size, size).clone()


def expected_cells(common: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, 2, grid, grid) patch coordinates of the overlap's cell centres."""
    t = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid
    xs = common[:, 0:1] + t[None] * (common[:, 2:3] - common[:, 0:1])
    ys = common[:, 1:2] + t[None] * (common[:, 3:4] - common[:, 1:2])
    return torch.stack([xs[:, None, :].expand(-1, grid, -1), ys[:, :, None].expand(-1, -1, grid)], dim=1)


def test_known_crop_and_flip_map_same_ground_to_same_cell():
    torch.set_num_threads(1)
    patch = coordinate_patch(2)
    boxes1 = torch.tensor([[0.0, 0.0, 0.75, 0.75], [0.5, 0.25, 1.0, 0.75]])
    boxes2 = torch.tensor([[0.25, 0.25, 1.0, 1.0], [0.0, 0.0, 0.75, 1.0]])
    flips1 = torch.tensor([False, True])
    flips2 = torch.tensor([True, False])
    views = []
    for boxes, flips in ((boxes1, flips1), (boxes2, flips2)):
        v = crop_resize(patch, boxes, SIZE)
        views.append(torch.where(flips.view(-1, 1, 1, 1), v.flip(-1), v))
    # a flipped view really is mirrored: its left column holds the box's right edge
    assert views[0][1, 0, 0, 0] > views[0][1, 0, 0, -1]
    maps = [F.avg_pool2d(v, 8) for v in views]                     # a stride-8 "network"
    grid = 8
    a1 = align_to_overlap(maps[0], boxes1, boxes2, flips1, grid)
    a2 = align_to_overlap(maps[1], boxes2, boxes1, flips2, grid)
    want = expected_cells(intersection(boxes1, boxes2), grid)
    inner = (..., slice(1, -1), slice(1, -1))
    # inside the overlap, resampling a linear ramp is exact: same ground, same cell
    assert (a1 - a2)[inner].abs().max() < 1e-4, (a1 - a2).abs().max()
    assert (a1 - want)[inner].abs().max() < 1e-4
    assert (a2 - want)[inner].abs().max() < 1e-4
    # on the overlap's rim a cell can reach past the map's last cell centre, where sampling
    # clamps (as roi_align does): off by at most half a map cell (1/16 of a view here)
    assert (a1 - a2).abs().max() <= 0.75 / 16 + 1e-6
    # without un-flipping, the flipped view would disagree by far more than a pixel
    wrong = align_to_overlap(maps[0], boxes1, boxes2, torch.zeros(2, dtype=torch.bool), grid)
    assert (wrong[1] - want[1]).abs().max() > 0.1


def test_random_pairs_overlap_and_align():
    generator = torch.Generator().manual_seed(3)
    patch = coordinate_patch(16)
    pair = make_view_pair(patch, SIZE, (0.25, 1.0), 0.02, 0.5, generator=generator)
    b1, b2 = pair.boxes
    assert torch.all(box_area(intersection(b1, b2)) >= 0.02)
    assert torch.all((b1[:, 2:] - b1[:, :2]) > 0) and torch.all(b1 >= 0) and torch.all(b1 <= 1)
    assert pair.flips[0].any() and not pair.flips[0].all()          # both cases exercised
    a1 = align_to_overlap(F.avg_pool2d(pair.views[0], 4), b1, b2, pair.flips[0], 16)
    a2 = align_to_overlap(F.avg_pool2d(pair.views[1], 4), b2, b1, pair.flips[1], 16)
    want = expected_cells(intersection(b1, b2), 16)
    inner = (..., slice(1, -1), slice(1, -1))
    # exact up to the crop's own clamp within half a patch pixel of the patch edge
    assert (a1 - want)[inner].abs().max() < 0.5 / SIZE
    assert (a2 - want)[inner].abs().max() < 0.5 / SIZE
    assert (a1 - a2).abs().max() <= 0.5 / 16 + 1e-6               # rim: half a map cell


def test_impossible_overlap_falls_back_to_identical_boxes():
    first, second = overlapping_boxes(8, scale=(0.01, 0.01), min_overlap=0.009,
                                      generator=torch.Generator().manual_seed(0), max_tries=2)
    assert torch.all(box_area(intersection(first, second)) >= 0.009 - 1e-6)
