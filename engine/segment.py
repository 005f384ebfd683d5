"""Segment a raster with an ONNX model: tiles in, blended class map out, streaming.

Three threads keep the model busy:

    reader  --batches-->  model (this thread)  --scores-->  blender + writer

The reader reads one window per batch of neighbouring tiles (overlapping pixels are read
once), normalises it and cuts it into a batch; the model thread only runs onnxruntime
(which releases the GIL); the blender averages overlapping scores in a strip one tile tall
and hands finished rows to the writer. Everything beside the model is kept cheap, because
on a CPU it shares the cores with the model (docs/performance.md has the measurements).
Memory depends on the tile size, the batch size and the width of a column block, never on
the raster's height; very wide rasters are cut into column blocks of bounded width, and
GDAL's block cache is sized from the same quantities. Cancellation is polled between
batches; on cancel or error the temporary outputs are deleted.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import rasterio

from .blending import StripBlender, TileCarry
from .progress import RunFeedback
from .raster_io import BLOCK, ClassRasterWriter, RasterReader, Region, check_writable, raster_region
from .safeguards import check_model_input, open_raster
from .session import CUDA_PROVIDER, ModelSession, cuda_free_bytes, gpu_batch, open_model
from .tiling import (
    DEFAULT_OVERLAP_PERCENT,
    DEFAULT_TILE_SIZE,
    ColumnBlock,
    TileGrid,
    carried_cols,
    column_blocks,
    computed_cols,
    make_grid,
)

DEFAULT_BATCH = 4
DEFAULT_STRIP_MB = 24       # score strip budget: wider regions are cut into column blocks
OPEN_CACHE_MB = 8        # GDAL block cache while opening; the run sizes its own (gdal_cache_bytes)
MAX_CACHE_MB = 128       # GDAL's block cache would otherwise grow to 5% of RAM on big rasters
QUEUE_DEPTH = 2
POLL_S = 0.2


@dataclass
class SegmentResult:
    """What a run produced, and how it went."""

    output_path: str
    confidence_path: str | None
    class_names: list[str]
    class_colors: list[tuple[int, int, int]]
    provider: str
    bands: list[int]
    tile_size: tuple[int, int]
    overlap_percent: float
    batch_size: int
    timing: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TileRef:
    """One tile of a batch; the last tile of a row of tiles carries the validity of the rows it finishes."""

    block: int
    i: int
    j: int
    row_valid: np.ndarray | None = None


def segment_raster(
    input_path: str,
    model_path: str,
    output_path: str,
    *,
    extent: tuple[float, float, float, float] | None = None,
    bands: list[int] | None = None,
    tile_size: int = 0,
    overlap: float | None = None,
    batch_size: int = 0,
    device: str = "auto",
    threads: int = 0,
    confidence_path: str | None = None,
    feedback: RunFeedback | None = None,
    max_strip_mb: float = DEFAULT_STRIP_MB,
) -> SegmentResult:
    """Write the class map of ``input_path`` (optionally inside ``extent``) to ``output_path``.

    ``tile_size``/``overlap`` (percent)/``batch_size`` of 0/None come from the model card,
    then the model's fixed input shape, then defaults (512 px, 15 %, 4). ``bands`` are
    1-based; default: the card's ``rsseg_bands``, else the first N bands.
    """
    feedback = feedback or RunFeedback()
    started = time.perf_counter()
    check_writable(output_path, "OUTPUT")
    if confidence_path:
        check_writable(confidence_path, "CONFIDENCE")
        if os.path.abspath(confidence_path) == os.path.abspath(output_path):
            raise ValueError("CONFIDENCE: must be a different file from OUTPUT")
    if not os.path.isfile(input_path):
        raise ValueError(f"INPUT: {input_path} does not exist")
    model = open_model(model_path, device=device, threads=threads, log=feedback.log)

    # rasterio hands an integer GDAL_CACHEMAX to GDALSetCacheMax as *bytes* (64 meant 64 bytes)
    with rasterio.Env(GDAL_CACHEMAX=OPEN_CACHE_MB * 2**20):
        src = open_raster(input_path, "INPUT")  # names INPUT and the file for empty, foreign or truncated files
        with src:
            chosen = resolve_bands(src.count, bands, model, feedback.log)
            region = raster_region(src, extent)
            tile = choose_tile(model, tile_size)
            batch = choose_batch(model, batch_size, feedback.log, tile)
            out_size, n_classes = output_geometry(model, tile)
            if overlap is None:
                overlap = model.card.tile_overlap_percent or DEFAULT_OVERLAP_PERCENT
            overlap = float(overlap)
            grid = make_grid(region.height, region.width, tile, out_size, overlap)
            blocks = column_blocks(grid, block_width(grid, n_classes, max_strip_mb))
            names, colors = model.card.names_for(n_classes), model.card.colors_for(n_classes)
            offset, scale = model.card.normalization(len(chosen))
            reader = RasterReader(src, chosen, offset, scale, model.card.nodata)
            check_model_input(src, chosen, region, model.card, offset, scale, feedback.log)  # docs/safety.md
            feedback.log(
                f"{grid.n_tiles} tiles of {tile[0]}x{tile[1]} px (output {out_size[0]}x{out_size[1]}), "
                f"overlap {overlap:g} %, batch {batch}, bands {chosen}, {n_classes} classes"
                + (f", {len(blocks)} column blocks" if len(blocks) > 1 else "")
            )
            writer = ClassRasterWriter(output_path, src, region, names, colors, confidence_path)
            try:
                with rasterio.Env(GDAL_CACHEMAX=gdal_cache_bytes(src, grid, blocks, confidence_path is not None)):
                    pipeline = SegmentPipeline(model, reader, writer, region, grid, blocks, batch, n_classes,
                                               confidence_path is not None, feedback,
                                               carry_folder=os.path.dirname(os.path.abspath(output_path)))
                    timing = pipeline.run()
                writer.commit()
            except BaseException:
                writer.abort()
                raise
    timing["total_s"] = time.perf_counter() - started
    timing["megapixels"] = region.height * region.width / 1e6
    timing["mpix_per_s"] = timing["megapixels"] / max(timing["total_s"], 1e-9)
    feedback.set_progress(1.0)
    feedback.log(f"segmented {timing['megapixels']:.1f} Mpix in {timing['total_s']:.1f} s on {model.provider}")
    return SegmentResult(output_path, confidence_path, names, colors, model.provider, chosen, tile, overlap, batch,
                         timing)


# ---------------------------------------------------------------------------- choices
def resolve_bands(count: int, bands: list[int] | None, model: ModelSession, log=None) -> list[int]:
    """BANDS, else the card's bands, else the first N raster bands (Deepness rule)."""
    need = model.input_channels
    if bands:
        chosen, source = [int(b) for b in bands], "BANDS"
    elif model.card.bands:
        chosen, source = list(model.card.bands), "the model card"
    else:
        if count < need:
            raise ValueError(f"BANDS: raster has {count} band{'s' if count != 1 else ''}, model expects {need}: "
                             f"set BANDS to {need} band numbers (repeating is allowed, e.g. {','.join(['1'] * need)})")
        if count > need and log is not None:
            log(f"raster has {count} bands, model reads {need}: using bands 1-{need} (set BANDS to choose others)")
        return list(range(1, need + 1))
    if len(chosen) != need:
        raise ValueError(f"BANDS: {source} lists {len(chosen)} bands, model expects {need}: "
                         f"set BANDS to {need} band numbers")
    bad = [b for b in chosen if not 1 <= b <= count]
    if bad:
        raise ValueError(f"BANDS: raster has {count} bands, cannot read band(s) {bad} (from {source}); set BANDS")
    return chosen


