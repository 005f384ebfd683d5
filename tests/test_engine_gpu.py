"""The CUDA path, tested without a GPU: provider options, batch sizing, IO-binding dispatch, fp16 numerics.

No GPU was available where this was written: these tests check the logic with fakes and the
fp16 numbers with onnxruntime's CPU provider; the speed on a GPU is not measured here.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from helpers_onnx import conv_model

import engine.session as session_mod
from engine.segment import choose_batch
from engine.session import (
    CUDA_PROVIDER,
    GPU_MAX_BATCH,
    cuda_free_bytes,
    gpu_batch,
    open_model,
    session_providers,
)


def test_cuda_provider_gets_its_options_and_cpu_stays_plain():
    providers = session_providers([CUDA_PROVIDER, "CPUExecutionProvider"])
    assert providers[0][0] == CUDA_PROVIDER and providers[0][1]["cudnn_conv_algo_search"] == "HEURISTIC"
    assert providers[1] == "CPUExecutionProvider"


def test_gpu_batch_fits_half_the_free_memory_and_is_bounded():
    tile = (512, 512)
    per_tile = 512 * 512 * session_mod.GPU_BYTES_PER_PIXEL
    assert gpu_batch(6 * per_tile, tile) == 3
    assert gpu_batch(10 * 2**40, tile) == GPU_MAX_BATCH
    assert gpu_batch(per_tile // 10, tile) == 1
    assert gpu_batch(None, tile) is None and gpu_batch(0, tile) is None


def test_cuda_free_bytes_reads_nvidia_smi_and_survives_its_absence(monkeypatch):
    monkeypatch.setattr(session_mod.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def fake_run(cmd, **kwargs):
        assert "--query-gpu=memory.free" in cmd
        return subprocess.CompletedProcess(cmd, 0, stdout="40536\n", stderr="")

    assert cuda_free_bytes(run=fake_run) == 40536 * 2**20

    def broken(cmd, **kwargs):
        raise subprocess.CalledProcessError(9, cmd)

    assert cuda_free_bytes(run=broken) is None
    monkeypatch.setattr(session_mod.shutil, "which", lambda name: None)
    assert cuda_free_bytes(run=fake_run) is None


def test_automatic_batch_on_cuda_follows_gpu_memory_explicit_batch_wins(tmp_path):
    model = open_model(conv_model(tmp_path / "m.onnx", 3, 2), device="cpu")
    free = lambda: 6 * 512 * 512 * session_mod.GPU_BYTES_PER_PIXEL
    assert choose_batch(model, 0, tile=(512, 512), free_bytes=free) == 4  # CPU: the default, memory ignored
    model.provider = CUDA_PROVIDER  # what open_model reports on a GPU
    assert choose_batch(model, 0, tile=(512, 512), free_bytes=free) == 3
    assert choose_batch(model, 7, tile=(512, 512), free_bytes=free) == 7
    assert choose_batch(model, 0, tile=(512, 512), free_bytes=lambda: None) == 4


def test_cuda_runs_go_through_io_binding(tmp_path, monkeypatch):
    model = open_model(conv_model(tmp_path / "m.onnx", 3, 2), device="cpu")
    outputs = model.session.get_outputs()
    calls = []

    class FakeBinding:
        def bind_ortvalue_input(self, name, value):
            calls.append(("input", name))
            self.value = value

        def bind_output(self, name, device, device_id):
            calls.append(("output", name, device))

        def copy_outputs_to_cpu(self):
            return [np.ones((self.value.shape[0], 2, 4, 4), np.float32) / 2]

    class FakeSession:
        def io_binding(self):
            return FakeBinding()

        def get_outputs(self):
            return outputs

        def run_with_iobinding(self, binding):
            calls.append(("run",))

    monkeypatch.setattr(session_mod.ort.OrtValue, "ortvalue_from_numpy", staticmethod(lambda a, d, i: a))
    model.session, model.provider = FakeSession(), CUDA_PROVIDER
    out = model.probabilities(np.zeros((3, 3, 4, 4), np.float32))
    assert out.shape == (3, 2, 4, 4)
    assert calls == [("input", "input"), ("output", "output", "cuda"), ("run",)]


def test_fp16_export_keeps_the_classes(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from engine.model_card import ModelCard
    from training.export import export_module
    from training.nets.deeplab import DeepLabV3Plus
    from training.quantize import compare_classes, to_fp16

    torch.manual_seed(0)
    net = DeepLabV3Plus(3, 4, aspp_channels=32, decoder_channels=32, low_level_channels=8).eval()
    card = ModelCard(class_names=[f"c{k}" for k in range(4)])
    fp32 = export_module(net, card, 3, tmp_path / "fp32.onnx", check=False)
    half = to_fp16(fp32, tmp_path / "fp16.onnx")
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32) for _ in range(2)]
    agreement, _ = compare_classes(fp32, half, batches)
    assert agreement > 0.98
    assert open_model(half, device="cpu").card.class_names == card.class_names  # the card survives
