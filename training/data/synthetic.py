"""SYNTHETIC imagery with labels, for the demo and tests: no real data, no download.

:func:`make_scene` paints a small rural/suburban landscape the way a 1 m multispectral
sensor (blue, green, red, near-infrared) would see it: field parcels with crop rows, a
river and a lake, a road network, houses with shadows and clumps of trees, each class
with its own reflectance (vegetation bright in NIR, water dark in NIR), then
illumination variation and sensor noise. Everything is drawn from one seed, so the same
call always gives the same rasters. Being synthetic, scores on it say only that the
pipeline works, not how well a method does on real imagery.

:func:`make_texture_scene` makes a few large regions of clearly different textures, the
easy case for unsupervised clustering tests; :func:`paint_block_scene` a grid of blocks of
three colour-and-texture classes, small enough for the pretraining tests.

numpy and rasterio only (no torch): the demo and the engine's tests call it too.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from engine.raster_io import write_category_names

IGNORE = 255
CLASS_NAMES: tuple[str, ...] = ("bare soil", "cropland", "road", "building", "water", "trees")
CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (200, 170, 120),  # bare soil
    (240, 230, 60),   # cropland
    (90, 90, 90),     # road
    (220, 40, 40),    # building
    (30, 110, 220),   # water
    (20, 120, 40),    # trees
)
SOIL, CROP, ROAD, BUILDING, WATER, TREES = range(len(CLASS_NAMES))
BAND_NAMES: tuple[str, ...] = ("blue", "green", "red", "nir")

# Mean digital numbers (0-255) per class and band (blue, green, red, NIR): the shapes of
# typical reflectance spectra, e.g. vegetation has the red edge, water absorbs NIR.
SPECTRA = np.array([
    [105, 112, 124, 140],   # bare soil: rising towards red/NIR
    [45, 80, 50, 190],      # cropland: green peak, strong NIR
    [92, 94, 97, 100],      # road (asphalt): flat, dark-grey
    [150, 150, 152, 150],   # building (concrete roof); tile roofs drawn per house below
    [62, 72, 42, 12],       # water: blue-green, almost no NIR
    [30, 52, 34, 160],      # trees: darker than crops in the visible, high NIR
], dtype=np.float32)
TILE_ROOF = np.array([70, 80, 150, 125], dtype=np.float32)
CRS = "EPSG:32632"                  # UTM zone 32N
ORIGIN = (600000.0, 5300000.0)      # top-left corner, metres


@dataclass(frozen=True)
class SyntheticScene:
    """Paths written and what they hold."""

    image: Path
    labels: Path | None
    class_names: tuple[str, ...]
    class_colors: tuple[tuple[int, int, int], ...]
    class_fractions: tuple[float, ...]   # share of labelled pixels per class


# ----------------------------------------------------------------------------- shapes
def smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field with features about ``scale`` pixels wide, standardised.

    White noise low-pass filtered in the Fourier domain: natural-looking blobs (lakes,
    tree stands, illumination) without scipy.
    """
    h, w = shape
    noise = rng.standard_normal(shape)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    sigma = 1.0 / max(scale, 1.0)
    field = np.fft.irfft2(np.fft.rfft2(noise) * np.exp(-(fx**2 + fy**2) / (2 * sigma**2)), s=shape)
    return (field - field.mean()) / (field.std() + 1e-9)


def _split_parcels(x0, y0, x1, y1, rng, min_size, out):
    """Recursively cut a rectangle into field parcels, like a cadastral map."""
    w, h = x1 - x0, y1 - y0
    if (w < 2 * min_size and h < 2 * min_size) or (min(w, h) < 3 * min_size and rng.random() < 0.3):
        out.append((x0, y0, x1, y1))
        return
    if w >= h:
        cut = int(rng.integers(x0 + min_size, x1 - min_size + 1))
        _split_parcels(x0, y0, cut, y1, rng, min_size, out)
        _split_parcels(cut, y0, x1, y1, rng, min_size, out)
    else:
        cut = int(rng.integers(y0 + min_size, y1 - min_size + 1))
        _split_parcels(x0, y0, x1, cut, rng, min_size, out)
        _split_parcels(x0, cut, x1, y1, rng, min_size, out)


