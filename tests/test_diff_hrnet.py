"""Diff-HRNet specifics: built from a diffusion checkpoint, frozen denoiser, fusions, determinism
(shapes, rebuild and ONNX parity: test_architecture_contract.py)."""
from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import (
    calibrate_batchnorm,
    write_geotiff,
)

from training.checkpoint import Checkpoint
from training.data.synthetic import paint_block_scene
from training.methods import pretrain
from training.methods.diffusion_config import DiffusionConfig
from training.nets.diff_hrnet import build
from training.nets.registry import build_segmentation_net

HRNET = dict(width=4, modules=[1, 1, 1, 1], blocks=1, stem_channels=8)
DENOISER = dict(base_channels=8, channel_mults=[1, 1, 2, 2, 2, 2], blocks_per_level=1, attention_levels=[4])


def _diffusion_checkpoint(folder, **denoiser) -> Checkpoint:
    torch.set_num_threads(1)
    image, _ = paint_block_scene(64, 16, seed=3)
    raster = write_geotiff(folder / "scene.tif", image)
    config = DiffusionConfig(inputs=[str(raster)], patch_size=32, batch_size=4, epochs=1, patches_per_epoch=8,
                             sample_steps=2, sample_count=1, **denoiser)
    return Checkpoint.load(pretrain("diffusion", config, folder / "ddpm.pt", resume=False).checkpoint)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return _diffusion_checkpoint(tmp_path_factory.mktemp("ddpm"), **DENOISER)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _net(checkpoint, **kwargs):
    return build_segmentation_net("diff_hrnet", 3, 4, pretrained=checkpoint, **{**HRNET, **kwargs})


def test_denoiser_holds_the_ema_weights_and_stays_frozen(checkpoint):
    net = _net(checkpoint)
    for name, value in checkpoint.encoder_state.items():
        assert torch.equal(net.denoiser.state_dict()[name], value), name
    net.train()
    assert net.training and net.hrnet.training and not net.denoiser.training
    assert not any(p.requires_grad for p in net.denoiser.parameters())
    frozen = {k: v.clone() for k, v in net.denoiser.state_dict().items()}
    hr_before = {k: v.clone() for k, v in net.hrnet.state_dict().items()}
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.1)  # all params, as a careless caller would
    loss = torch.nn.functional.cross_entropy(net(torch.randn(2, 3, 64, 64)), torch.randint(0, 4, (2, 64, 64)))
    loss.backward()
    optimizer.step()
    assert all(torch.equal(frozen[k], v) for k, v in net.denoiser.state_dict().items())
    assert any(not torch.equal(hr_before[k], v) for k, v in net.hrnet.state_dict().items())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.fusions.parameters())


def test_without_a_diffusion_checkpoint_the_error_says_what_to_do(checkpoint):
    with pytest.raises(ValueError, match="ARCHITECTURE diff_hrnet needs a diffusion checkpoint as PRETRAINED"):
        build(3, 4, pretrained=None, **HRNET)

    class ResNetCheckpoint:
        method, encoder_state, extra_state = "grass", {"stem.0.weight": torch.zeros(1)}, {}

    with pytest.raises(ValueError, match="PRETRAINED.*diffusion checkpoint.*grass"):
        build(3, 4, pretrained=ResNetCheckpoint())
    with pytest.raises(ValueError, match="BANDS"):
        build(4, 4, pretrained=checkpoint, **HRNET)


@pytest.mark.parametrize("fusion", ["add", "gated"])
def test_fusion_starts_as_a_plain_hrnet_and_learns_to_use_the_prior(checkpoint, fusion):
    """At init the projected prior is scaled by a zero BN weight: the output is HRNet's.
    The zero must not be a dead end: one optimiser step makes the prior count."""
    net = _net(checkpoint, fusion=fusion)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        net.eval()
        assert torch.allclose(net(x), net.hrnet(x), atol=1e-6)
    net.train()
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net(x).square().mean().backward()
    optimizer.step()
    with torch.no_grad():
        net.eval()
        assert not torch.allclose(net(x), net.hrnet(x), atol=1e-4)


def test_shallow_denoiser_is_resampled_to_the_coarse_branches(tmp_path):
    checkpoint = _diffusion_checkpoint(tmp_path, base_channels=8, channel_mults=[1, 2, 2], attention_levels=[2])
    net = _net(checkpoint, fusion="concat", fusion_stages=[3, 4], timesteps=[50]).eval()
    assert net.source_stride == {4: 4, 8: 4, 16: 4, 32: 4}
    with torch.no_grad():
        assert net(torch.randn(1, 3, 72, 64)).shape == (1, 4, 72, 64)


def _rebuilt(net):
    """What export does: rebuild from architecture_kwargs, load the full state dict."""
    again = build(3, 4, pretrained=None, **net.architecture_kwargs)
    again.load_state_dict(net.state_dict())
    return again.eval()


