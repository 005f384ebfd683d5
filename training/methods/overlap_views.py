"""Two crops of one patch that share ground, and how to line their pixels up again.

SDCluster distils the teacher's cluster assignment of one view into the student's
assignment of the other, pixel by pixel. That needs (1) two crops that overlap enough,
and (2) both assignment maps resampled onto the same grid over their common ground,
with any horizontal flip undone, so that cell (i, j) of both maps sees the same place.
The authors use torchvision's ``roi_align``; here the same resampling is done with
``grid_sample`` (bilinear, sampling at cell centres), which exports and runs everywhere.

Coordinates: a box is [x0, y0, x1, y1] in [0, 1] of the *patch* extent (pixel edges).
A map computed from a view covers exactly that view's box, whatever its resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from training.data.augment import crop_resize


@dataclass
class ViewPair:
    """Two geometric views of a batch, with what is needed to align them."""

    views: tuple[torch.Tensor, torch.Tensor]      # (B, C, S, S) each
    boxes: tuple[torch.Tensor, torch.Tensor]      # (B, 4) each, patch coordinates
    flips: tuple[torch.Tensor, torch.Tensor]      # (B,) bool each: view was mirrored left-right


def random_boxes(
    n: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """(n, 4) random boxes: area share uniform in ``scale``, aspect log-uniform in ``ratio``,
    clamped to the unit square (as torchvision's RandomResizedCrop, without its retries)."""
    def rand(*shape):
        source = generator.device if generator is not None else device
        return torch.rand(shape, generator=generator, device=source).to(device)

    area = scale[0] + (scale[1] - scale[0]) * rand(n)
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * rand(n)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    x0 = rand(n) * (1 - w)
    y0 = rand(n) * (1 - h)
    return torch.stack([x0, y0, x0 + w, y0 + h], dim=1)


def intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 4) common box of two (B, 4) boxes (may be empty: x1 < x0)."""
    return torch.cat([torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])], dim=1)


def box_area(box: torch.Tensor) -> torch.Tensor:
    """(B,) area of (B, 4) boxes, 0 for empty ones."""
    return (box[:, 2] - box[:, 0]).clamp(min=0) * (box[:, 3] - box[:, 1]).clamp(min=0)


def overlapping_boxes(
    n: int,
    scale: tuple[float, float] = (0.25, 1.0),
    min_overlap: float = 0.02,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    max_tries: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (n, 4) box sets whose pairs overlap by at least ``min_overlap`` of the patch.

    Pairs that miss are redrawn; after ``max_tries`` (only for impossible settings, e.g.
    tiny scales and a large overlap) the second box is set to the first, which always
    satisfies the constraint.
    """
    device = torch.device(device)
    first = random_boxes(n, scale, ratio, generator, device)
    second = random_boxes(n, scale, ratio, generator, device)
    for _ in range(max_tries):
        bad = box_area(intersection(first, second)) < min_overlap
        if not bool(bad.any()):
            break
        count = int(bad.sum())
        first[bad] = random_boxes(count, scale, ratio, generator, device)
        second[bad] = random_boxes(count, scale, ratio, generator, device)
    else:
        bad = box_area(intersection(first, second)) < min_overlap
        second[bad] = first[bad]
    return first, second


def make_view_pair(
    batch: torch.Tensor,
    size: int,
    scale: tuple[float, float] = (0.25, 1.0),
    min_overlap: float = 0.02,
    flip_probability: float = 0.5,
    generator: torch.Generator | None = None,
) -> ViewPair:
    """Crop two overlapping views of every patch, resize them to ``size`` and mirror each
    with ``flip_probability``. Photometric changes are left to the caller."""
    n, device = batch.shape[0], batch.device
    boxes = overlapping_boxes(n, scale, min_overlap, generator=generator, device=device)
    views, flips = [], []
    for box in boxes:
        view = crop_resize(batch, box, size)
        source = generator.device if generator is not None else device
        flip = (torch.rand(n, generator=generator, device=source) < flip_probability).to(device)
        views.append(torch.where(flip.view(-1, 1, 1, 1), view.flip(-1), view))
        flips.append(flip)
    return ViewPair((views[0], views[1]), (boxes[0], boxes[1]), (flips[0], flips[1]))


def align_to_overlap(
    maps: torch.Tensor,
    view_boxes: torch.Tensor,
    other_boxes: torch.Tensor,
    flips: torch.Tensor,
    size: int | tuple[int, int],
) -> torch.Tensor:
    """Resample per-view maps (B, C, h, w) onto a ``size`` grid over the overlap of each
    view with the other view, un-flipped: the result is in patch orientation, and calling
    this for both views gives maps whose cell (i, j) covers the same ground.

    Cell centres of the overlap box are expressed in the view's own [0, 1] coordinates
    (mirrored when the view was flipped) and sampled bilinearly, as ``roi_align`` with
    one sample per cell and ``aligned=True`` does.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    boxes = view_boxes.to(maps.dtype)
    common = intersection(boxes, other_boxes.to(maps.dtype))
    width = (boxes[:, 2] - boxes[:, 0]).clamp_min(1e-6)
    height = (boxes[:, 3] - boxes[:, 1]).clamp_min(1e-6)
    # overlap box in view coordinates [0, 1]
    u0 = (common[:, 0] - boxes[:, 0]) / width
    u1 = (common[:, 2] - boxes[:, 0]) / width
    v0 = (common[:, 1] - boxes[:, 1]) / height
    v1 = (common[:, 3] - boxes[:, 1]) / height
    # affine_grid (align_corners=False) places output cell centres at (2j+1)/w - 1 in [-1, 1];
    # we want 2 * (u0 + (j + 0.5)/w * (u1 - u0)) - 1, i.e. scale (u1 - u0) and shift u0 + u1 - 1.
    sign = 1.0 - 2.0 * flips.to(maps.dtype)      # a mirrored view reads x at -x
    theta = torch.zeros(maps.shape[0], 2, 3, dtype=maps.dtype, device=maps.device)
    theta[:, 0, 0] = sign * (u1 - u0)
    theta[:, 0, 2] = sign * (u0 + u1 - 1)
    theta[:, 1, 1] = v1 - v0
    theta[:, 1, 2] = v0 + v1 - 1
    grid = F.affine_grid(theta, [maps.shape[0], maps.shape[1], out_h, out_w], align_corners=False)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)
