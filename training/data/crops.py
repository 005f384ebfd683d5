"""Random training crops anywhere inside the labelled training area.

A fixed grid of tiles shows the network the same few windows again and again (and with
little labelled imagery, a handful of tiles is the whole training set). Instead, every
optimiser step draws fresh crops: a kept label tile is chosen, then a pixel inside it,
and the crop is centred on that pixel, slid inside the image, and slid back inside the
tile's own block when it would touch a validation block. So

* every labelled pixel of the training area can be at any position of a crop (all of
  them are covered: ``tests/test_finetune_crops.py`` checks it), crops cross freely
  between training blocks and never touch a validation block;
* labels outside the kept tiles (LABEL_FRACTION < 1) are masked to the ignore value in
  every crop: imagery around a kept tile is seen, its unselected labels never count;
* a crop depends only on (seed, rank, crop index), so a resumed run reads exactly the
  crops an uninterrupted run would have read, and DataLoader workers need no shared state.

Each crop also gets one of the eight symmetries of the square (flips, quarter turns),
drawn from the same seeded generator: overhead imagery has no "up"; and a random
brightness/contrast change (COLOR_JITTER): scenes differ in radiometry far more than one
labelled image shows (the Dubai tile 1 has a mean grey of 190, tile 2 of 105), and a
network that never saw a darker scene calls dark land water.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from training.data.labels import LabeledPatchDataset, PatchWindow
from training.data.splits import Block


@dataclass(frozen=True)
class CropRegion:
    """A kept label tile, the training block holding it, the image size and the validation
    blocks of its image (crops may cross into neighbouring training blocks, never into these)."""

    tile: PatchWindow
    block: Block
    image_size: tuple[int, int]
    val_blocks: tuple[Block, ...] = ()


def crop_regions(tiles: Sequence[PatchWindow], blocks: Sequence[Block], image_sizes: Sequence[tuple[int, int]],
                 val_blocks: Sequence[Block] = ()) -> list[CropRegion]:
    """Pair every kept training tile with its block (tiles are always inside one block)."""
    by_pair: dict[int, list[Block]] = {}
    for block in blocks:
        by_pair.setdefault(block.pair, []).append(block)
    regions = []
    for tile in tiles:
        for block in by_pair.get(tile.pair, []):
            if _inside(tile.col, tile.row, tile.size, tile.size, block):
                held_out = tuple(b for b in val_blocks if b.pair == tile.pair)
                regions.append(CropRegion(tile, block, tuple(image_sizes[tile.pair]), held_out))
                break
        else:
            raise ValueError(f"internal: training tile {tile} lies in no training block")
    return regions


def _inside(col: int, row: int, width: int, height: int, block: Block) -> bool:
    return (block.col <= col and col + width <= block.col + block.width
            and block.row <= row and row + height <= block.row + block.height)


def _overlaps(col: int, row: int, size: int, block: Block) -> bool:
    return not (col + size <= block.col or block.col + block.width <= col
                or row + size <= block.row or block.row + block.height <= row)


def draw_crop(regions: Sequence[CropRegion], size: int, rng: np.random.Generator) -> PatchWindow:
    """A ``size`` crop centred on a random pixel of a random kept tile.

    The crop is slid inside the image; if it then touches a validation block it is slid
    inside the tile's own block instead (which still holds the chosen pixel), so crops use
    the whole training area, across block edges, without ever reading validation pixels.
    """
    region = regions[int(rng.integers(len(regions)))]
    tile, block = region.tile, region.block
    centre_col = tile.col + int(rng.integers(tile.size))
    centre_row = tile.row + int(rng.integers(tile.size))
    width, height = region.image_size
    col = int(np.clip(centre_col - size // 2, 0, width - size))
    row = int(np.clip(centre_row - size // 2, 0, height - size))
    if any(_overlaps(col, row, size, held_out) for held_out in region.val_blocks):
        col = int(np.clip(centre_col - size // 2, block.col, block.col + block.width - size))
        row = int(np.clip(centre_row - size // 2, block.row, block.row + block.height - size))
    return PatchWindow(tile.pair, col, row, size)


def kept_label_mask(window: PatchWindow, tiles: Sequence[PatchWindow]) -> np.ndarray:
    """(size, size) bool: True where a kept tile of the same pair covers the crop."""
    mask = np.zeros((window.size, window.size), dtype=bool)
    for tile in tiles:
        if tile.pair != window.pair:
            continue
        c0, c1 = max(tile.col, window.col), min(tile.col + tile.size, window.col + window.size)
        r0, r1 = max(tile.row, window.row), min(tile.row + tile.size, window.row + window.size)
        if c0 < c1 and r0 < r1:
            mask[r0 - window.row:r1 - window.row, c0 - window.col:c1 - window.col] = True
    return mask


def square_symmetry(image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of the eight flips/quarter turns, the same for image (C, H, W) and label (H, W)."""
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    image, label = np.rot90(image, turns, axes=(1, 2)), np.rot90(label, turns)
    if flip:
        image, label = image[:, :, ::-1], label[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(label)


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness and contrast change of a normalised (C, H, W) crop.

    In band-standard-deviation units: an offset of up to +-``strength`` shared by the bands
    (plus up to +-strength/5 per band, a colour cast) and a gain of exp(+-0.3 x strength).
    """
    if strength <= 0:
        return image
    gain = np.exp(rng.uniform(-0.3, 0.3) * strength)
    offset = rng.uniform(-strength, strength) + rng.uniform(-strength / 5, strength / 5, size=(image.shape[0], 1, 1))
    return (image * gain + offset).astype(np.float32)


class RandomCropDataset(Dataset):
    """Crop ``index`` -> (image (C, P, P) float32, label (P, P) int64), drawn from the seed.

    ``reader`` reads windows (its own window list is unused); ``length`` only sizes the
    dataset for samplers: an index beyond it is still a valid, new crop.
    """

    def __init__(self, reader: LabeledPatchDataset, regions: Sequence[CropRegion], size: int,
                 seed: int, rank: int = 0, length: int = 0, augment: bool = True, jitter: float = 0.0) -> None:
        if not regions:
            raise ValueError("LABELS: no labelled training tile to crop from")
        self.reader, self.regions, self.size = reader, list(regions), size
        self.seed, self.rank, self.length, self.augment, self.jitter = seed, rank, length, augment, jitter
        self.tiles_by_pair: dict[int, list[PatchWindow]] = {}
        for region in self.regions:
            self.tiles_by_pair.setdefault(region.tile.pair, []).append(region.tile)

    def __len__(self) -> int:
        return self.length

    def window(self, index: int) -> PatchWindow:
        """The crop of ``index`` (the same on every call, in every worker)."""
        return draw_crop(self.regions, self.size, np.random.default_rng([self.seed, self.rank, index, 2718]))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.rank, index, 2718])
        window = draw_crop(self.regions, self.size, rng)
        image, label = self.reader.read(window)
        label[~kept_label_mask(window, self.tiles_by_pair.get(window.pair, []))] = self.reader.ignore_index
        if self.augment:
            image, label = square_symmetry(image, label, rng)
            image = color_jitter(image, self.jitter, rng)
        return torch.from_numpy(image), torch.from_numpy(label)

    def close(self) -> None:
        """Close the reader's raster handles."""
        self.reader.close()
