"""Diffusion pretraining: schedules, the denoiser, a short training run, samples, checkpoint."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import SHARED_DATA, write_geotiff

from training.checkpoint import Checkpoint
from training.data.synthetic import paint_block_scene
from training.methods import pretrain
from training.methods.diffusion import (
    DiffusionMethod,
    alphas_cumprod,
    ddim_sample,
    denoiser_spec,
    q_sample,
)
from training.methods.diffusion_config import DiffusionConfig
from training.nets.unet_ddpm import DenoiserSpec, UNetDenoiser

TINY = dict(base_channels=8, channel_mults=[1, 2, 2], blocks_per_level=1, attention_levels=[2])


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedules_go_from_clean_to_noise(schedule):
    abar = alphas_cumprod(schedule, 1000)
    assert abar.shape == (1000,)
    assert torch.all(abar[1:] < abar[:-1])             # strictly more noise at every step
    assert abar[0] > 0.99 and abar[-1] < 1e-3           # starts clean, ends as noise
    assert torch.allclose(alphas_cumprod(schedule, 200)[-1], abar[-1], atol=5e-3)  # same process for other T


def test_the_form_offers_exactly_the_schedules_the_networks_know():
    from training.methods.diffusion_config import SCHEDULES
    from training.nets.diffusion_schedule import BETA_SCHEDULES

    assert tuple(SCHEDULES) == tuple(BETA_SCHEDULES)


def test_unknown_schedule_names_the_field():
    with pytest.raises(ValueError, match="SCHEDULE"):
        alphas_cumprod("quadratic", 1000)


def test_q_sample_matches_the_closed_form():
    abar = alphas_cumprod("linear", 1000).float()
    x0, noise = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    t = torch.tensor([0, 999])
    x_t = q_sample(x0, t, noise, abar)
    expected = abar[t].sqrt()[:, None, None, None] * x0 + (1 - abar[t]).sqrt()[:, None, None, None] * noise
    assert torch.allclose(x_t, expected)
    assert torch.allclose(x_t[1], noise[1], atol=0.05)  # t = T-1 is nearly pure noise


@pytest.mark.parametrize("bands", [1, 4])
def test_denoiser_keeps_shape_and_exposes_decoder_features(bands):
    net = UNetDenoiser(DenoiserSpec(in_channels=bands, **TINY))
    for size in (32, 36):  # 36 is not a multiple of the UNet's stride 4
        x = torch.randn(2, bands, size, size)
        assert net(x, torch.tensor([1, 500])).shape == x.shape
        feats = net.features(x, torch.tensor([1, 500]), [2, 4])
        assert feats[2].shape == (2, 16, -(-size // 2), -(-size // 2))
        assert feats[4].shape == (2, 16, -(-size // 4), -(-size // 4))
    with pytest.raises(ValueError, match="decoder strides"):
        net.features(x, torch.tensor([1, 2]), [8])


def test_preset_and_explicit_fields():
    small = denoiser_spec(DiffusionConfig(), 3)
    assert small.base_channels == 32 and small.channel_mults == [1, 1, 2, 2, 4, 4]
    custom = denoiser_spec(DiffusionConfig(base_channels=16, channel_mults=[1.0, 2.0], attention_levels=[-1]), 5)
    got = (custom.in_channels, custom.base_channels, custom.channel_mults, custom.attention_levels)
    assert got == (5, 16, [1, 2], [])
    with pytest.raises(ValueError, match="PRESET"):
        denoiser_spec(DiffusionConfig(preset="huge"), 3)


def _fixed_loss(method, images, t, noise):
    with torch.no_grad():
        x_t = q_sample(images, t, noise, method.abar)
        return float(torch.nn.functional.mse_loss(method.denoiser(x_t, t), noise))


def test_loss_falls_on_a_generated_scene():
    image, _ = paint_block_scene(64, 16, seed=1)
    x = torch.from_numpy(image.astype(np.float32))
    x = (x - x.mean(dim=(1, 2), keepdim=True)) / x.std(dim=(1, 2), keepdim=True)
    patches = torch.stack([x[:, r:r + 32, c:c + 32] for r in (0, 16, 32) for c in (0, 16, 32)])
    config = DiffusionConfig(learning_rate=3e-3, warmup_steps=0, **TINY)
    method = DiffusionMethod(config, 3)
    optimizer, _ = method.build_optimizer(40)
    gen = torch.Generator().manual_seed(1)
    t_eval = torch.randint(0, 1000, (9,), generator=gen)
    noise_eval = torch.randn(patches.shape, generator=gen)
    before = _fixed_loss(method, patches, t_eval, noise_eval)
    for step in range(40):
        loss, _ = method.training_step(patches, step, 40)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.after_optimizer_step(step + 1, 40)
    after = _fixed_loss(method, patches, t_eval, noise_eval)
    assert before == pytest.approx(float((noise_eval**2).mean()), rel=1e-5)  # zero-initialised output predicts 0
    assert after < 0.8 * before
    # the EMA copy moved away from the initial weights but is not the live copy
    live = dict(method.denoiser.named_parameters())
    ema = dict(method.ema.named_parameters())
    assert not torch.equal(live["conv_out.weight"], ema["conv_out.weight"])
    assert ema["conv_out.weight"].abs().sum() > 0
    assert not any(p.requires_grad for p in method.ema.parameters())


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_sampling_returns_finite_images_of_the_right_shape(eta):
    net = UNetDenoiser(DenoiserSpec(in_channels=4, **TINY))
    for p in net.parameters():  # a non-trivial (random) denoiser
        torch.nn.init.normal_(p, std=0.05)
    abar = alphas_cumprod("cosine", 100).float()
    out = ddim_sample(net, (2, 4, 24, 24), abar, steps=5, eta=eta, clip=4.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 4, 24, 24) and torch.isfinite(out).all()
    again = ddim_sample(net, (2, 4, 24, 24), abar, steps=5, eta=eta, clip=4.0,
                        generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # seeded sampling repeats


def test_pretraining_run_writes_checkpoint_and_sample_grid(tmp_path):
    image, _ = paint_block_scene(64, 16, seed=2)
    raster = write_geotiff(tmp_path / "scene.tif", image)
    config = DiffusionConfig(inputs=[str(raster)], patch_size=32, batch_size=4, epochs=1, patches_per_epoch=8,
                             sample_steps=3, sample_count=2, **TINY)
    result = pretrain("diffusion", config, tmp_path / "ddpm.pt", resume=False)
    ck = Checkpoint.load(result.checkpoint)
    assert ck.method == "diffusion" and ck.finished and ck.step == 2
    spec = ck.extra_state["denoiser"]
    assert spec["in_channels"] == 3 and spec["channel_mults"] == [1, 2, 2]
    assert ck.extra_state["diffusion"]["schedule"] == "linear"
    rebuilt = UNetDenoiser(DenoiserSpec.from_dict(spec))
    rebuilt.load_state_dict(ck.encoder_state)  # encoder_state = the EMA denoiser, loadable as is
    png = result.diagnostics[-1]
    assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 2 rows of 32 px + 4 px separator
    assert int.from_bytes(png.read_bytes()[20:24], "big") == 68


def test_dubai_folder_defaults_work(tmp_path):
    folder = SHARED_DATA / "dubai_aerial" / "geotiff"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    config = DiffusionConfig(inputs=[str(folder)], epochs=1, patches_per_epoch=8, batch_size=4,
                             base_channels=8, sample_steps=2, sample_count=1)
    result = pretrain("diffusion", config, tmp_path / "dubai.pt", resume=False)
    ck = Checkpoint.load(result.checkpoint)
    assert ck.bands == [1, 2, 3] and ck.step == 2  # label rasters were skipped (they have 1 band)
