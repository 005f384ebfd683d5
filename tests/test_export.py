"""ONNX export: parity with torch, the model card round trip, and refusals."""
from __future__ import annotations

import random

import numpy as np
import pytest
from finetune_scene import tiny_config, write_scene

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch.set_num_threads(1)

from engine.model_card import ModelCard
from engine.progress import RunFeedback
from training.checkpoint import Checkpoint, CheckpointError
from training.export import ExportError, export_checkpoint, export_module
from training.finetune import finetune

QUIET = RunFeedback(log=lambda _m: None)


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    image, label = write_scene(folder, size=64)
    config = tiny_config(image, label, val_fraction=0.0, patches_per_epoch=4,
                         class_names=["water", "sand", "trees"], class_colors=[[0, 0, 255], [], [0, 128, 0]])
    return finetune(config, folder / "m.pt", feedback=QUIET).checkpoint


def _card(path) -> ModelCard:
    model = onnx.load(str(path))
    return ModelCard.from_metadata({p.key: p.value for p in model.metadata_props})


def test_export_checkpoint_parity_and_card(tmp_path, finetuned):
    logs: list[str] = []
    path = export_checkpoint(finetuned, tmp_path / "model.onnx", overlap_percent=10,
                             feedback=RunFeedback(log=logs.append))
    assert any("max difference to torch" in line for line in logs)
    card = _card(path)
    ckpt = Checkpoint.load(finetuned)
    assert card.class_names == ["water", "sand", "trees"]
    assert card.class_colors[0] == (0, 0, 255) and card.class_colors[2] == (0, 128, 0)
    assert card.bands == [1, 2, 3] and card.band_offset == pytest.approx(ckpt.band_offset)
    assert card.band_scale == pytest.approx(ckpt.band_scale)
    assert (card.tile_size, card.tile_overlap_percent) == (32, 10.0)   # the training patch size: its geometry
    assert card.outputs == "probabilities" and card.task == "segmentation" and card.method == "supervised"
    assert card.config["architecture"] == "deeplabv3plus"
    assert card.config["architecture_kwargs"]["backbone"] == "resnet18"
    assert card.resolution_cm == pytest.approx(100.0)
    # dynamic batch and tile size; probabilities sum to one
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 3, 80, 48)).astype(np.float32)
    (y,) = session.run(None, {"input": x})
    assert y.shape == (3, 3, 80, 48)
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)


class Jittery(torch.nn.Module):
    """Traced once with one random factor, run eagerly with another: export must refuse it."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 1)

    def forward(self, x):
        return self.conv(x) * (1.0 + random.random())


def test_export_module_refuses_a_mismatch(tmp_path):
    target = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="differs from torch"):
        export_module(Jittery(), ModelCard(class_names=["a", "b", "c"]), 2, target, sample_size=16, feedback=QUIET)
    assert not target.exists() and not list(tmp_path.glob("*.tmp"))


def test_export_module_generic(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(5, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))
    card = ModelCard(class_names=["x", "y"], task="clusters", method="sdcluster")
    path = export_module(net, card, 5, tmp_path / "sub" / "generic.onnx", sample_size=16, feedback=QUIET)
    back = _card(path)
    assert back.task == "clusters" and back.method == "sdcluster" and back.outputs == "probabilities"


def test_export_refuses_pretraining_and_corrupt_checkpoints(tmp_path):
    pre = tmp_path / "grass.pt"
    Checkpoint(method="grass", config={}, bands=[1, 2, 3], band_offset=[0.0] * 3, band_scale=[1.0] * 3,
               model_state={}).save(pre)
    expected = "CHECKPOINT: grass.pt is a grass pretraining checkpoint.*fine-tune it first"
    with pytest.raises(CheckpointError, match=expected):
        export_checkpoint(pre, tmp_path / "x.onnx")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="CHECKPOINT: .*not a readable rsseg checkpoint"):
        export_checkpoint(bad, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
