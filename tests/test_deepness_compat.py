"""Our exports read by the rules of Deepness's model loader (tests/helpers_deepness.py).

A fixed-shape export (FIXED_SHAPE / --fixed-shape) must load and run as a Deepness
Segmentor with a dynamic batch, giving the classes rsseg's own normalisation gives; a
dynamic export keeps a static class count (the old crash), but Deepness's dialog needs a
fixed tile size, which the reader reports. The reader itself must refuse what Deepness
refuses, checked on hand-made models.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from finetune_scene import tiny_config, write_scene
from helpers_deepness import DeepnessRefusedError, load_like_deepness, read_like_deepness, run_like_deepness
from helpers_onnx import conv_model

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch.set_num_threads(1)

from engine.model_card import ModelCard
from engine.progress import RunFeedback
from engine.segment import segment_raster
from engine.tiling import DEFAULT_OVERLAP_PERCENT
from training.export import export_checkpoint
from training.finetune import finetune

QUIET = RunFeedback(log=lambda _m: None)
NAMES = ["water", "sand", "trees"]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deepness")
    image, label = write_scene(folder, size=64)
    config = tiny_config(image, label, val_fraction=0.0, patches_per_epoch=4, class_names=NAMES)
    return finetune(config, folder / "m.pt", feedback=QUIET).checkpoint, image


class _OldExportSession:
    """An onnxruntime session whose output declares the symbolic class dim of the old exports."""

    def __init__(self, session):
        self._session = session

    def __getattr__(self, name):
        return getattr(self._session, name)

    def get_outputs(self):
        real = self._session.get_outputs()[0]
        return [SimpleNamespace(name=real.name, shape=[real.shape[0], "Softmaxoutput_dim_1", *real.shape[2:]])]


def _tiles(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_fixed_shape_export_loads_and_runs_as_a_deepness_segmentor(tmp_path, finetuned):
    checkpoint, image = finetuned
    path = export_checkpoint(checkpoint, tmp_path / "fixed.onnx", tile_size=64, fixed_shape=True, feedback=QUIET)
    view = load_like_deepness(path)
    assert (view.batch, view.channels, view.tile_size, view.classes) == (None, 3, 64, [3])
    assert view.class_names == [NAMES]
    assert view.metadata == {"model_type": "Segmentor", "tile_size": 64, "tiles_overlap": int(DEFAULT_OVERLAP_PERCENT),
                             "resolution": pytest.approx(100.0)}
    card = ModelCard.from_metadata(dict(view.session.get_modelmeta().custom_metadata_map))
    offset, scale = card.normalization(3)
    for batch in (1, 3):   # the batch stays dynamic: the user's batch size runs
        tiles = _tiles(batch, 64, seed=batch)
        maps = run_like_deepness(view, tiles)
        assert maps.shape == (batch, 1, 64, 64) and set(np.unique(maps)) <= {1, 2, 3}
        ours = ((tiles.transpose(0, 3, 1, 2) - np.array(offset)[:, None, None]) / np.array(scale)[:, None, None])
        (probs,) = view.session.run(None, {view.input_name: ours.astype(np.float32)})
        assert np.array_equal(maps[:, 0], probs.argmax(axis=1) + 1), "Deepness's normalisation differs from ours"
    # rsseg runs the fixed form too, at its tile size
    result = segment_raster(str(image), str(path), str(tmp_path / "classes.tif"), feedback=QUIET)
    assert result.tile_size == (64, 64)


def test_dynamic_export_has_a_static_class_count_but_needs_fixed_shape_for_deepness(tmp_path, finetuned):
    path = export_checkpoint(finetuned[0], tmp_path / "dynamic.onnx", tile_size=64, feedback=QUIET)
    declared = [d.dim_value or d.dim_param for d in onnx.load(str(path)).graph.output[0].type.tensor_type.shape.dim]
    assert declared == ["batch", 3, "height", "width"]
    with pytest.raises(DeepnessRefusedError, match="width 'width' is symbolic"):
        load_like_deepness(path)


def test_reader_refuses_what_deepness_refuses(tmp_path):
    good = conv_model(tmp_path / "good.onnx", input_size=64, card=ModelCard(class_names=NAMES, tile_size=64))
    assert load_like_deepness(good).classes == [3]
    # what onnxruntime reported for every export before (onnxruntime infers this tiny model's
    # class count itself, so the old declaration is played by a session that reports it)
    with pytest.raises(DeepnessRefusedError, match="class dim 'Softmaxoutput_dim_1' is symbolic"):
        read_like_deepness(_OldExportSession(ort.InferenceSession(str(good), providers=["CPUExecutionProvider"])))
    with pytest.raises(DeepnessRefusedError, match="names 2"):
        load_like_deepness(conv_model(tmp_path / "names.onnx", input_size=64, card=ModelCard(class_names=NAMES[:2])))
    with pytest.raises(DeepnessRefusedError, match="tile_size 128"):
        load_like_deepness(conv_model(tmp_path / "tile.onnx", input_size=64, card=ModelCard(tile_size=128)))
    odd = load_like_deepness(conv_model(tmp_path / "odd.onnx", input_size=64, crop=1))
    with pytest.raises(DeepnessRefusedError, match="odd offset"):
        run_like_deepness(odd, _tiles(1, 64))
    centred = load_like_deepness(conv_model(tmp_path / "crop.onnx", input_size=64, crop=2))
    assert run_like_deepness(centred, _tiles(2, 64)).shape == (2, 1, 64, 64)


def test_fixed_shape_from_the_command_line_and_the_algorithm(tmp_path, finetuned, rsseg_provider):
    import processing

    from training.cli import main

    assert main(["export", str(finetuned[0]), str(tmp_path / "cli.onnx"), "--tile-size", "64", "--fixed-shape"]) == 0
    assert load_like_deepness(tmp_path / "cli.onnx").tile_size == 64
    result = processing.run("rsseg:export_onnx", {"CHECKPOINT": str(finetuned[0]), "TILE_SIZE": 64,
                                                  "FIXED_SHAPE": True, "OUTPUT_MODEL": str(tmp_path / "alg.onnx")})
    view = load_like_deepness(result["OUTPUT_MODEL"])
    assert (view.tile_size, view.batch, view.classes) == (64, None, [3])
