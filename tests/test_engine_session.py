"""Opening models: providers, shapes, cards, output conversion."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_onnx import conv_model

from engine.model_card import ModelCard
from engine.session import choose_providers, open_model, to_probabilities


def test_open_dynamic_model_reads_card_and_shapes(tmp_path):
    card = ModelCard(class_names=["a", "b"], tile_size=256, method="supervised")
    model = open_model(conv_model(tmp_path / "m.onnx", 4, 2, card=card), device="cpu", threads=1)
    assert model.input_channels == 4 and model.fixed_tile is None and model.fixed_batch is None
    assert model.card.class_names == ["a", "b"] and model.card.tile_size == 256 and model.card.method == "supervised"
    assert model.output_channels == 2 and model.provider == "CPUExecutionProvider"


def test_open_fixed_deepness_model(tmp_path):
    path = conv_model(tmp_path / "d.onnx", 3, 3, input_size=64, fixed_batch=1, crop=4,
                      metadata={"model_type": json.dumps("Segmentor"), "tiles_size": "64"})
    logs = []
    model = open_model(path, log=logs.append)
    assert model.fixed_tile == (64, 64) and model.fixed_batch == 1 and model.card.tile_size == 64
    assert "CPUExecutionProvider" in logs[0]
    assert model.probabilities(np.zeros((1, 3, 64, 64), np.float32)).shape == (1, 3, 56, 56)


def test_auto_device_falls_back_to_cpu_and_cuda_is_explained(monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert choose_providers("auto") == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="DEVICE: 'cuda' asked for"):
        choose_providers("cuda")
    with pytest.raises(ValueError, match="DEVICE: expected one of"):
        choose_providers("tpu")
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: both)
    assert choose_providers("auto")[0] == "CUDAExecutionProvider"
    assert choose_providers("cpu") == ["CPUExecutionProvider"]


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="MODEL: .* is not an ONNX model"):
        open_model(bad)
    with pytest.raises(ValueError, match="MODEL: .* does not exist"):
        open_model(tmp_path / "none.onnx")


def test_to_probabilities():
    logits = np.array([[[[0.0]], [[np.log(3.0)]]]], np.float32)
    np.testing.assert_allclose(to_probabilities(logits, "logits")[0, :, 0, 0], [0.25, 0.75], rtol=1e-6)
    sig = np.array([[[[0.8]]]], np.float32)
    np.testing.assert_allclose(to_probabilities(sig)[0, :, 0, 0], [0.2, 0.8], rtol=1e-6)
    np.testing.assert_allclose(to_probabilities(np.zeros((1, 1, 1, 1), np.float32), "logits")[0, :, 0, 0], [0.5, 0.5])