def choose_tile(model: ModelSession, tile_size: int) -> tuple[int, int]:
    """TILE_SIZE, else the card's, else 512; a fixed-shape model imposes its own."""
    fixed = model.fixed_tile
    if fixed is not None:
        if tile_size and (tile_size, tile_size) != fixed:
            raise ValueError(f"TILE_SIZE: this model only accepts {fixed[0]}x{fixed[1]} tiles; "
                             f"set TILE_SIZE to 0 or {fixed[0]}")
        return fixed
    size = int(tile_size or model.card.tile_size or DEFAULT_TILE_SIZE)
    if size < 8:
        raise ValueError(f"TILE_SIZE: {size} px is too small; use 0 (model default) or at least 64")
    return size, size


def choose_batch(model: ModelSession, batch_size: int, log=None, tile: tuple[int, int] | None = None,
                 free_bytes=None) -> int:
    """BATCH_SIZE (0 = automatic); a model exported with a fixed batch imposes it.

    Automatic: on CUDA, what the GPU's free memory holds (``free_bytes()`` or nvidia-smi);
    else the card's ``inference_batch_size``, else 4.
    """
    if model.fixed_batch is not None:
        if batch_size and batch_size != model.fixed_batch and log is not None:
            log(f"BATCH_SIZE {batch_size} ignored: the model was exported with a fixed batch of {model.fixed_batch}")
        return model.fixed_batch
    if batch_size < 0:
        raise ValueError(f"BATCH_SIZE: expected 0 (automatic) or a positive number, got {batch_size}")
    if batch_size:
        return int(batch_size)
    if tile is not None and model.provider == CUDA_PROVIDER:  # on a GPU: as many tiles as its memory holds
        fits = gpu_batch(free_bytes() if free_bytes else cuda_free_bytes(), tile)
        if fits is not None:
            if log is not None:
                log(f"batch of {fits} tiles sized to the GPU's free memory (BATCH_SIZE sets it)")
            return fits
    return int(model.card.config.get("inference_batch_size", 0) or DEFAULT_BATCH)


