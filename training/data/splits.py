"""Train / validation split by spatial blocks, and the LABEL_FRACTION subset.

Neighbouring pixels of a scene are nearly copies of each other, so a random pixel or
random patch split puts almost the same image in both sets and inflates validation
scores. Each image is instead cut into square blocks (``block_size`` pixels) and whole
blocks go to validation, chosen by a seeded RNG. Patches are tiles *inside* one block,
so no window ever crosses from one set into the other.

Inside the training blocks, the labelled tiles (a non-overlapping grid of patch-size
tiles, the last one shifted to end at the block edge) are the units of LABEL_FRACTION:
only that share of them is kept, chosen by the seed, so a few-label experiment is
reproducible and its labels never leak through overlapping windows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from training.data.labels import LabeledPair, PatchWindow, open_label, read_label


@dataclass(frozen=True)
class Block:
    """A rectangle of one pair's pixel grid (``pair`` index, corner, size)."""

    pair: int
    col: int
    row: int
    width: int
    height: int


@dataclass
class Split:
    """Windows of each set and the class pixel counts they hold."""

    train: list[PatchWindow]
    val: list[PatchWindow]
    train_blocks: list[Block]
    val_blocks: list[Block]
    train_histogram: np.ndarray                      # (256,) label pixel counts of kept training tiles
    val_histogram: np.ndarray                        # (256,) of validation tiles
    labelled_train_tiles: int                        # before LABEL_FRACTION
    notes: list[str] = field(default_factory=list)   # things the user should read in the log

    def classes_only_in_validation(self, ignore_index: int = 255) -> list[int]:
        """Class ids that validation holds but training never sees (a warning, not an error)."""
        return [
            int(k) for k in np.flatnonzero(self.val_histogram)
            if k != ignore_index and self.train_histogram[k] == 0
        ]


def axis_segments(length: int, block: int, patch: int) -> list[tuple[int, int]]:
    """(start, size) of the blocks along one axis; a remainder shorter than a patch joins
    the previous block, so every block holds at least one patch. Empty when length < patch."""
    if length < patch:
        return []
    starts = list(range(0, length, block))
    segments = [(s, min(block, length - s)) for s in starts]
    if len(segments) > 1 and segments[-1][1] < patch:
        last = segments.pop()
        start, size = segments.pop()
        segments.append((start, size + last[1]))
    return segments


def make_blocks(pairs: Sequence[LabeledPair], block_size: int, patch_size: int) -> list[Block]:
    """All blocks of all pairs, in a fixed order (pair, row, col)."""
    blocks = []
    for index, pair in enumerate(pairs):
        for row, height in axis_segments(pair.height, block_size, patch_size):
            for col, width in axis_segments(pair.width, block_size, patch_size):
                blocks.append(Block(index, col, row, width, height))
    return blocks


def tile_offsets(size: int, patch: int) -> list[int]:
    """Tile starts covering [0, size): a grid of ``patch``, the last tile flush with the end."""
    offsets = list(range(0, size - patch + 1, patch))
    if offsets and offsets[-1] + patch < size:
        offsets.append(size - patch)
    return offsets


def tiles_in_block(block: Block, patch: int) -> list[PatchWindow]:
    """The patch windows that tile a validation block without leaving its edges out."""
    return [
        PatchWindow(block.pair, block.col + dx, block.row + dy, patch)
        for dy in tile_offsets(block.height, patch)
        for dx in tile_offsets(block.width, patch)
    ]


def choose_validation(n_blocks: int, val_fraction: float, seed: int) -> np.ndarray:
    """(n_blocks,) bool, True for validation blocks: ``round(val_fraction * n)`` of them,
    at least one and at most n - 1 when a validation set is asked for and possible."""
    chosen = np.zeros(n_blocks, dtype=bool)
    if val_fraction <= 0 or n_blocks < 2:
        return chosen
    n_val = int(min(n_blocks - 1, max(1, round(val_fraction * n_blocks))))
    rng = np.random.default_rng([seed, 7919])
    chosen[rng.permutation(n_blocks)[:n_val]] = True
    return chosen


def keep_fraction(n_items: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of the ``fraction`` of ``n_items`` kept (at least one), seeded."""
    if fraction >= 1.0 or n_items == 0:
        return np.arange(n_items)
    n_keep = max(1, int(round(fraction * n_items)))
    rng = np.random.default_rng([seed, 104729])
    return np.sort(rng.permutation(n_items)[:n_keep])


def split_patches(
    pairs: Sequence[LabeledPair],
    patch_size: int,
    block_size: int,
    val_fraction: float,
    label_fraction: float = 1.0,
    seed: int = 0,
    ignore_index: int = 255,
) -> Split:
    """Blocks -> validation/training, tiles inside them, tiles without labels dropped,
    LABEL_FRACTION applied to the training tiles."""
    notes: list[str] = []
    if block_size < patch_size:
        notes.append(f"SPLIT_BLOCK_SIZE {block_size} is smaller than PATCH_SIZE {patch_size}: using {patch_size}")
        block_size = patch_size
    blocks = make_blocks(pairs, block_size, patch_size)
    if not blocks:
        smallest = min(pairs, key=lambda p: min(p.width, p.height))
        raise ValueError(
            f"PATCH_SIZE {patch_size} is larger than every image (e.g. {smallest.image.name}, "
            f"{smallest.width}x{smallest.height}); lower PATCH_SIZE"
        )

    # label histogram of every tile, read once per pair
    tiles: list[list[tuple[PatchWindow, np.ndarray]]] = [[] for _ in blocks]
    by_pair: dict[int, list[int]] = {}
    for b, block in enumerate(blocks):
        by_pair.setdefault(block.pair, []).append(b)
    for pair_index, block_ids in by_pair.items():
        with open_label(pairs[pair_index], ignore_index) as source:
            for b in block_ids:
                for window in tiles_in_block(blocks[b], patch_size):
                    counts = np.bincount(read_label(source, window.window, ignore_index).ravel(), minlength=256)[:256]
                    if counts.sum() > counts[ignore_index]:
                        tiles[b].append((window, counts))

    labelled = [b for b in range(len(blocks)) if tiles[b]]
    if not labelled:
        raise ValueError(
            f"LABELS: no {patch_size}x{patch_size} patch holds a labelled pixel; lower PATCH_SIZE or check the labels"
        )
    is_val = choose_validation(len(labelled), val_fraction, seed)
    if val_fraction > 0 and not is_val.any():
        notes.append(
            f"only {len(labelled)} labelled block(s) of {block_size}px: no validation set; "
            "lower SPLIT_BLOCK_SIZE or add imagery to get one (the last epoch is kept)"
        )
    val_ids = [b for b, v in zip(labelled, is_val) if v]
    train_ids = [b for b, v in zip(labelled, is_val) if not v]

    train_tiles = [t for b in train_ids for t in tiles[b]]
    kept = keep_fraction(len(train_tiles), label_fraction, seed)
    train = [train_tiles[i] for i in kept]
    val = [t for b in val_ids for t in tiles[b]]
    hist = lambda items: np.sum([c for _, c in items], axis=0) if items else np.zeros(256, np.int64)
    return Split(
        train=[w for w, _ in train],
        val=[w for w, _ in val],
        train_blocks=[blocks[b] for b in train_ids],
        val_blocks=[blocks[b] for b in val_ids],
        train_histogram=hist(train),
        val_histogram=hist(val),
        labelled_train_tiles=len(train_tiles),
        notes=notes,
    )
