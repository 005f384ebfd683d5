"""PNG pictures that show the user what a pretraining method does, one per method.

The methods decide WHAT to show (their views, regions, clusters or samples, computed by
their own code in :meth:`training.pretrain_loop.PretrainMethod.write_diagnostics`); this
module only draws those arrays and writes the PNG, so the method files hold training logic
only and the drawing code can change without touching them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from engine.model_card import default_color
from engine.png import label_to_rgb, stretch_to_rgb, write_png

GAP = 3  # white pixels between the tiles of a picture


# ---------------------------------------------------------------------- GraSS
def write_grass_png(path: str | os.PathLike, views: torch.Tensor, maps: torch.Tensor, boxes: torch.Tensor,
                    found: torch.Tensor, cropped: torch.Tensor) -> Path:
    """GraSS: per patch, each view, its gradient map, the chosen box and the crop trained on."""
    image = grass_image(views.detach().cpu(), maps.detach().cpu(), boxes.detach().cpu(), found.detach().cpu(),
                        cropped.detach().cpu())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, image)


def colormap(values: np.ndarray) -> np.ndarray:
    """(H, W) numbers -> (H, W, 3) uint8, blue (low) - cyan - yellow - red (high)."""
    v = np.asarray(values, dtype=np.float32)
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    t = np.clip((v - lo) / max(hi - lo, 1e-12), 0, 1)
    stops = np.array([[0, 0, 160], [0, 200, 255], [255, 230, 0], [220, 0, 0]], dtype=np.float32)
    pos = t * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    frac = (pos - i)[..., None]
    return (stops[i] * (1 - frac) + stops[i + 1] * frac).astype(np.uint8)


def draw_box(image: np.ndarray, box, color=(255, 0, 255), scale: int = 1) -> np.ndarray:
    """A copy of ``image`` with the outline of ``box`` (row0, col0, row1, col1) times ``scale``."""
    out = image.copy()
    r0, c0, r1, c1 = (int(v) * scale for v in box)
    r1, c1 = min(r1, out.shape[0]) - 1, min(c1, out.shape[1]) - 1
    t = max(1, scale)
    out[r0:r0 + t, c0:c1 + 1] = color
    out[max(r1 - t + 1, 0):r1 + 1, c0:c1 + 1] = color
    out[r0:r1 + 1, c0:c0 + t] = color
    out[r0:r1 + 1, max(c1 - t + 1, 0):c1 + 1] = color
    return out


def _upscale(image: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def grass_image(views, maps, boxes, found, cropped, gap: int = GAP) -> np.ndarray:
    """Rows = patches; columns per view: view | gradient map | view with box | crop."""
    n = views.shape[0] // 2
    size = views.shape[-1]
    scale = max(1, 96 // size)
    map_up = torch.nn.functional.interpolate(maps.unsqueeze(1).float(), size=views.shape[-2:], mode="bilinear",
                                             align_corners=False).squeeze(1).numpy()
    rows = []
    for i in range(n):
        tiles = []
        for k in (i, i + n):
            rgb = _upscale(stretch_to_rgb(views[k].numpy()), scale)
            boxed = draw_box(rgb, boxes[k].tolist(), scale=scale) if bool(found[k]) else rgb
            tiles += [rgb, _upscale(colormap(map_up[k]), scale), boxed,
                      _upscale(stretch_to_rgb(cropped[k].numpy()), scale)]
        rows.append(_join(tiles, axis=1, gap=gap))
    return _join(rows, axis=0, gap=gap)


def _join(tiles: list[np.ndarray], axis: int, gap: int) -> np.ndarray:
    """Tiles side by side (axis 1) or stacked (axis 0), white ``gap`` pixels between them."""
    out = tiles[0]
    for tile in tiles[1:]:
        shape = (out.shape[0], gap, 3) if axis == 1 else (gap, out.shape[1], 3)
        out = np.concatenate([out, np.full(shape, 255, np.uint8), tile], axis=axis)
    return out


# ---------------------------------------------------------------------- SDCluster
def write_cluster_png(path: str | os.PathLike, patches: torch.Tensor, cluster_ids: torch.Tensor,
                      prototypes: int) -> Path:
    """SDCluster: each patch beside its cluster map, prototype ``k`` in the project's colour ``k``."""
    palette = [default_color(k) for k in range(prototypes)]
    ids = cluster_ids.detach().cpu().numpy()
    rows = [_join([stretch_to_rgb(image), label_to_rgb(clusters, palette)], axis=1, gap=4)
            for image, clusters in zip(patches.detach().cpu().numpy(), ids)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, _join(rows, axis=0, gap=4))


# ---------------------------------------------------------------------- diffusion
def write_samples_png(path: str | os.PathLike, real: torch.Tensor, samples: torch.Tensor, count: int) -> Path:
    """Diffusion: top row real patches, bottom row generated samples (one stretch per row)."""
    rows = [samples_row(real.detach().cpu().numpy(), count), samples_row(samples.detach().cpu().numpy(), count)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, _join(rows, axis=0, gap=4))


def samples_row(images: np.ndarray, count: int) -> np.ndarray:
    """(N, C, H, W) -> one (H, count * (W + 4), 3) strip; one stretch for the whole row so
    the colours of the images can be compared."""
    n, _c, h, w = images.shape
    strip = np.zeros((images.shape[1], h, count * (w + 4)), np.float32)
    for i in range(min(n, count)):
        strip[:, :, i * (w + 4): i * (w + 4) + w] = images[i]
    rgb = stretch_to_rgb(strip)
    for i in range(count):  # white separators
        rgb[:, i * (w + 4) + w: (i + 1) * (w + 4)] = 255
    return rgb