def output_geometry(model: ModelSession, tile: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """The output's size per tile (centre crop if smaller) and class count.

    Read from the graph when it declares them (``ModelSession.static_output``), so no tile
    is run twice; else one blank tile is run (a model whose output size depends on
    computations onnxruntime cannot infer statically, e.g. valid convolutions).
    """
    known = model.static_output(tile)
    if known is None:
        return probe_output(model, tile)
    check_output_size(known[0], tile)
    return known


def probe_output(model: ModelSession, tile: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """Run one blank tile: the output's size (centre crop if smaller) and class count."""
    batch = np.zeros((model.fixed_batch or 1, model.input_channels, *tile), np.float32)
    probs = run_model(model, batch, tile)
    out = (int(probs.shape[2]), int(probs.shape[3]))
    check_output_size(out, tile)
    return out, int(probs.shape[1])


def check_output_size(out: tuple[int, int], tile: tuple[int, int]) -> None:
    """Refuse outputs much smaller than the tile (a classifier or a stride-16 map, not a segmenter)."""
    if out[0] * 2 <= tile[0] or out[1] * 2 <= tile[1]:
        raise ValueError(f"MODEL: output {out} is much smaller than its input {tile}; rsseg expects full-resolution "
                         "outputs (or a centre crop, as with valid convolutions)")


def block_width(grid: TileGrid, n_classes: int, max_strip_mb: float) -> int:
    """Column-block width keeping the score strip under ``max_strip_mb`` (0 = no limit)."""
    if not max_strip_mb or max_strip_mb <= 0:
        return 0
    per_column = n_classes * grid.out[0] * 4
    width = int(max_strip_mb * 2**20 // per_column) // 256 * 256
    return max(width, 8 * grid.out[1] // 256 * 256 + 256)  # wide enough that re-computed edge tiles stay few


def gdal_cache_bytes(src, grid: TileGrid, blocks: list[ColumnBlock], want_confidence: bool) -> int:
    """GDAL block cache for a run: the input blocks under one row of tiles plus one block row of output.

    Rows of tiles overlap and reads of neighbouring batches share block columns, so the
    input blocks of the current row of tiles are worth keeping (a compressed block is then
    decoded once); output blocks wait in the cache until they are compressed and written.
    Anything more only grows memory with the raster's width; sized from the tile and the
    column block, not a fixed share of RAM.
    """
    block_rows = src.block_shapes[0][0] if src.block_shapes else 256
    width = max(b.stop - b.start for b in blocks) + grid.tile[1]
    item = max(np.dtype(dtype).itemsize for dtype in src.dtypes)  # a pixel-interleaved block holds every band
    rows_in = grid.tile[0] + min(block_rows, grid.tile[0])
    read = rows_in * width * src.count * item
    written = BLOCK * width * (2 + (4 if want_confidence else 0))
    return int(min(max(1.25 * (read + written), OPEN_CACHE_MB * 2**20), MAX_CACHE_MB * 2**20))


# ---------------------------------------------------------------------------- pipeline
class SegmentPipeline:
    """One run's three stages: reader thread -> model (calling thread) -> blender/writer thread.

    Built once per run with everything the stages share (queues, stop flag, errors,
    timing); :meth:`run` starts the helper threads, feeds the model and returns the timing.
    Each tile is run once: tiles straddling a column-block edge are computed in the left
    block and their right part is carried to the next (``engine.blending.TileCarry``).
    """

    def __init__(self, model: ModelSession, reader: RasterReader, writer: ClassRasterWriter, region: Region,
                 grid: TileGrid, blocks: list[ColumnBlock], batch: int, n_classes: int, want_confidence: bool,
                 feedback: RunFeedback, carry_folder: str | None = None) -> None:
        self.model, self.reader, self.writer, self.region = model, reader, writer, region
        self.grid, self.blocks, self.batch, self.n_classes = grid, blocks, batch, n_classes
        self.want_confidence, self.feedback, self.carry_folder = want_confidence, feedback, carry_folder
        self.stop = threading.Event()
        self.to_model: queue.Queue = queue.Queue(QUEUE_DEPTH)
        self.to_writer: queue.Queue = queue.Queue(QUEUE_DEPTH)
        self.errors: list[BaseException] = []
        self.timing = {"model_s": 0.0, "wait_input_s": 0.0, "read_s": 0.0, "blend_write_s": 0.0}
        self.total = tiles_to_run(grid, blocks)
        self._row = -1  # row of tiles the blender is in (carried tiles are added at its first tile)

    def run(self) -> dict[str, float]:
        """Run every tile; re-raise a helper thread's error; return the timing (seconds)."""
        threads = [
            threading.Thread(target=self._guarded(self._produce, "reader_cpu_s"), name="rsseg-reader", daemon=True),
            threading.Thread(target=self._guarded(self._consume, "writer_cpu_s"), name="rsseg-writer", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            done = self._infer_all()
            _put(self.to_writer, None, self.stop)
            while threads[1].is_alive():
                self.feedback.check_cancelled()
                threads[1].join(POLL_S)
        except BaseException:
            self._halt(threads)
            raise
        if self.errors:
            self._halt(threads)
            raise self.errors[0]
        self.timing["tiles"] = float(done)
        self.timing["grid_tiles"] = float(self.grid.n_tiles)
        return self.timing

    def _halt(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        for thread in threads:
            thread.join(5.0)

    def _guarded(self, target, cpu_key: str):
        """``target`` wrapped for a helper thread: errors go to the main thread, CPU time is recorded."""
        def run():
            cpu0 = time.thread_time()
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.errors.append(exc)
                self.stop.set()
            finally:
                # CPU (not wall) seconds: on busy cores, wall time would count waiting for a core
                self.timing[cpu_key] = time.thread_time() - cpu0
        return run

    def _infer_all(self) -> int:
        """The model loop (this thread): batches in, probabilities out; returns the tiles run."""
        done, timing = 0, self.timing
        while True:
            self.feedback.check_cancelled()
            t0 = time.perf_counter()
            try:
                item = self.to_model.get(timeout=POLL_S)
            except queue.Empty:
                timing["wait_input_s"] += time.perf_counter() - t0
                if self.errors:
                    return done
                continue
            timing["wait_input_s"] += time.perf_counter() - t0
            if item is None:
                return done
            data, refs = item
            t0 = time.perf_counter()
            probs = run_model(self.model, _pad_batch(data, self.model.fixed_batch), self.grid.tile)[: len(refs)]
            timing["model_s"] += time.perf_counter() - t0
            if not _put(self.to_writer, (probs, refs), self.stop):
                return done
            done += len(refs)
            self.feedback.set_progress(0.99 * done / self.total)

    def _produce(self) -> None:
        for item in tile_batches(self.reader, self.region, self.grid, self.blocks, self.batch, self.timing):
            if not _put(self.to_model, item, self.stop):
                return
        _put(self.to_model, None, self.stop)

    def _consume(self) -> None:
        blender = None
        carries: dict[int, TileCarry] = {}  # edge index b: tiles block b hands to block b + 1
        try:
            while True:
                item = _get(self.to_writer, self.stop)
                if item is None:
                    break
                t0 = time.perf_counter()
                for p, ref in zip(*item):
                    blender = self._blend(blender, carries, p, ref)
                self.timing["blend_write_s"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            self.writer.flush()
            self.timing["blend_write_s"] += time.perf_counter() - t0
        finally:
            for carry in carries.values():
                carry.close()

    def _blend(self, blender: StripBlender | None, carries: dict[int, TileCarry], p: np.ndarray,
               ref: TileRef) -> StripBlender:
        """Blend one tile (and, first in its row, the tiles carried from the block on the left)."""
        grid, b = self.grid, ref.block
        if blender is None or blender.block is not self.blocks[b]:
            blender = None  # free the old strip before the new one
            blender = StripBlender(grid, self.blocks[b], self.n_classes)
            self._row = -1
            if b - 2 in carries:  # block b - 1 has read it back
                carries.pop(b - 2).close()
            if b + 1 < len(self.blocks):
                carries[b] = TileCarry(self.n_classes, grid.out[0], self.blocks[b + 1].start, grid.cols,
                                       grid.out[1], self.carry_folder)
        if ref.i != self._row:  # first tile of a row of tiles in this block
            self._row = ref.i
            for j in carried_cols(self.blocks, b):
                scores, first = carries[b - 1].get(j)
                blender.add(scores, ref.i, j, first_col=first)
        blender.add(p, ref.i, ref.j)
        if b in carries and carries[b].keeps(ref.j):
            carries[b].put(p, ref.j)
        if ref.row_valid is not None:
            nodata = 255 if self.n_classes <= 255 else 65535
            row, classes, conf = blender.finish_row(ref.i, ref.row_valid, self.want_confidence, nodata)
            self.writer.add_rows(row, self.blocks[b].start, classes, conf)
        return blender


def tiles_to_run(grid: TileGrid, blocks: list[ColumnBlock]) -> int:
    """Tiles a run pushes through the model: each grid tile once, whatever the column blocks."""
    return sum(len(grid.rows) * len(computed_cols(blocks, b)) for b in range(len(blocks)))


def run_model(model: ModelSession, batch: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """Probabilities of a batch; onnxruntime's failure on this tile size becomes a TILE_SIZE error."""
    try:
        return model.probabilities(batch)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own, unrelated error types
        raise ValueError(f"TILE_SIZE: the model fails on {tile[0]}x{tile[1]} tiles ({str(exc).splitlines()[0]}); "
                         "try the tile size it was trained with (often a multiple of 32)") from None


def tile_batches(reader: RasterReader, region: Region, grid: TileGrid, blocks: list[ColumnBlock], batch: int,
                 timing: dict[str, float]):
    """(inputs (n, C, H, W), [TileRef]) batches, row of tiles by row of tiles, block by block.

    Each read covers the next ``batch`` tiles of a row (one window for several tiles, so
    overlapping pixels are read once), not the whole row: what the reader holds is bounded
    by the batch, not by the raster's width. Tiles a block carries over from the previous
    one are not read again, but the first read of each row reaches back to the block's
    first column for the validity mask. The validity of a row's final rows is gathered
    chunk by chunk and travels with the row's last tile.
    """
    th, tw = grid.tile
    arrays: list[np.ndarray] = []
    refs: list[TileRef] = []
    for b, block in enumerate(blocks):
        cols = computed_cols(blocks, b)
        for i in range(len(grid.rows)):
            start, end = grid.final_rows(i)
            row_valid = np.empty((end - start, block.stop - block.start), bool)
            for k in range(0, len(cols), batch):
                chunk = cols[k:k + batch]
                t0 = time.perf_counter()
                row_in, first_in = grid.input_origin(i, chunk[0])
                col_in = min(first_in, block.start) if k == 0 else first_in
                width = grid.input_origin(i, chunk[-1])[1] + tw - col_in
                data, valid = reader.read(region.row_off + row_in, region.col_off + col_in, th, width)
                lo, hi = max(block.start, col_in), min(block.stop, col_in + width)
                row_valid[:, lo - block.start:hi - block.start] = valid[start - row_in:end - row_in,
                                                                        lo - col_in:hi - col_in]
                timing["read_s"] += time.perf_counter() - t0
                for j in chunk:
                    c = grid.input_origin(i, j)[1] - col_in
                    arrays.append(data[:, :, c:c + tw])
                    refs.append(TileRef(b, i, j, row_valid if j == cols[-1] else None))
                    if len(arrays) == batch:
                        yield np.stack(arrays), refs
                        arrays, refs = [], []
    if arrays:
        yield np.stack(arrays), refs


def _pad_batch(data: np.ndarray, fixed_batch: int | None) -> np.ndarray:
    """Fill a short last batch with blank tiles for models exported with a fixed batch."""
    if fixed_batch is None or data.shape[0] == fixed_batch:
        return data
    pad = np.zeros((fixed_batch - data.shape[0], *data.shape[1:]), data.dtype)
    return np.concatenate([data, pad])


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put unless the run is stopping; False when it is."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    """Next item, or None when the run is stopping."""
    while not stop.is_set():
        try:
            return q.get(timeout=POLL_S)
        except queue.Empty:
            continue
    return None
