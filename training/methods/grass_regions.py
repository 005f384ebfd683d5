"""GraSS's gradient-guided region choice: where did the contrastive loss look?

Given the last feature map F (B, C, h, w) of each view and the gradient dL/dF of the
contrastive loss, the authors' code (``GraSS_train_step.py``: ``getHeadMapCut`` and
``DACrop``) builds a Grad-CAM-like map and keeps one box per view:

1. channel weights  w_c = spatial mean of dL/dF_c;
2. map              M = mean_c(w_c * F_c), divided by each sample's own max (sign included;
   ``sign='absolute'`` uses |M| instead, an option of ours);
3. upsampled to the view size (bilinear), thresholded at min + ratio * (max - min);
4. the 8-connected component holding the map's maximum; its bounding box;
5. (in :func:`training.methods.grass.crop_views`, which the training step calls) that box
   is cropped from the view and resized back to the view size; a view whose map has no
   component (a flat map) gets the whole view as its box.

Connected components without scipy/skimage: we only ever need the component holding the
maximum, so instead of labelling every component we flood-fill from the argmax pixel by
repeated 3x3 max-pooling restricted to the mask (8-neighbour growth). This runs on all
views of a batch at once, on the GPU when training runs there; the number of iterations is
the component's geodesic radius (a few tens at 64-224 px for the blob-like regions a
smooth upsampled map gives).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gradient_map(features: torch.Tensor, grads: torch.Tensor, sign: str = "signed") -> torch.Tensor:
    """(B, C, h, w) features and dL/dfeatures -> (B, h, w) map, divided by its own maximum.

    ``sign="signed"`` is the authors' code: M / max(M), sign included, so a map that is
    negative everywhere is flipped (its most negative cell becomes the hottest).
    ``"absolute"`` uses |M| / max|M|: where the features influence the loss most, in
    either direction (see docs/grass.md for why this option exists). A map whose maximum
    is 0 (or not finite) becomes all zeros, which :func:`select_boxes` treats as "no
    region" instead of producing NaNs.
    """
    weights = grads.mean(dim=(2, 3), keepdim=True)              # w_c
    maps = (weights * features).mean(dim=1)                     # mean_c(w_c * F_c)
    if sign == "absolute":
        maps = maps.abs()
    elif sign != "signed":
        raise ValueError(f"MAP_SIGN must be 'signed' or 'absolute', got {sign!r}")
    peak = maps.flatten(1).max(dim=1).values.view(-1, 1, 1)
    usable = torch.isfinite(peak) & (peak.abs() > 1e-12)
    return torch.where(usable, maps / torch.where(usable, peak, torch.ones_like(peak)), torch.zeros_like(maps))


def upsample_maps(maps: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """(B, h, w) -> (B, H, W) bilinear (half-pixel centres, as cv2.resize in the authors' code)."""
    if isinstance(size, int):
        size = (size, size)
    return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


def component_of_max(mask: torch.Tensor, seed_index: torch.Tensor, max_iterations: int | None = None) -> torch.Tensor:
    """8-connected component of ``mask`` (B, H, W bool) containing the pixel at flat
    index ``seed_index`` (B,), by flood fill; all False where the seed is not in the mask."""
    b, h, w = mask.shape
    region = torch.zeros(b, h * w, dtype=torch.bool, device=mask.device)
    region[torch.arange(b, device=mask.device), seed_index] = True
    region = region.view(b, h, w) & mask
    allowed = mask.unsqueeze(1).float()
    current = region.unsqueeze(1).float()
    limit = max_iterations or h * w
    done = 0
    while done < limit:
        previous = current
        for _ in range(4):  # check convergence every 4 steps: fewer device synchronisations
            current = F.max_pool2d(current, 3, stride=1, padding=1) * allowed
        done += 4
        if torch.equal(current, previous):
            break
    return current.squeeze(1) > 0


def select_boxes(maps: torch.Tensor, ratio: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """One box per map: bounding box of the thresholded component holding the maximum.

    Returns ``boxes`` (B, 4) long as (row0, col0, row1, col1), end-exclusive, and ``found``
    (B,) bool; where nothing passes the threshold (flat or non-finite map) ``found`` is
    False and the box is the whole map.
    """
    b, h, w = maps.shape
    flat = maps.flatten(1)
    finite = torch.isfinite(flat).all(dim=1)
    flat = torch.where(torch.isfinite(flat), flat, torch.zeros_like(flat))
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    threshold = low + ratio * (high - low)
    mask = flat > threshold.unsqueeze(1)                       # strict, as the code's ">"
    seed = flat.argmax(dim=1)
    region = component_of_max(mask.view(b, h, w), seed)
    found = region.flatten(1).any(dim=1) & finite
    rows = region.any(dim=2)                                   # (B, H)
    cols = region.any(dim=1)                                   # (B, W)
    boxes = torch.stack([
        _first_true(rows, h), _first_true(cols, w),
        h - _first_true(rows.flip(1), h), w - _first_true(cols.flip(1), w),
    ], dim=1)
    whole = torch.tensor([0, 0, h, w], device=maps.device).expand(b, 4)
    return torch.where(found.unsqueeze(1), boxes, whole), found


def _first_true(flags: torch.Tensor, length: int) -> torch.Tensor:
    """Index of the first True per row (``length`` if none)."""
    index = torch.arange(length, device=flags.device).expand_as(flags)
    return torch.where(flags, index, torch.full_like(index, length)).min(dim=1).values


def scale_boxes(boxes: torch.Tensor, from_size: tuple[int, int], to_size: tuple[int, int]) -> torch.Tensor:
    """Boxes on an (h, w) grid -> the pixels of an (H, W) view those cells cover."""
    (h, w), (view_h, view_w) = from_size, to_size
    r0 = torch.div(boxes[:, 0] * view_h, h, rounding_mode="floor")
    c0 = torch.div(boxes[:, 1] * view_w, w, rounding_mode="floor")
    r1 = torch.div(boxes[:, 2] * view_h + h - 1, h, rounding_mode="floor")
    c1 = torch.div(boxes[:, 3] * view_w + w - 1, w, rounding_mode="floor")
    return torch.stack([r0, c0, r1, c1], dim=1)


def region_boxes(
    maps: torch.Tensor, view_size: tuple[int, int], ratio: float = 0.5, resolution: str = "view"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes in view pixels from (B, h, w) gradient maps.

    ``resolution="view"`` thresholds the map upsampled to the view, as the authors' code;
    ``"feature"`` thresholds the h x w map itself and scales the box to the view (cheaper,
    coarser: boxes snap to the encoder's 32-pixel cells).
    """
    if resolution == "view":
        return select_boxes(upsample_maps(maps, view_size), ratio)
    if resolution == "feature":
        boxes, found = select_boxes(maps, ratio)
        return scale_boxes(boxes, tuple(maps.shape[1:]), view_size), found
    raise ValueError(f"REGION_RESOLUTION must be 'view' or 'feature', got {resolution!r}")

