"""Fine-tuning data: label resampling, the ignore value, the spatial split and LABEL_FRACTION."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from finetune_scene import tiny_config, write_scene
from helpers import write_geotiff
from rasterio.transform import from_origin

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from engine.progress import RunFeedback
from training.data.labels import (
    LabeledPatchDataset,
    check_labels,
    class_ids_present,
    label_histogram,
    make_pairs,
    open_label,
    read_label,
)
from training.data.rasters import Normalization
from training.data.splits import axis_segments, split_patches, tile_offsets
from training.finetune import prepare_data


def _overlap(a, b) -> bool:
    return not (a.col + a.size <= b.col or b.col + b.size <= a.col
                or a.row + a.size <= b.row or b.row + b.size <= a.row)


def _inside(window, block) -> bool:
    return (block.pair == window.pair
            and block.col <= window.col and window.col + window.size <= block.col + block.width
            and block.row <= window.row and window.row + window.size <= block.row + block.height)


def test_split_has_no_leakage(tmp_path):
    image, label = write_scene(tmp_path, size=200)
    pairs = make_pairs([image], [label])
    split = split_patches(pairs, patch_size=32, block_size=48, val_fraction=0.3, seed=1)
    assert split.train and split.val
    for window in split.train:
        assert any(_inside(window, b) for b in split.train_blocks)
        assert not any(_overlap(window, v) for v in split.val)
    for window in split.val:
        assert any(_inside(window, b) for b in split.val_blocks)
    # blocks partition the image: the remainder 200 - 4*48 = 8 < 32 joined the last block
    assert axis_segments(200, 48, 32) == [(0, 48), (48, 48), (96, 48), (144, 56)]
    assert tile_offsets(56, 32) == [0, 24]
    assert len(split.val_blocks) == round(0.3 * 16)
    # same seed, same split; another seed, another one
    again = split_patches(pairs, 32, 48, 0.3, seed=1)
    other = split_patches(pairs, 32, 48, 0.3, seed=2)
    assert again.val == split.val and other.val != split.val


def test_label_fraction_is_reproducible(tmp_path):
    image, label = write_scene(tmp_path, size=192)
    pairs = make_pairs([image], [label])
    full = split_patches(pairs, 32, 64, 0.25, label_fraction=1.0, seed=3)
    a = split_patches(pairs, 32, 64, 0.25, label_fraction=0.3, seed=3)
    b = split_patches(pairs, 32, 64, 0.25, label_fraction=0.3, seed=3)
    c = split_patches(pairs, 32, 64, 0.25, label_fraction=0.3, seed=4)
    assert a.train == b.train
    assert len(a.train) == round(0.3 * len(full.train)) and set(a.train) <= set(full.train)
    assert a.val == full.val                       # the fraction never touches validation
    assert c.train != a.train
    assert a.labelled_train_tiles == len(full.train)


def test_label_on_another_grid_is_resampled_nearest(tmp_path):
    # image: 1 m pixels in UTM 40N; label: 2 m pixels, shifted by 4 m, in the same CRS
    image = write_geotiff(tmp_path / "img.tif", np.zeros((1, 40, 40), np.uint8),
                          transform=from_origin(500000, 2800000, 1, 1))
    coarse = (np.arange(22 * 22) % 5).reshape(22, 22).astype(np.uint8)
    label = write_geotiff(tmp_path / "lab.tif", coarse, transform=from_origin(499996, 2800004, 2, 2))
    (pair,) = make_pairs([image], [label])
    assert not pair.aligned
    with open_label(pair) as source:
        got = read_label(source, rasterio.windows.Window(0, 0, 40, 40))
    # image pixel (r, c) has its centre at x = 500000 + c + 0.5 -> label column (c + 4.5) // 2
    rows, cols = np.mgrid[0:40, 0:40]
    expected = coarse[(rows + 4.5).astype(int) // 2, (cols + 4.5).astype(int) // 2]
    assert np.array_equal(got, expected)
    # and in another CRS (EPSG:3857 around the same place) it still lands on the image grid
    with rasterio.open(label) as src:
        from rasterio.warp import Resampling, calculate_default_transform, reproject
        transform, width, height = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        warped = np.full((height, width), 255, np.uint8)
        reproject(coarse, warped, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs="EPSG:3857", resampling=Resampling.nearest)
    other = write_geotiff(tmp_path / "lab3857.tif", warped, crs="EPSG:3857", transform=transform, nodata=255)
    (pair2,) = make_pairs([image], [other])
    with open_label(pair2) as source:
        got2 = read_label(source, rasterio.windows.Window(0, 0, 40, 40))
    inner = got2[4:-4, 4:-4]
    assert np.mean(inner == expected[4:-4, 4:-4]) > 0.9
    assert set(np.unique(got2)) <= set(range(5)) | {255}


def test_ignore_value_never_counts(tmp_path):
    image, label_path = write_scene(tmp_path, size=96)
    with rasterio.open(label_path) as src:
        label = src.read(1)
    label[:, :48] = 255                                   # left half unlabelled
    label_path = write_geotiff(tmp_path / "half.tif", label)
    # image nodata pixels also become "ignore"
    with rasterio.open(image) as src:
        pixels = src.read()
    pixels[:, 60:64, 60:64] = 0
    image = write_geotiff(tmp_path / "img_nodata.tif", pixels, nodata=0)
    pairs = make_pairs([image], [label_path])
    hist = label_histogram(pairs[0])
    assert hist[255] == 96 * 48 and 255 not in class_ids_present(hist)
    split = split_patches(pairs, 32, 32, 0.0, seed=0)
    assert all(w.col + w.size > 48 for w in split.train)     # tiles holding only 255 are dropped
    assert split.train_histogram[:255].sum() == int((label != 255).sum())
    dataset = LabeledPatchDataset(pairs, split.train, [1, 2, 3], Normalization((0.0,) * 3, (1.0,) * 3))
    for index in range(len(dataset)):
        img, lab = dataset[index]
        w = split.train[index]
        if w.col <= 60 < w.col + 32 and w.row <= 60 < w.row + 32:
            assert (lab[60 - w.row:64 - w.row, 60 - w.col:64 - w.col] == 255).all()
            assert (img[:, 60 - w.row:64 - w.row, 60 - w.col:64 - w.col] == 0).all()
    dataset.close()
    # a confusion matrix from these labels skips the ignore pixels
    from engine.metrics import confusion_matrix
    cm = confusion_matrix(np.zeros_like(label), label, 3, 255)
    assert cm.sum() == int((label != 255).sum())


def test_label_errors_name_labels(tmp_path):
    image, _ = write_scene(tmp_path, size=64)
    only_ignore = write_geotiff(tmp_path / "ignore.tif", np.full((64, 64), 255, np.uint8))
    with pytest.raises(ValueError, match="LABELS: ignore.tif holds only the ignore value"):
        check_labels(make_pairs([image], [only_ignore]))
    far = write_geotiff(tmp_path / "far.tif", np.ones((64, 64), np.uint8),
                        transform=from_origin(600000, 2900000, 1, 1))
    with pytest.raises(ValueError, match="LABELS: far.tif does not overlap its image"):
        check_labels(make_pairs([image], [far]))
    with pytest.raises(ValueError, match="LABELS: 0 label raster"):
        make_pairs([image], [])
    wrong_size = write_geotiff(tmp_path / "plain.tif", np.ones((10, 10), np.uint8), crs=None)
    with pytest.raises(ValueError, match="LABELS: plain.tif"):
        make_pairs([image], [wrong_size])


def test_prepare_data_messages(tmp_path):
    image, label = write_scene(tmp_path, size=64)
    logs: list[str] = []
    feedback = RunFeedback(log=logs.append)
    # a batch larger than the labelled tiles is fine: crops are drawn at random, not from a fixed grid
    config = tiny_config(image, label, batch_size=16, split_block_size=32, val_fraction=0.25)
    data = prepare_data(config, None, feedback)
    assert len(data.split.train) == 3 and any("3 labelled tile(s) of 32px to crop from" in line for line in logs)
    # class 2 only in the validation block -> a warning, not a crash
    lab = np.zeros((64, 64), np.uint8)
    lab[:, 32:] = 1
    lab[:32, :32] = 0
    lab[32:, 32:] = 2
    only_val = write_geotiff(tmp_path / "only_val.tif", lab)
    for seed in range(20):
        logs.clear()
        data = prepare_data(tiny_config(image, only_val, batch_size=1, split_block_size=32, val_fraction=0.25,
                                        seed=seed), None, feedback)
        if data.split.val_histogram[2] > 0:
            break
    assert data.num_classes == 3
    assert any("appear in validation blocks but not in the training tiles" in line for line in logs)
    assert data.class_names == ["class 0", "class 1", "class 2"]
