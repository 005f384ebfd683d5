"""A tiny PNG writer (zlib + struct) so diagnostics need no imaging library."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an (H, W, 3) or (H, W) uint8 array as an RGB or grey PNG, atomically."""
    array = np.ascontiguousarray(image)
    if array.dtype != np.uint8:
        raise ValueError("write_png expects uint8 pixels")
    if array.ndim == 2:
        color_type, channels = 0, 1
    elif array.ndim == 3 and array.shape[2] == 3:
        color_type, channels = 2, 3
    else:
        raise ValueError(f"write_png expects (H, W) or (H, W, 3), got {array.shape}")
    height, width = array.shape[:2]
    rows = array.reshape(height, width * channels)
    raw = b"".join(b"\x00" + rows[r].tobytes() for r in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    payload = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
               + chunk(b"IEND", b""))
    return atomic_write_bytes(path, payload)


def stretch_to_rgb(bands: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """(C, H, W) numbers -> (H, W, 3) uint8 for display: first three bands (or one as grey),
    each stretched between its ``low`` and ``high`` percentiles."""
    data = np.asarray(bands, dtype=np.float32)
    picked = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    out = np.empty(picked.shape[1:] + (3,), dtype=np.uint8)
    for i in range(3):
        lo, hi = np.percentile(picked[i], [low, high])
        out[..., i] = np.clip((picked[i] - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    return out


def label_to_rgb(labels: np.ndarray, colors: list[tuple[int, int, int]]) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 using ``colors`` (ids beyond it are black)."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    for i, c in enumerate(colors[:256]):
        lut[i] = c
    return lut[np.clip(labels, 0, 255).astype(np.uint8)]
