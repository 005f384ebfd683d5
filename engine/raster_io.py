"""Reading model inputs from a raster and writing the class map, window by window.

Reading: any band count and dtype (uint8, uint16, int16, float32, ...), a selection of
1-based bands, the card's per-band normalisation ``(value - offset) / scale``, and a
validity mask (nodata value, alpha band or mask band, NaN). Windows reaching outside the
raster are padded by reflection, so a tile at the edge still sees image-like content.

Writing: a tiled, DEFLATE-compressed uint8 GeoTIFF on the same pixel grid as the input
(clipped to the region), with a colour table and class names, nodata 255 where the input
had none; optionally a float32 confidence raster (the winning class's probability). Both
are written to hidden temporary files renamed at the end, so an interrupted run never
leaves a half-written result under the requested name. Rows are buffered and written in
whole 256-pixel blocks so compressed blocks are written once.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.windows import Window, from_bounds

from .atomic import atomic_write_text, commit, discard, register_temp, temp_path_for
from .nodata import nodata_pixels

CLASS_NODATA = 255
CONFIDENCE_NODATA = -1.0
BLOCK = 256
# Class maps are very redundant: DEFLATE level 3 compresses a 2048x2048 map 4x faster than the
# default level 6 for a 12 % larger file; the writer runs beside the model, so CPU matters more.
DEFLATE_LEVEL = 3


# ---------------------------------------------------------------------------- regions
@dataclass(frozen=True)
class Region:
    """The pixel window of the raster being segmented."""

    row_off: int
    col_off: int
    height: int
    width: int


def raster_region(src, extent: tuple[float, float, float, float] | None) -> Region:
    """Pixel window of ``extent`` (xmin, ymin, xmax, ymax, raster CRS), snapped outwards and clipped."""
    if extent is None:
        return Region(0, 0, src.height, src.width)
    xmin, ymin, xmax, ymax = (float(v) for v in extent)
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"EXTENT: empty extent ({xmin}, {ymin}, {xmax}, {ymax}); draw or choose a non-empty area")
    win = from_bounds(xmin, ymin, xmax, ymax, transform=src.transform)
    row0 = max(0, int(np.floor(win.row_off + 1e-6)))
    col0 = max(0, int(np.floor(win.col_off + 1e-6)))
    row1 = min(src.height, int(np.ceil(win.row_off + win.height - 1e-6)))
    col1 = min(src.width, int(np.ceil(win.col_off + win.width - 1e-6)))
    if row1 <= row0 or col1 <= col0:
        b = src.bounds
        raise ValueError(
            f"EXTENT: ({xmin}, {ymin}, {xmax}, {ymax}) does not overlap the raster "
            f"({b.left}, {b.bottom}, {b.right}, {b.top}, same CRS); choose an extent over the raster"
        )
    return Region(row0, col0, row1 - row0, col1 - col0)


# ---------------------------------------------------------------------------- reading
class RasterReader:
    """Normalised, padded windows of selected bands, with a validity mask."""

    def __init__(self, src, bands: list[int], offset: list[float], scale: list[float],
                 fallback_nodata: float | None = None):
        self.src = src
        self.bands = list(bands)
        self.offset = np.asarray(offset, np.float32).reshape(-1, 1, 1)
        self.inv_scale = (1.0 / np.asarray(scale, np.float32)).reshape(-1, 1, 1)
        flags = src.mask_flag_enums[self.bands[0] - 1]
        self.mask_band = MaskFlags.per_dataset in flags or MaskFlags.alpha in flags
        nodatas = [src.nodatavals[b - 1] for b in self.bands]
        if any(v is not None for v in nodatas):
            self.nodata = [v for v in nodatas]
        elif fallback_nodata is not None:
            self.nodata = [fallback_nodata] * len(self.bands)
        else:
            self.nodata = None
        self.is_float = np.issubdtype(np.dtype(src.dtypes[self.bands[0] - 1]), np.floating)

    def read(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(bands, height, width) float32 model input and (height, width) bool valid mask.

        The window may reach outside the raster: the part inside is read, the rest mirrored.
        Invalid pixels are set to 0 after normalisation (the mean of the training data).
        """
        r0, c0 = max(0, row), max(0, col)
        r1, c1 = min(self.src.height, row + height), min(self.src.width, col + width)
        window = Window(c0, r0, c1 - c0, r1 - r0)
        raw = self.src.read(self.bands, window=window)
        valid = self._valid(raw, window)
        data = np.empty(raw.shape, np.float32)
        np.subtract(raw, self.offset, out=data, casting="unsafe")  # converts and centres in one pass
        data *= self.inv_scale
        if not valid.all():  # a boolean-mask assignment costs a pass even when it selects nothing
            data[:, ~valid] = 0.0
        pads = ((r0 - row, row + height - r1), (c0 - col, col + width - c1))
        if any(p for pair in pads for p in pair):
            data = np.stack([_pad(band, pads) for band in data])
            valid = np.pad(valid, pads, mode="constant", constant_values=False)
        return data, valid

    def _valid(self, raw: np.ndarray, window: Window) -> np.ndarray:
        valid = np.ones(raw.shape[1:], dtype=bool)
        if self.mask_band:
            valid &= self.src.read_masks(self.bands[0], window=window) > 0
        if self.nodata is not None or self.is_float:  # the shared rule: nodata only where every band is
            valid &= ~nodata_pixels(raw, self.nodata, every_band=True)
        return valid


