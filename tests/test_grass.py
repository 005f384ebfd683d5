"""GraSS pretraining end to end: runs, learns, saves an encoder fine-tuning can use, and
fails clearly on bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO, SHARED_DATA, write_geotiff

from training.checkpoint import Checkpoint
from training.methods import pretrain
from training.methods.grass import GraSSMethod
from training.methods.grass_config import GraSSConfig
from training.methods.grass_optim import LARS
from training.nets.resnet import ResNetEncoder


def _blocks_raster(path: Path, size: int = 192, seed: int = 0) -> Path:
    """A 3-band scene of coloured rectangles on textured ground: patches differ, so the
    contrastive task is learnable."""
    rng = np.random.default_rng(seed)
    image = (rng.normal(110, 12, (3, size, size))).clip(0, 255)
    for _ in range(40):
        r, c = rng.integers(0, size - 16, 2)
        h, w = rng.integers(8, 32, 2)
        image[:, r : r + h, c : c + w] = rng.integers(0, 255, (3, 1, 1))
    return write_geotiff(path, image.astype(np.uint8))


def _config(raster: Path, **kwargs) -> GraSSConfig:
    base = dict(inputs=[str(raster)], patch_size=64, batch_size=4, epochs=2, warmup_epochs=1,
                patches_per_epoch=8, optimizer="adamw", learning_rate=0.05, device="cpu")
    base.update(kwargs)
    return GraSSConfig(**base)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _fixed_view_loss(method: GraSSMethod, batch: torch.Tensor) -> float:
    generator = torch.Generator().manual_seed(7)
    views = method.make_views(batch, generator=generator)
    method.train()
    with torch.no_grad():
        return float(method.contrast(method.embed(views)))


def test_short_run_lowers_the_loss_and_saves_a_usable_encoder(tmp_path):
    raster = _blocks_raster(tmp_path / "scene.tif")
    config = _config(raster, epochs=3, warmup_epochs=1, patches_per_epoch=8)
    output = tmp_path / "grass.pt"
    result = pretrain("grass", config, output, resume=False)

    ck = Checkpoint.load(output)
    assert ck.method == "grass" and ck.finished and ck.epoch == 3
    assert ck.config["config_type"] == "GraSSConfig" and ck.config["warmup_epochs"] == 1
    # the two stages are in the history, with their throughput
    assert [h["stage"] for h in result.history] == [1.0, 2.0, 2.0]
    assert all(h["patches_per_second"] > 0 for h in result.history)
    assert 0.0 <= result.history[-1]["region_found"] <= 1.0 and "guide_loss" in result.history[-1]

    torch.manual_seed(config.seed)
    after = GraSSMethod(config, 3)
    after.load_state_dict(ck.model_state)
    # the encoder loads into fine-tuning's ResNetEncoder without renaming
    encoder = ResNetEncoder(18, 3)
    encoder.load_state_dict(ck.encoder_state)
    assert torch.equal(encoder.layer4[1].conv2.weight, after.encoder.layer4[1].conv2.weight)

    # and diagnostics show views, maps and boxes
    pngs = sorted((tmp_path / "grass_diagnostics").glob("grass_epoch*.png"))
    assert len(pngs) == 3 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("stage_steps", [(0, 1), (1, 1)])  # (warm-up epochs, epochs): stage 1 or 2
def test_training_steps_lower_the_loss_on_a_batch(tmp_path, stage_steps):
    warmup, _ = stage_steps
    raster = _blocks_raster(tmp_path / "scene.tif")
    from training.data.rasters import UnlabeledPatchDataset, compute_normalization

    norm = compute_normalization([raster], [1, 2, 3])
    dataset = UnlabeledPatchDataset([raster], [1, 2, 3], 64, 4, norm, seed=3)
    batch = torch.stack([dataset[i] for i in range(4)])
    torch.manual_seed(0)
    config = GraSSConfig(patch_size=64, batch_size=4, epochs=2, warmup_epochs=warmup, optimizer="adamw",
                         learning_rate=2e-3, lr_reference_batch=0, warmup_steps=1, crop_scale_min=1.0,
                         flip_rotate=False, jitter_probability=0.0, blur_probability=0.0, grayscale_probability=0.0)
                         # identical views: the task is learnable in 15 steps
    method = GraSSMethod(config, 3)
    optimizer, _ = method.build_optimizer(100)
    before = _fixed_view_loss(method, batch)
    for step in range(15):
        loss, logs = method.training_step(batch, step, total_steps=30)
        assert logs["stage"] == (1.0 if warmup else 2.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert _fixed_view_loss(method, batch) < before - 0.1


def test_checkpoint_loads_into_deeplab(tmp_path):
    deeplab = pytest.importorskip("training.nets.deeplab")
    raster = _blocks_raster(tmp_path / "scene.tif", size=96)
    output = tmp_path / "grass.pt"
    pretrain("grass", _config(raster, patches_per_epoch=4, epochs=2), output, resume=False)
    ck = Checkpoint.load(output)
    net = deeplab.build(3, 5, pretrained=ck, backbone="resnet18")
    for name, value in ck.encoder_state.items():
        assert torch.equal(net.encoder.state_dict()[name], value), name
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 5, 64, 64)


def test_batch_size_one_is_refused(tmp_path):
    raster = _blocks_raster(tmp_path / "scene.tif", size=96)
    with pytest.raises(ValueError, match="BATCH_SIZE must be at least 2: NT-Xent contrasts each patch"):
        pretrain("grass", _config(raster, batch_size=1), tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_patch_larger_than_the_raster_is_explained(tmp_path):
    raster = _blocks_raster(tmp_path / "small.tif", size=48)
    with pytest.raises(ValueError, match="PATCH_SIZE 64 is larger than every raster.*at most 48"):
        pretrain("grass", _config(raster), tmp_path / "x.pt")


def test_nodata_only_raster_is_explained(tmp_path):
    raster = write_geotiff(tmp_path / "empty.tif", np.zeros((3, 96, 96), np.uint8), nodata=0)
    with pytest.raises(ValueError, match="only nodata"):
        pretrain("grass", _config(raster), tmp_path / "x.pt")


@pytest.mark.parametrize("change, message", [
    (dict(patch_size=32), "PATCH_SIZE must be at least 64"),
    (dict(warmup_epochs=2, epochs=2), "WARMUP_EPOCHS must be between 0 and EPOCHS - 1"),
    (dict(optimizer="adam"), "OPTIMIZER must be one of sgd_lars, adamw"),
    (dict(region_threshold=1.0), "REGION_THRESHOLD"),
    (dict(map_sign="negative"), "MAP_SIGN"),
])
def test_bad_settings_name_the_parameter(change, message):
    config = GraSSConfig(**{**dict(patch_size=64, batch_size=4, epochs=3, warmup_epochs=1), **change})
    with pytest.raises(ValueError, match=message):
        GraSSMethod(config, 3).validate(config)


def test_stage_switches_after_the_warmup_epochs():
    method = GraSSMethod(GraSSConfig(epochs=4, warmup_epochs=2), 3)
    total = 4 * 5
    assert [method.stage(s, total) for s in (0, 9, 10, 19)] == [1, 1, 2, 2]


def test_lars_step_matches_the_larc_formula():
    p = torch.nn.Parameter(torch.tensor([3.0, 4.0]))       # ||w|| = 5
    p.grad = torch.tensor([0.0, 2.0])                        # ||g|| = 2
    opt = LARS([p], lr=0.5, momentum=0.9, weight_decay=0.1, trust_coefficient=0.01)
    opt.step()
    ratio = 0.01 * 5 / (2 + 0.1 * 5 + 1e-8)
    expected = torch.tensor([3.0, 4.0]) - 0.5 * ratio * (torch.tensor([0.0, 2.0]) + 0.1 * torch.tensor([3.0, 4.0]))
    assert torch.allclose(p.detach(), expected)


def test_optimizer_scales_the_rate_by_batch_and_spares_batchnorm():
    config = GraSSConfig(batch_size=64, learning_rate=0.3, warmup_steps=0, warmup_fraction=0.1)
    method = GraSSMethod(config, 4)
    optimizer, scheduler = method.build_optimizer(100)
    assert isinstance(optimizer, LARS)
    groups = optimizer.param_groups
    assert groups[0]["weight_decay"] == 1e-6 and groups[1]["weight_decay"] == 0.0
    bn_ids = {id(p) for m in method.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    assert {id(p) for p in groups[1]["params"]} == bn_ids
    peak = 0.3 * (64 / 256) ** 0.5                                                   # square-root rule
    assert optimizer.param_groups[0]["lr"] == pytest.approx(peak * 1 / 10)             # first warm-up step
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(peak, rel=1e-3)


def test_any_band_count_trains_one_step():
    config = GraSSConfig(patch_size=64, batch_size=2, epochs=2, warmup_epochs=0)
    method = GraSSMethod(config, 5)
    loss, logs = method.training_step(torch.randn(2, 5, 64, 64), step=0, total_steps=2)
    loss.backward()
    assert torch.isfinite(loss) and logs["stage"] == 2.0
    assert method.encoder.stem[0].weight.grad is not None


def test_cli_lists_grass_fields():
    out = subprocess.run([sys.executable, "-m", "training", "pretrain", "grass", "--help"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--warmup-epochs" in out.stdout and "--map-sign" in out.stdout


@pytest.mark.slow
def test_runs_on_the_dubai_folder(tmp_path):
    folder = SHARED_DATA / "dubai_aerial" / "geotiff"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    config = GraSSConfig(inputs=[str(folder)], patch_size=64, batch_size=4, epochs=2, warmup_epochs=1,
                         patches_per_epoch=8, device="cpu")
    result = pretrain("grass", config, tmp_path / "dubai.pt", resume=False)
    ck = Checkpoint.load(tmp_path / "dubai.pt")
    assert ck.bands == [1, 2, 3] and ck.finished
    assert [h["stage"] for h in result.history] == [1.0, 2.0]
