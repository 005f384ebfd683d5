"""Each tile of the grid goes through the model exactly once: no probe tile when the graph
says its output shape, no recomputed tiles at column-block edges."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff
from helpers_onnx import conv_model

import engine.segment as segment
from engine.progress import RunFeedback
from engine.tiling import column_blocks, computed_cols, make_grid

QUIET = RunFeedback(log=lambda _m: None)


class CountingSession:
    """Wraps an onnxruntime session and counts the tiles (batch rows) run through it."""

    def __init__(self, session):
        self.session, self.tiles, self.calls = session, 0, 0

    def run(self, outputs, feeds):
        batch = next(iter(feeds.values()))
        self.tiles += batch.shape[0]
        self.calls += 1
        return self.session.run(outputs, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture
def counted(monkeypatch):
    """segment_raster whose model session counts; returns the list of counters."""
    counters = []
    real_open = segment.open_model

    def open_counting(*args, **kwargs):
        model = real_open(*args, **kwargs)
        model.session = CountingSession(model.session)
        counters.append(model.session)
        return model

    monkeypatch.setattr(segment, "open_model", open_counting)
    return counters


def image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 255).astype(np.uint8)


def read(path):
    with rasterio.open(path) as src:
        return src.read(1)


def test_column_blocks_run_every_grid_tile_once_and_give_the_same_map(tmp_path, counted):
    raster = write_geotiff(tmp_path / "in.tif", image((3, 90, 700), seed=4))
    model = conv_model(tmp_path / "m.onnx", 3, 3, kernel=3, layers=2)
    kw = dict(tile_size=32, overlap=25, batch_size=3, feedback=QUIET)
    one = segment.segment_raster(str(raster), str(model), str(tmp_path / "a.tif"), max_strip_mb=0,
                                 confidence_path=str(tmp_path / "ac.tif"), **kw)
    many = segment.segment_raster(str(raster), str(model), str(tmp_path / "b.tif"), max_strip_mb=0.01,
                                  confidence_path=str(tmp_path / "bc.tif"), **kw)
    grid = make_grid(90, 700, (32, 32), (32, 32), 25)
    assert len(column_blocks(grid, segment.block_width(grid, 3, 0.01))) >= 2  # the case under test
    assert counted[0].tiles == counted[1].tiles == grid.n_tiles  # tiles run / grid tiles == 1
    assert many.timing["tiles"] == many.timing["grid_tiles"] == grid.n_tiles
    np.testing.assert_array_equal(read(one.output_path), read(many.output_path))
    np.testing.assert_allclose(read(one.confidence_path), read(many.confidence_path), atol=1e-6)


def test_static_output_shape_needs_no_probe_tile(tmp_path, counted):
    raster = write_geotiff(tmp_path / "in.tif", image((3, 100, 100)))
    model = conv_model(tmp_path / "m.onnx", 3, 2, kernel=1)  # output dims named like the input's
    segment.segment_raster(str(raster), str(model), str(tmp_path / "o.tif"), tile_size=32, overlap=10,
                           batch_size=4, feedback=QUIET)
    grid = make_grid(100, 100, (32, 32), (32, 32), 10)
    assert counted[0].tiles == grid.n_tiles and counted[0].calls == -(-grid.n_tiles // 4)


def test_output_shape_the_graph_does_not_give_is_probed(tmp_path, counted):
    raster = write_geotiff(tmp_path / "in.tif", image((3, 100, 100)))
    model = conv_model(tmp_path / "m.onnx", 3, 2, kernel=1, crop=2)  # output dims "OH", "OW": unknown
    result = segment.segment_raster(str(raster), str(model), str(tmp_path / "o.tif"), tile_size=32, overlap=10,
                                    batch_size=4, feedback=QUIET)
    grid = make_grid(100, 100, (32, 32), (28, 28), 10)
    assert result.timing["tiles"] == grid.n_tiles and counted[0].tiles == grid.n_tiles + 1  # + the probe


def test_a_model_failing_on_the_tile_size_names_tile_size_without_a_probe(tmp_path, monkeypatch):
    """Without the probe the first real batch is where a bad tile size shows: same clear error, no output."""
    raster = write_geotiff(tmp_path / "in.tif", image((3, 64, 64)))
    model = conv_model(tmp_path / "m.onnx", 3, 2, kernel=1)

    def fail(self, batch):
        raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : bad dimensions")

    monkeypatch.setattr(segment.ModelSession, "probabilities", fail)
    with pytest.raises(ValueError, match="TILE_SIZE: the model fails on 32x32 tiles"):
        segment.segment_raster(str(raster), str(model), str(tmp_path / "o.tif"), tile_size=32, feedback=QUIET)
    assert not (tmp_path / "o.tif").exists()


def test_computed_columns_partition_the_grid_and_no_block_is_too_narrow():
    grid = make_grid(50, 1000, (64, 64), (64, 64), 25)
    blocks = column_blocks(grid, 240)  # 1000 = 4 x 240 + 40: the 40-px remainder joins the last block
    assert blocks[-1].stop - blocks[-1].start >= grid.out[1]
    runs = [j for b in range(len(blocks)) for j in computed_cols(blocks, b)]
    assert sorted(runs) == list(range(len(grid.cols)))
    assert segment.tiles_to_run(grid, blocks) == grid.n_tiles


def test_exported_network_declares_its_class_count_so_no_probe_runs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from engine.model_card import ModelCard
    from engine.session import open_model
    from training.export import export_module
    from training.nets.deeplab import DeepLabV3Plus

    net = DeepLabV3Plus(3, 4, aspp_channels=16, decoder_channels=16, low_level_channels=8)
    path = export_module(net, ModelCard(class_names=list("abcd")), 3, tmp_path / "m.onnx", check=False)
    assert open_model(path, device="cpu").static_output((96, 96)) == ((96, 96), 4)