def _pad(band: np.ndarray, pads) -> np.ndarray:
    """Mirror padding; a 1-pixel-wide window can only be repeated."""
    mode = "reflect" if min(band.shape) > 1 else "edge"
    return np.pad(band, pads, mode=mode)


# ---------------------------------------------------------------------------- writing
def check_writable(path: str, parameter: str) -> None:
    """Fail early, naming the parameter, when ``path`` cannot be created."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"{parameter}: folder {folder} does not exist; choose an existing folder")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{parameter}: cannot write in {folder}; choose a folder you can write to")
    if os.path.isdir(path):
        raise ValueError(f"{parameter}: {path} is a folder; give a file name such as classes.tif")


class ClassRasterWriter:
    """The class map (and optional confidence map) of a region, written in aligned blocks."""

    def __init__(self, path: str, src, region: Region, class_names: list[str], colors: list[tuple[int, int, int]],
                 confidence_path: str | None = None):
        self.path, self.confidence_path = path, confidence_path
        self.class_names = list(class_names)
        transform = src.window_transform(Window(region.col_off, region.row_off, region.width, region.height))
        profile = dict(driver="GTiff", width=region.width, height=region.height, count=1, crs=src.crs,
                       transform=transform, tiled=True, blockxsize=BLOCK, blockysize=BLOCK,
                       compress="deflate", zlevel=DEFLATE_LEVEL, BIGTIFF="IF_SAFER")
        self._tmp: list[tuple[str, str]] = []
        self._datasets = []
        tmp = temp_path_for(path)
        register_temp(tmp)  # removed by the run's SIGTERM handler if the run is killed
        self._tmp.append((tmp, path))
        many = len(class_names) > 255  # uint8 holds 255 classes beside nodata; clusterings may have more
        self.nodata = 65535 if many else CLASS_NODATA
        self.classes = rasterio.open(tmp, "w", dtype="uint16" if many else "uint8", nodata=self.nodata, **profile)
        self._datasets.append(self.classes)
        self.classes.write_colormap(1, {k: (*map(int, c), 255) for k, c in enumerate(colors)})
        self.confidence = None
        if confidence_path:
            tmp = temp_path_for(confidence_path)
            register_temp(tmp)
            self._tmp.append((tmp, confidence_path))
            self.confidence = rasterio.open(tmp, "w", dtype="float32", nodata=CONFIDENCE_NODATA, predictor=3, **profile)
            self._datasets.append(self.confidence)
        self._buf_classes: np.ndarray | None = None
        self._buf_conf: np.ndarray | None = None
        self._buf_row: int | None = None   # output row of the buffer's first row; None when empty
        self._buf_col = self._buf_width = self._filled = 0

    def add_rows(self, row: int, col: int, classes: np.ndarray, confidence: np.ndarray | None) -> None:
        """Rows ``row...`` of the output at column ``col``; they arrive in order within a column block.

        Rows are copied into a buffer one output block tall and written when a 256-row block
        is complete, so each compressed block is written once and no more than one block
        row is held, however many rows a call brings.
        """
        if self._buf_row is not None and (col != self._buf_col or row != self._buf_row + self._filled
                                          or classes.shape[1] != self._buf_width):
            self.flush()
        done = 0
        while done < classes.shape[0]:
            if self._buf_row is None:
                self._start_buffer(row + done, col, classes.shape[1])
            boundary = (self._buf_row // BLOCK + 1) * BLOCK
            take = min(classes.shape[0] - done, boundary - self._buf_row - self._filled)
            rows = slice(self._filled, self._filled + take)
            self._buf_classes[rows, :self._buf_width] = classes[done:done + take]
            if self.confidence is not None:
                self._buf_conf[rows, :self._buf_width] = confidence[done:done + take]
            self._filled += take
            done += take
            if self._buf_row + self._filled == boundary:
                self.flush()

    def flush(self) -> None:
        """Write the buffered rows (a whole block, or the last rows of a column block)."""
        if self._buf_row is None or not self._filled:
            self._buf_row = None
            return
        n, width = self._filled, self._buf_width
        window = Window(self._buf_col, self._buf_row, width, n)
        self.classes.write(self._buf_classes[:n, :width], 1, window=window)
        if self.confidence is not None:
            self.confidence.write(self._buf_conf[:n, :width], 1, window=window)
        self._buf_row, self._filled = None, 0

    def _start_buffer(self, row: int, col: int, width: int) -> None:
        if self._buf_classes is None or self._buf_classes.shape[1] < width:
            self._buf_classes = np.empty((BLOCK, width), self.classes.dtypes[0])
            if self.confidence is not None:
                self._buf_conf = np.empty((BLOCK, width), np.float32)
        self._buf_row, self._buf_col, self._buf_width, self._filled = row, col, width, 0

    def commit(self) -> None:
        """Finish the files and move them to their final names (with class names beside)."""
        self.flush()
        self._close()
        for tmp, final in self._tmp:
            _remove_quietly(final + ".aux.xml")  # stale statistics/categories of an older file
            commit(tmp, final)
        self._tmp = []
        write_category_names(self.path, self.class_names)

    def abort(self) -> None:
        """Close and delete the temporary files: nothing is left behind."""
        self._buf_row = None
        try:
            self._close()
        finally:
            for tmp, _ in self._tmp:
                discard(tmp)
                _remove_quietly(tmp + ".aux.xml")
            self._tmp = []

    def _close(self) -> None:
        while self._datasets:
            self._datasets.pop().close()


def write_category_names(path: str | os.PathLike, names: Sequence[str], band: int = 1) -> None:
    """GDAL category names for ``band`` of ``path``, in its PAM side-car (``.aux.xml``).

    GeoTIFF has no tag for category names; GDAL (and QGIS, in the legend) read them from this
    file, and rsseg reads them back as class names. Also used for the generated test scenes.
    """
    categories = "".join(f"<Category>{escape(name)}</Category>" for name in names)
    xml = (f'<PAMDataset>\n  <PAMRasterBand band="{band}">\n'
           f"    <CategoryNames>{categories}</CategoryNames>\n  </PAMRasterBand>\n</PAMDataset>\n")
    atomic_write_text(os.fspath(path) + ".aux.xml", xml)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
