"""Batch-level augmentations on normalised imagery, for any number of bands.

Every function takes a (B, C, H, W) float tensor that is already normalised per band
(mean 0, std 1), draws independent random parameters for every sample, and works on
the tensor's device. Randomness comes from an optional :class:`torch.Generator`, so a
method can make its views reproducible; without one, torch's global RNG is used.

Why not torchvision: its colour transforms assume 3-band images in [0, 1] and it does
not load with the CPU torch build used here. Multispectral imagery needs the per-band
versions below (brightness is an offset and contrast a scale, band by band, because the
data are standardised), and RGB-only operations (hue, grayscale) skip other band counts.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "flip_rotate",
    "jitter_bands",
    "random_grayscale",
    "gaussian_blur",
    "add_noise",
    "random_resized_crop",
    "crop_resize",
]


# ----------------------------------------------------------------------------- random draws
def _rand(shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) numbers drawn from ``generator`` (on its device), moved to ``device``."""
    source = generator.device if generator is not None else device
    return torch.rand(tuple(shape), generator=generator, device=source).to(device)


def _uniform(shape: Sequence[int], low: float, high: float, generator, device) -> Tensor:
    return low + (high - low) * _rand(shape, generator, device)


def _bernoulli(n: int, p: float, generator, device) -> Tensor:
    """(n,) bool: True with probability ``p``."""
    return _rand((n,), generator, device) < p


def _check(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"augmentations expect a (B, C, H, W) batch, got shape {tuple(x.shape)}")


# ----------------------------------------------------------------------------- geometry
def flip_rotate(
    x: Tensor, label: Tensor | None = None, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor | None]:
    """Random horizontal flip, vertical flip and k*90 degree rotation, per sample.

    Overhead imagery has no "up", so all eight symmetries of the square are valid
    augmentations. A (B, H, W) ``label`` undergoes the same transform. For non-square
    patches only k in {0, 2} is drawn (a quarter turn would change the shape).
    """
    _check(x)
    b, device = x.shape[0], x.device
    hflip = _bernoulli(b, 0.5, generator, device)
    vflip = _bernoulli(b, 0.5, generator, device)
    turns = (_rand((b,), generator, device) * 4).long().clamp_(max=3)
    if x.shape[-1] != x.shape[-2]:
        turns = (turns // 2) * 2

    def transform(t: Tensor, spatial: tuple[int, int]) -> Tensor:
        view = [-1] + [1] * (t.dim() - 1)
        h_axis, w_axis = spatial
        t = torch.where(hflip.view(view), t.flip(w_axis), t)
        t = torch.where(vflip.view(view), t.flip(h_axis), t)
        out = t.clone()
        for k in (1, 2, 3):
            chosen = turns == k
            if bool(chosen.any()):
                out[chosen] = torch.rot90(t[chosen], k, dims=spatial)
        return out

    y = transform(x, (-2, -1))
    z = None
    if label is not None:
        if label.shape[0] != b or label.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"label shape {tuple(label.shape)} does not match images {tuple(x.shape)}")
        z = transform(label, (-2, -1))
    return y, z