def _distance_to_polyline(yy, xx, points: np.ndarray) -> np.ndarray:
    """Distance of every pixel to a polyline given as (N, 2) (row, col) vertices."""
    best = np.full(yy.shape, np.inf, dtype=np.float32)
    for (r0, c0), (r1, c1) in zip(points[:-1], points[1:]):
        dr, dc = r1 - r0, c1 - c0
        length2 = dr * dr + dc * dc + 1e-9
        t = np.clip(((yy - r0) * dr + (xx - c0) * dc) / length2, 0.0, 1.0)
        d = np.hypot(yy - (r0 + t * dr), xx - (c0 + t * dc))
        np.minimum(best, d, out=best)
    return best


def _curve(rng, h, w, horizontal: bool, wiggle: float, n: int = 24) -> np.ndarray:
    """A gently meandering line across the scene as (n, 2) (row, col) vertices."""
    t = np.linspace(-0.05, 1.05, n)
    phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.6, 1.6)
    offset = rng.uniform(0.25, 0.75)
    across = offset + wiggle * np.sin(2 * np.pi * freq * t + phase) + 0.03 * np.sin(9 * t + phase)
    if horizontal:
        return np.stack([across * h, t * w], axis=1)
    return np.stack([t * h, across * w], axis=1)


# ----------------------------------------------------------------------------- painting
def paint_scene(size: tuple[int, int], bands: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The scene as arrays: image (bands, H, W) uint8 and labels (H, W) uint8 (255 = ignore).

    Layers are painted back to front: soil, fields, water, trees, buildings, roads (roads
    cross water as bridges). Labelling follows the top layer; a one-pixel rim where two
    classes meet is labelled ignore, as many benchmarks do, because mixed pixels there
    have no single true class. Each layer is one helper; they draw from one generator in
    this order, so a seed always paints the same scene.
    """
    if bands < 1:
        raise ValueError(f"bands must be at least 1, got {bands}")
    h, w = size
    if h < 64 or w < 64:
        raise ValueError(f"size must be at least 64x64 pixels, got {h}x{w}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    labels = np.full((h, w), SOIL, dtype=np.uint8)
    spectrum = np.repeat(SPECTRA[SOIL][:, None, None], h, axis=1).repeat(w, axis=2)  # (4, H, W)
    spectrum = spectrum * (1.0 + 0.06 * smooth_noise((h, w), 40, rng))[None]          # soil moisture
    _paint_fields(spectrum, labels, yy, xx, rng)
    water, river, width = _paint_water(spectrum, labels, yy, xx, rng)
    _paint_trees(spectrum, labels, yy, xx, rng, water, river, width)
    roads = _road_geometry(yy, xx, rng)
    building = _paint_buildings(spectrum, labels, rng, water, roads)
    _paint_roads(spectrum, labels, yy, xx, rng, roads, building)

    # the sensor: haze/illumination, then noise, then quantisation
    illumination = 1.0 + 0.04 * smooth_noise((h, w), 200, rng)
    image = spectrum * illumination[None] + rng.normal(0.0, 2.5, size=spectrum.shape).astype(np.float32)
    image = _select_bands(image, bands, rng)
    labels = _ignore_boundaries(labels)
    return np.clip(image, 0, 255).round().astype(np.uint8), labels


def _paint_fields(spectrum: np.ndarray, labels: np.ndarray, yy: np.ndarray, xx: np.ndarray,
                  rng: np.random.Generator) -> None:
    """A farmland block cut into parcels; each parcel is a crop at its own growth stage, with
    rows in its own direction (rows alternate plants and soil)."""
    h, w = labels.shape
    farm = (int(w * rng.uniform(0.0, 0.1)), int(h * rng.uniform(0.0, 0.1)),
            int(w * rng.uniform(0.55, 0.7)), int(h * rng.uniform(0.8, 1.0)))
    parcels: list[tuple[int, int, int, int]] = []
    _split_parcels(*farm, rng, max(16, min(h, w) // 12), parcels)
    for x0, y0, x1, y1 in parcels:
        if rng.random() < 0.2:
            continue  # fallow: stays soil
        x0, y0, x1, y1 = x0 + 2, y0 + 2, x1 - 2, y1 - 2  # soil tracks between parcels
        if x1 <= x0 or y1 <= y0:
            continue
        sl = np.s_[y0:y1, x0:x1]
        angle = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
        period = rng.uniform(3.0, 6.0)
        rows = 0.5 + 0.5 * np.sin(2 * np.pi * (xx[sl] * np.cos(angle) + yy[sl] * np.sin(angle)) / period)
        cover = rng.uniform(0.45, 0.95)  # growth stage: fraction of ground the crop hides
        fraction = np.clip(cover + (1 - cover) * (rows - 0.5) * 1.6, 0.1, 1.0)
        crop = SPECTRA[CROP] * rng.uniform(0.9, 1.1, size=4).astype(np.float32)
        ground = spectrum[:, y0:y1, x0:x1]
        spectrum[:, y0:y1, x0:x1] = fraction[None] * crop[:, None, None] + (1 - fraction[None]) * ground
        labels[sl] = CROP


def _paint_water(spectrum: np.ndarray, labels: np.ndarray, yy: np.ndarray, xx: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A meandering river of varying width and a lake; returns (water mask, river, width)."""
    h, w = labels.shape
    river = _curve(rng, h, w, horizontal=bool(rng.random() < 0.5), wiggle=0.08)
    width = min(h, w) * rng.uniform(0.012, 0.025) * (1.0 + 0.3 * smooth_noise((h, w), 120, rng))
    water = _distance_to_polyline(yy, xx, river) < width
    lake_field = smooth_noise((h, w), min(h, w) / 10, rng)
    lake_centre = (rng.uniform(0.2, 0.8) * h, rng.uniform(0.6, 0.9) * w)
    radius = min(h, w) * rng.uniform(0.08, 0.12)
    water |= (np.hypot(yy - lake_centre[0], xx - lake_centre[1]) / radius + 0.25 * lake_field) < 1.0
    depth = 1.0 + 0.05 * smooth_noise((h, w), 30, rng)
    spectrum[:, water] = (SPECTRA[WATER][:, None] * depth[water][None])
    labels[water] = WATER
    return water, river, width


def _paint_trees(spectrum: np.ndarray, labels: np.ndarray, yy: np.ndarray, xx: np.ndarray,
                 rng: np.random.Generator, water: np.ndarray, river: np.ndarray, width: np.ndarray) -> None:
    """Stands where a smooth field is high (along the river too), drawn as crowns."""
    h, w = labels.shape
    stands = smooth_noise((h, w), min(h, w) / 14, rng) > 1.2
    stands |= (_distance_to_polyline(yy, xx, river) < width + 6) & (smooth_noise((h, w), 25, rng) > 0.3)
    stands &= ~water
    crowns = smooth_noise((h, w), 2.5, rng)           # 2-4 m crowns with dark gaps between
    shade = np.clip(0.85 + 0.25 * crowns, 0.5, 1.2)
    spectrum[:, stands] = SPECTRA[TREES][:, None] * shade[stands][None]
    labels[stands] = TREES


@dataclass
class _Roads:
    lines: list[np.ndarray]
    distance: np.ndarray
    width: float
    mask: np.ndarray


def _road_geometry(yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator) -> _Roads:
    """Two straight roads and a curved one, 5-9 px wide (painted after the buildings)."""
    h, w = yy.shape
    lines = [
        np.array([[rng.uniform(0.2, 0.8) * h, -10.0], [rng.uniform(0.2, 0.8) * h, w + 10.0]]),
        np.array([[-10.0, rng.uniform(0.3, 0.9) * w], [h + 10.0, rng.uniform(0.3, 0.9) * w]]),
        _curve(rng, h, w, horizontal=bool(rng.random() < 0.5), wiggle=0.12),
    ]
    distance = np.min([_distance_to_polyline(yy, xx, line) for line in lines], axis=0)
    width = rng.uniform(2.5, 4.5)
    return _Roads(lines, distance, width, distance < width)


def _paint_buildings(spectrum: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                     water: np.ndarray, roads: _Roads) -> np.ndarray:
    """A village around the first road crossing, houses set back from the roads, each a
    small rectangle with a concrete or tile roof and a shadow to the south-east."""
    h, w = labels.shape
    town = (float(roads.lines[0][:, 0].mean()), float(roads.lines[1][:, 1].mean()))
    town_radius = min(h, w) * 0.3
    building = np.zeros((h, w), dtype=bool)
    shadow = np.zeros((h, w), dtype=bool)
    roof = np.zeros((4, h, w), dtype=np.float32)
    attempts = int(60 * h * w / 512**2) + 20
    for _ in range(attempts):
        r = town[0] + rng.normal(0, town_radius / 2)
        c = town[1] + rng.normal(0, town_radius / 2)
        bh, bw = int(rng.integers(7, 22)), int(rng.integers(7, 22))
        r0, c0 = int(r - bh / 2), int(c - bw / 2)
        if r0 < 1 or c0 < 1 or r0 + bh + 4 >= h or c0 + bw + 4 >= w:
            continue
        box = np.s_[r0:r0 + bh, c0:c0 + bw]
        if water[box].any() or building[r0 - 1:r0 + bh + 1, c0 - 1:c0 + bw + 1].any():
            continue
        if roads.distance[box].min() < roads.width + 2:
            continue
        material = TILE_ROOF if rng.random() < 0.5 else SPECTRA[BUILDING]
        tone = material * rng.uniform(0.85, 1.15)
        roof[:, r0:r0 + bh, c0:c0 + bw] = tone[:, None, None]
        # a gabled roof: the half facing away from the sun is darker
        if bh >= bw:
            roof[:, r0:r0 + bh, c0 + bw // 2:c0 + bw] *= 0.82
        else:
            roof[:, r0 + bh // 2:r0 + bh, c0:c0 + bw] *= 0.82
        building[box] = True
        shadow[r0 + 3:r0 + bh + 3, c0 + 3:c0 + bw + 3] = True
    shadow &= ~building
    spectrum[:, shadow] *= 0.45
    spectrum[:, building] = roof[:, building]
    labels[building] = BUILDING
    return building


def _paint_roads(spectrum: np.ndarray, labels: np.ndarray, yy: np.ndarray, xx: np.ndarray,
                 rng: np.random.Generator, roads: _Roads, building: np.ndarray) -> None:
    """Asphalt with a lighter verge and dashed centre markings, over everything but houses."""
    h, w = labels.shape
    road = roads.mask
    verge = (roads.distance < roads.width + 1.5) & ~road & ~building
    spectrum[:, verge] = 0.5 * spectrum[:, verge] + 0.5 * np.array([135, 135, 135, 130], np.float32)[:, None]
    asphalt = SPECTRA[ROAD][:, None, None] * (1.0 + 0.04 * smooth_noise((h, w), 6, rng))[None]
    spectrum[:, road] = asphalt[:, road]
    centre_line = (roads.distance < 0.5) & ((xx + yy) % 12 < 6)   # dashed markings
    spectrum[:, centre_line] = 200.0
    labels[road] = ROAD


def _select_bands(image: np.ndarray, bands: int, rng: np.random.Generator) -> np.ndarray:
    """Blue, green, red, NIR in that order; more bands are mixtures (like extra sensor bands)."""
    if bands <= image.shape[0]:
        return image[:bands]
    extra = [image.T @ rng.dirichlet(np.ones(image.shape[0])).astype(np.float32) for _ in range(bands - image.shape[0])]
    return np.concatenate([image, np.stack([e.T for e in extra])], axis=0)


def _ignore_boundaries(labels: np.ndarray) -> np.ndarray:
    """Label ``IGNORE`` every pixel with a 4-neighbour of another class (mixed pixels)."""
    out = labels.copy()
    edge = np.zeros(labels.shape, dtype=bool)
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:-1] |= labels[1:] != labels[:-1]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    out[edge] = IGNORE
    return out


# ----------------------------------------------------------------------------- writing
def _profile(h: int, w: int, count: int) -> dict:
    return dict(
        driver="GTiff", width=w, height=h, count=count, dtype="uint8", crs=CRS,
        transform=from_origin(ORIGIN[0], ORIGIN[1], 1.0, 1.0),
        tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    )


def write_labels(path, labels: np.ndarray, names=CLASS_NAMES, colors=CLASS_COLORS) -> None:
    """uint8 label GeoTIFF with nodata 255, a colour table and category names."""
    profile = _profile(*labels.shape, 1)
    profile["nodata"] = IGNORE
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(labels, 1)
        dst.write_colormap(1, {i: (*c, 255) for i, c in enumerate(colors)} | {IGNORE: (0, 0, 0, 0)})
        dst.update_tags(1, class_names=json.dumps(list(names)))
    write_category_names(path, names)


def write_image(path, image: np.ndarray, band_names=BAND_NAMES, description: str = "") -> None:
    """uint8 image GeoTIFF with band names, tagged SYNTHETIC so nobody mistakes it for real imagery."""
    with rasterio.open(path, "w", **_profile(image.shape[1], image.shape[2], image.shape[0])) as dst:
        dst.write(image)
        for i in range(image.shape[0]):
            dst.set_band_description(i + 1, band_names[i] if i < len(band_names) else f"mix {i + 1}")
        dst.update_tags(SYNTHETIC=description or "synthetic scene made by training.data.synthetic; not real imagery")


def make_scene(
    path_image: str | os.PathLike,
    path_labels: str | os.PathLike,
    size: tuple[int, int] = (1024, 1024),
    bands: int = 4,
    seed: int = 0,
) -> SyntheticScene:
    """Write a SYNTHETIC 1 m multispectral scene and its labels as tiled GeoTIFFs (UTM 32N).

    Image: uint8, bands blue, green, red, NIR (then mixtures when ``bands`` > 4).
    Labels: uint8 ids of :data:`CLASS_NAMES`, 255 on class boundaries, with a colour table
    and category names. Deterministic in ``seed``.
    """
    image, labels = paint_scene(size, bands, seed)
    write_image(path_image, image, description=f"synthetic scene, seed {seed}; not real imagery")
    write_labels(path_labels, labels)
    valid = labels[labels != IGNORE]
    fractions = np.bincount(valid, minlength=len(CLASS_NAMES)) / max(valid.size, 1)
    return SyntheticScene(Path(path_image), Path(path_labels), CLASS_NAMES, CLASS_COLORS,
                          tuple(float(f) for f in fractions))


# ----------------------------------------------------------------------------- textures
TEXTURE_NAMES: tuple[str, ...] = ("stripes", "checkerboard", "speckle", "smooth")


def paint_texture_scene(size: tuple[int, int] = (256, 256), bands: int = 3, num_textures: int = 4,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A few large regions (Voronoi cells of random centres), each a distinct texture.

    Textures differ in pattern and mean colour, so both colour and texture separate them;
    labels (uint8) are the texture ids, ``0 .. num_textures-1``.
    """
    if not 2 <= num_textures <= len(TEXTURE_NAMES):
        raise ValueError(f"num_textures must be 2..{len(TEXTURE_NAMES)}, got {num_textures}")
    h, w = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # centres spread out: one per cell of a coarse grid, then jittered
    grid = int(np.ceil(np.sqrt(num_textures)))
    cells = rng.permutation(grid * grid)[:num_textures]
    centres = np.array([((c // grid + rng.uniform(0.3, 0.7)) * h / grid, (c % grid + rng.uniform(0.3, 0.7)) * w / grid)
                        for c in cells])
    distance = np.stack([np.hypot(yy - r, xx - c) for r, c in centres])
    labels = np.argmin(distance, axis=0).astype(np.uint8)
    patterns = [
        0.5 + 0.5 * np.sign(np.sin(2 * np.pi * (xx + 0.5 * yy) / 8.0)),         # stripes
        ((xx // 6 + yy // 6) % 2).astype(np.float32),                            # checkerboard
        (rng.random((h, w)) > 0.5).astype(np.float32),                           # speckle
        0.5 + 0.25 * smooth_noise((h, w), 20, rng),                              # smooth
    ]
    image = np.zeros((bands, h, w), dtype=np.float32)
    for k in range(num_textures):
        colour = rng.uniform(60, 190, size=bands)
        region = labels == k
        image[:, region] = colour[:, None] + 50.0 * (patterns[k][region][None] - 0.5)
    image += rng.normal(0, 4.0, size=image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), labels


def make_texture_scene(
    path_image: str | os.PathLike,
    path_labels: str | os.PathLike | None = None,
    size: tuple[int, int] = (256, 256),
    bands: int = 3,
    num_textures: int = 4,
    seed: int = 0,
) -> SyntheticScene:
    """Write a SYNTHETIC texture mosaic (and its region labels when ``path_labels`` is set)."""
    image, labels = paint_texture_scene(size, bands, num_textures, seed)
    write_image(path_image, image, band_names=(), description=f"synthetic texture mosaic, seed {seed}")
    names = TEXTURE_NAMES[:num_textures]
    colors = tuple((int(c[0]), int(c[1]), int(c[2])) for c in
                   np.random.default_rng(seed).integers(0, 255, size=(num_textures, 3)))
    if path_labels is not None:
        write_labels(path_labels, labels, names, colors)
    fractions = np.bincount(labels.ravel(), minlength=num_textures) / labels.size
    return SyntheticScene(Path(path_image), Path(path_labels) if path_labels else None, names, colors,
                          tuple(float(f) for f in fractions))


# ----------------------------------------------------------------------------- blocks
BLOCK_COLOURS = np.array([[40, 110, 50], [200, 190, 150], [60, 80, 160]], dtype=np.float32)


def paint_block_scene(size: int = 128, block: int = 32, seed: int = 0,
                      classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(3, size, size) uint8 image and (size, size) uint8 labels: random blocks of classes.

    Each class has its own colour *and* texture (smooth, stripes, speckle), so a clustering
    that works separates them and the labels tell how well; every class occurs.
    """
    rng = np.random.default_rng(seed)
    n = -(-size // block)
    layout = rng.integers(0, classes, size=(n, n))
    layout.flat[:classes] = np.arange(classes)          # every class present
    labels = np.kron(layout, np.ones((block, block), dtype=np.int64))[:size, :size]
    _yy, xx = np.mgrid[0:size, 0:size]
    textures = [
        rng.normal(0, 6, (size, size)),                                   # smooth vegetation
        18 * np.sign(np.sin(xx * 2 * np.pi / 6)) + rng.normal(0, 4, (size, size)),  # stripes (fields)
        rng.normal(0, 30, (size, size)),                                  # speckle (roofs)
    ]
    image = np.zeros((3, size, size), dtype=np.float32)
    for k in range(classes):
        mask = labels == k
        for b in range(3):
            image[b][mask] = BLOCK_COLOURS[k % 3, b] + textures[k % 3][mask]
    return np.clip(image, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_block_scene(folder: str | os.PathLike, size: int = 128, block: int = 32, seed: int = 0) -> tuple[Path, Path]:
    """The block scene as ``scene_image.tif`` and ``scene_label.tif`` (1 m pixels, EPSG:32640)."""
    image, labels = paint_block_scene(size, block, seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "scene_image.tif", folder / "scene_label.tif"
    for path, data, extra in ((paths[0], image, {}), (paths[1], labels[None], {"nodata": IGNORE})):
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=data.shape[0], dtype="uint8",
                           crs="EPSG:32640", transform=from_origin(500000.0, 2800000.0, 1.0, 1.0), **extra) as dst:
            dst.write(data)
    return paths
