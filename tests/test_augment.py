"""Batch augmentations: shapes, label consistency, reproducibility, and what each one does."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.data.augment import (
    add_noise,
    crop_resize,
    flip_rotate,
    gaussian_blur,
    jitter_bands,
    random_grayscale,
    random_resized_crop,
)

torch.set_num_threads(1)


def _batch(b=6, c=4, h=16, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, h, w, generator=g)


def test_flip_rotate_moves_label_with_image():
    x = _batch(c=2)
    # label = a function of the pixel values, so any mismatch of transforms shows
    label = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    y, z = flip_rotate(x, label, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and z.shape == label.shape
    assert torch.equal(z, (y[:, 0] > 0).long() + 2 * (y[:, 1] > 0).long())
    # each sample is one of the 8 symmetries of its input
    for i in range(x.shape[0]):
        candidates = []
        for k in range(4):
            r = torch.rot90(x[i], k, dims=(-2, -1))
            candidates += [r, r.flip(-1)]
        assert any(torch.equal(y[i], cand) for cand in candidates)
    # and with 16 samples, not all are left unchanged
    x16 = _batch(b=16)
    y16, none = flip_rotate(x16, generator=torch.Generator().manual_seed(3))
    assert none is None and not torch.equal(y16, x16)


def test_flip_rotate_non_square_keeps_shape():
    x = _batch(h=8, w=12)
    y, _ = flip_rotate(x, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape


def test_same_generator_seed_repeats():
    x = _batch()
    for fn in (
        lambda g: flip_rotate(x, generator=g)[0],
        lambda g: jitter_bands(x, hue=0.1, generator=g),
        lambda g: gaussian_blur(x, generator=g),
        lambda g: add_noise(x, generator=g),
        lambda g: random_resized_crop(x, 8, generator=g)[0],
    ):
        a = fn(torch.Generator().manual_seed(5))
        b = fn(torch.Generator().manual_seed(5))
        c = fn(torch.Generator().manual_seed(6))
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_jitter_is_per_band_and_respects_p():
    x = _batch(c=5)
    assert torch.equal(jitter_bands(x, p=0.0, generator=torch.Generator().manual_seed(0)), x)
    y = jitter_bands(x, brightness=0.4, contrast=0.0, saturation=0.0, p=1.0, generator=torch.Generator().manual_seed(0))
    shift = (y - x).mean(dim=(2, 3))                       # brightness = per-band offset
    assert torch.allclose((y - x), shift[:, :, None, None].expand_as(x), atol=1e-5)
    assert shift.abs().max() <= 0.4 + 1e-6
    assert not torch.allclose(shift[:, 0], shift[:, 1])     # bands differ
    z = jitter_bands(x, brightness=0.0, contrast=0.5, saturation=0.0, p=1.0, generator=torch.Generator().manual_seed(0))
    # contrast keeps the per-sample band mean and scales the spread
    assert torch.allclose(z.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=1e-5)
    ratio = z.std(dim=(2, 3)) / x.std(dim=(2, 3))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 1.5 + 1e-4


def test_jitter_saturation_and_hue():
    x = _batch(c=3)
    grey = x.mean(dim=1, keepdim=True)
    y = jitter_bands(x, brightness=0, contrast=0, saturation=0.0, hue=0.25, p=1.0,
                     generator=torch.Generator().manual_seed(0))
    # a rotation about the grey axis keeps the grey component and the colour magnitude
    assert torch.allclose(y.mean(dim=1, keepdim=True), grey, atol=1e-5)
    assert torch.allclose((y - grey).norm(dim=1), (x - grey).norm(dim=1), atol=1e-4)
    assert not torch.allclose(y, x)
    # hue ignored for 4 bands
    x4 = _batch(c=4)
    assert torch.equal(jitter_bands(x4, brightness=0, contrast=0, saturation=0, hue=0.3, p=1.0), x4)
    # one band: saturation is a no-op, works without error
    x1 = _batch(c=1)
    assert torch.equal(jitter_bands(x1, brightness=0, contrast=0, saturation=0.5, p=1.0), x1)


def test_random_grayscale_rgb_only():
    x = _batch(c=3)
    y = random_grayscale(x, p=1.0)
    assert torch.allclose(y, x.mean(dim=1, keepdim=True).expand_as(x))
    x4 = _batch(c=4)
    assert random_grayscale(x4, p=1.0) is x4


def test_gaussian_blur_smooths_and_p_zero_is_identity():
    x = _batch(c=2, h=24, w=24)
    y = gaussian_blur(x, sigma_range=(1.0, 2.0), p=1.0, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert (y.std(dim=(2, 3)) < x.std(dim=(2, 3))).all()
    assert torch.allclose(y.mean(), x.mean(), atol=0.05)
    z = gaussian_blur(x, p=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z, x, atol=1e-6)


def test_add_noise():
    x = torch.zeros(4, 2, 32, 32)
    y = add_noise(x, std=0.1, p=1.0, generator=torch.Generator().manual_seed(0))
    assert abs(float(y.std()) - 0.1) < 0.01
    assert torch.equal(add_noise(x, p=0.0), x)


def test_crop_resize_exact_slices():
    x = _batch(c=3, h=16, w=16)
    full = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(x.shape[0], 1)
    assert torch.allclose(crop_resize(x, full, 16), x, atol=1e-5)
    quarter = torch.tensor([[0.5, 0.25, 1.0, 0.75]]).repeat(x.shape[0], 1)
    assert torch.allclose(crop_resize(x, quarter, (8, 8)), x[:, :, 4:12, 8:16], atol=1e-5)


def test_random_resized_crop_boxes():
    x = _batch(b=32, c=2, h=32, w=32)
    crops, boxes = random_resized_crop(x, (12, 10), scale=(0.2, 0.6), generator=torch.Generator().manual_seed(0))
    assert crops.shape == (32, 2, 12, 10) and boxes.shape == (32, 4)
    assert (boxes >= 0).all() and (boxes <= 1 + 1e-6).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert area.min() >= 0.2 - 1e-3 and area.max() <= 0.6 + 1e-3
    # the crops are what crop_resize makes of the boxes
    assert torch.allclose(crops, crop_resize(x, boxes, (12, 10)))