def crop_resize(x: Tensor, boxes: Tensor, out_size: int | Sequence[int]) -> Tensor:
    """Crop each sample to its box and resize it to ``out_size`` (bilinear, grid_sample).

    ``boxes`` is (B, 4) holding normalised [x0, y0, x1, y1] in [0, 1] of the input's
    extent (pixel edges, not centres), so a box [0, 0, 1, 1] at the input size returns the
    input unchanged and a box of exactly k pixels resized to k pixels is a plain slice.
    """
    _check(x)
    out_h, out_w = _size(out_size)
    boxes = boxes.to(device=x.device, dtype=x.dtype)
    if boxes.shape != (x.shape[0], 4):
        raise ValueError(f"boxes must be (B, 4) = ({x.shape[0]}, 4), got {tuple(boxes.shape)}")
    x0, y0, x1, y1 = boxes.unbind(dim=1)
    # affine_grid (align_corners=False) maps output pixel centres to (-1, 1); we want them
    # at x0 + (j + 0.5) / out_w * (x1 - x0) of the input in [0, 1], i.e. 2 * that - 1.
    theta = torch.zeros(x.shape[0], 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = x1 - x0
    theta[:, 0, 2] = x0 + x1 - 1
    theta[:, 1, 1] = y1 - y0
    theta[:, 1, 2] = y0 + y1 - 1
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], out_h, out_w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(
    x: Tensor,
    out_size: int | Sequence[int],
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample random crop (area share in ``scale``, aspect ratio in ``ratio``, log-uniform)
    resized to ``out_size``.

    Returns the crops and their boxes (B, 4) as normalised [x0, y0, x1, y1] of the input,
    which dense methods (SDCluster) need to match pixels between two views. A crop that
    would not fit is clamped to the image, which slightly changes its aspect ratio.
    """
    _check(x)
    b, _, h, w = x.shape
    device = x.device
    area = _uniform((b,), scale[0], scale[1], generator, device) * (h * w)
    log_ratio = _uniform((b,), math.log(ratio[0]), math.log(ratio[1]), generator, device)
    aspect = torch.exp(log_ratio)
    crop_w = torch.sqrt(area * aspect).clamp(1.0, float(w)) / w
    crop_h = torch.sqrt(area / aspect).clamp(1.0, float(h)) / h
    x0 = _rand((b,), generator, device) * (1 - crop_w)
    y0 = _rand((b,), generator, device) * (1 - crop_h)
    boxes = torch.stack([x0, y0, x0 + crop_w, y0 + crop_h], dim=1).to(x.dtype)
    return crop_resize(x, boxes, out_size), boxes


def _size(out_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(out_size, int):
        return out_size, out_size
    h, w = out_size
    return int(h), int(w)


# ----------------------------------------------------------------------------- radiometry
def jitter_bands(
    x: Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.2,
    hue: float = 0.0,
    *,
    p: float = 0.8,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Colour jitter for standardised imagery, independent per sample and per band.

    - brightness: adds an offset in [-brightness, brightness] (units of band std);
    - contrast: scales each band around the sample's band mean by a factor in
      [1 - contrast, 1 + contrast];
    - saturation: blends the bands toward their per-pixel mean ("grey") by a factor in
      [1 - saturation, 1 + saturation] (per sample; no-op for one band);
    - hue: for 3-band imagery only, rotates the colour vector about the grey axis by up to
      ``hue`` of a full turn (torchvision's hue range is [0, 0.5]); ignored otherwise.

    Each sample is jittered with probability ``p``; the others are returned unchanged.
    """
    _check(x)
    b, c = x.shape[:2]
    device, dtype = x.device, x.dtype
    apply = _bernoulli(b, p, generator, device).view(b, 1, 1, 1)
    y = x
    if brightness > 0:
        y = y + _uniform((b, c, 1, 1), -brightness, brightness, generator, device).to(dtype)
    if contrast > 0:
        factor = _uniform((b, c, 1, 1), 1 - contrast, 1 + contrast, generator, device).clamp_min(0).to(dtype)
        mean = y.mean(dim=(2, 3), keepdim=True)
        y = mean + factor * (y - mean)
    if saturation > 0 and c > 1:
        factor = _uniform((b, 1, 1, 1), 1 - saturation, 1 + saturation, generator, device).clamp_min(0).to(dtype)
        grey = y.mean(dim=1, keepdim=True)
        y = grey + factor * (y - grey)
    if hue > 0 and c == 3:
        angle = _uniform((b,), -hue, hue, generator, device) * 2 * math.pi
        y = torch.einsum("bij,bjhw->bihw", _grey_axis_rotation(angle).to(dtype), y)
    return torch.where(apply, y, x)


def _grey_axis_rotation(angle: Tensor) -> Tensor:
    """(B, 3, 3) rotations by ``angle`` about the (1, 1, 1) axis (Rodrigues' formula)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    k = torch.ones(3, device=angle.device, dtype=angle.dtype) / math.sqrt(3.0)
    cross = torch.tensor(
        [[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]], device=angle.device, dtype=angle.dtype
    )
    outer = torch.outer(k, k)
    eye = torch.eye(3, device=angle.device, dtype=angle.dtype)
    return (
        cos.view(-1, 1, 1) * eye
        + sin.view(-1, 1, 1) * cross
        + (1 - cos).view(-1, 1, 1) * outer
    )


def random_grayscale(x: Tensor, p: float = 0.2, *, generator: torch.Generator | None = None) -> Tensor:
    """With probability ``p`` per sample, replace the 3 bands of an RGB image by their mean.

    Grayscale is only meaningful for RGB: any other band count is returned unchanged
    (multispectral bands are not "colours" one can average away).
    """
    _check(x)
    if x.shape[1] != 3:
        return x
    apply = _bernoulli(x.shape[0], p, generator, x.device).view(-1, 1, 1, 1)
    grey = x.mean(dim=1, keepdim=True).expand_as(x)
    return torch.where(apply, grey, x)


def gaussian_blur(
    x: Tensor,
    sigma_range: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Gaussian blur with a per-sample sigma, as one depthwise separable convolution.

    The kernel covers +-3 sigma of the largest sigma (capped by the patch size); samples
    not chosen (probability 1 - p) get a delta kernel, so the whole batch is one conv.
    Borders are reflected.
    """
    _check(x)
    b, c, h, w = x.shape
    device, dtype = x.device, x.dtype
    apply = _bernoulli(b, p, generator, device)
    sigma = _uniform((b,), sigma_range[0], sigma_range[1], generator, device).clamp_min(1e-3)
    radius = max(1, min(int(math.ceil(3 * sigma_range[1])), (min(h, w) - 1) // 2))
    if min(h, w) < 3:
        return x
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets[None, :] / sigma[:, None].float()) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    delta = (offsets == 0).float().expand_as(kernel)
    kernel = torch.where(apply[:, None], kernel, delta).to(dtype)            # (B, K)
    kernel = kernel.repeat_interleave(c, dim=0)                               # (B*C, K)
    k = kernel.shape[1]
    flat = x.reshape(1, b * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(b * c, 1, 1, k), groups=b * c)        # along width
    flat = F.conv2d(flat, kernel.view(b * c, 1, k, 1), groups=b * c)        # along height
    return flat.view(b, c, h, w)


def add_noise(
    x: Tensor, std: float = 0.05, p: float = 0.5, *, generator: torch.Generator | None = None
) -> Tensor:
    """Add gaussian noise of standard deviation ``std`` (band-std units) with probability ``p``."""
    _check(x)
    apply = _bernoulli(x.shape[0], p, generator, x.device).view(-1, 1, 1, 1)
    if generator is None:
        noise = torch.randn_like(x)
    else:
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
    return torch.where(apply, x + std * noise, x)