def _export(net, example) -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(
        net, (example,), buffer, dynamo=False, opset_version=17,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}},
    )
    return buffer.getvalue()


def _trained_a_little(checkpoint):
    net = _net(checkpoint, noise_tile=32)   # small tile: inputs below are larger, so the noise is tiled
    return calibrate_batchnorm(net, torch.randn(2, 3, 64, 64))


def test_rebuilt_networks_are_deterministic_and_identical(checkpoint):
    net = _trained_a_little(checkpoint)
    first, second = _rebuilt(net), _rebuilt(net)
    x = torch.randn(2, 3, 80, 72)
    with torch.no_grad():
        outputs = [m(x) for m in (net, net, first, second)]
    assert all(torch.equal(outputs[0], o) for o in outputs[1:])  # fixed noise: same input, same output


@pytest.mark.slow
def test_two_exports_give_identical_outputs(checkpoint):
    ort = pytest.importorskip("onnxruntime")
    net = _trained_a_little(checkpoint)
    example, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 96, 64)
    outputs = []
    for _ in range(2):
        session = ort.InferenceSession(_export(_rebuilt(net), example), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"input": x.numpy()})[0])
    assert np.array_equal(outputs[0], outputs[1])


@pytest.mark.slow
def test_finetune_and_export_end_to_end(tmp_path):
    """Rsseg's own fine-tuning and export (HRNetV2-W18 size) on a diffusion checkpoint."""
    from training.data.synthetic import write_block_scene
    from training.export import export_checkpoint
    from training.finetune import finetune
    from training.finetune_config import FinetuneConfig

    image, labels = write_block_scene(tmp_path, size=128, block=32)
    config = DiffusionConfig(inputs=[str(image)], patch_size=32, batch_size=4, epochs=1, patches_per_epoch=8,
                             base_channels=8, sample_steps=2, sample_count=1)
    ddpm = pretrain("diffusion", config, tmp_path / "ddpm.pt", resume=False).checkpoint
    tuned = finetune(FinetuneConfig(
        images=[str(image)], labels=[str(labels)], architecture="diff_hrnet", pretrained=str(ddpm), epochs=1,
        batch_size=2, patch_size=64, patches_per_epoch=4, split_block_size=64, val_fraction=0.25, device="cpu",
    ), tmp_path / "tuned.pt").checkpoint
    ck = Checkpoint.load(tuned)
    assert ck.architecture == "diff_hrnet" and ck.architecture_kwargs["denoiser"]["base_channels"] == 8
    for name, value in Checkpoint.load(ddpm).encoder_state.items():  # frozen through fine-tuning
        assert torch.equal(ck.model_state[f"denoiser.{name}"], value), name
    assert export_checkpoint(tuned, tmp_path / "tuned.onnx").is_file()  # export checks ONNX vs torch itself


def test_fusion_lr_scale_puts_the_fusions_in_their_own_group(checkpoint):
    from training.finetune import parameter_groups

    net = _net(checkpoint)
    groups = parameter_groups(net, 1e-3, 0.1, fusion_scale=30.0)
    fusion_ids = {id(p) for p in net.fusions.parameters()}
    scaled = [g for g in groups if g.get("lr") == pytest.approx(3e-2)]
    assert len(scaled) == 1 and {id(p) for p in scaled[0]["params"]} == fusion_ids
    rest = [g for g in groups if "lr" not in g]
    assert len(rest) == 1 and not fusion_ids & {id(p) for p in rest[0]["params"]}
    assert sum(len(g["params"]) for g in groups) == len([p for p in net.parameters() if p.requires_grad])
    assert len(parameter_groups(net, 1e-3, 0.1)) == 1   # no encoder attribute, fusions at the rate: one group


def test_a_higher_fusion_rate_opens_the_fusions_further(checkpoint):
    """AdamW moves a zero-initialised BN scale by ~the learning rate per step: the same short
    run with the fusions at 10x the rate ends with them about 10x more open."""
    from training.finetune import parameter_groups
    from training.nets.diff_hrnet import fusion_openness

    x, y = torch.randn(2, 3, 64, 64), torch.randint(0, 4, (2, 64, 64))
    openness = []
    for scale in (1.0, 10.0):
        torch.manual_seed(0)
        net = _net(checkpoint).train()
        assert fusion_openness(net.state_dict()) == 0.0
        optimizer = torch.optim.AdamW(parameter_groups(net, 1e-3, 1.0, scale), lr=1e-3)
        for _ in range(5):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        openness.append(fusion_openness(net.state_dict()))
    assert openness[1] > 5 * openness[0] > 0
    assert fusion_openness(build_segmentation_net("hrnet", 3, 4, **HRNET).state_dict()) is None
