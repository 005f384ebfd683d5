"""Fine-tuning runs: the loss falls, resume and cancel, frozen encoder, checkpoint messages."""
from __future__ import annotations

import pytest
from finetune_scene import tiny_config, write_scene
from helpers import cancel_after

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from engine.progress import Cancelled, RunFeedback
from training.checkpoint import Checkpoint, CheckpointError
from training.finetune import best_checkpoint_path, finetune, last_checkpoint_path
from training.nets.deeplab import build
from training.nets.resnet import ResNetEncoder

QUIET = RunFeedback(log=lambda _m: None)


@pytest.fixture
def scene(tmp_path):
    return write_scene(tmp_path, size=96)


def test_a_few_steps_lower_the_loss(tmp_path, scene):
    config = tiny_config(*scene, epochs=3, patches_per_epoch=8, val_fraction=0.0)
    logs: list[str] = []
    result = finetune(config, tmp_path / "m.pt", feedback=RunFeedback(log=logs.append))
    losses = [r["loss"] for r in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert any(line.startswith("step 6/6 (epoch 3): loss") for line in logs)
    ckpt = Checkpoint.load(tmp_path / "m.pt")
    assert ckpt.method == "supervised" and ckpt.architecture == "deeplabv3plus" and ckpt.finished
    assert ckpt.architecture_kwargs["backbone"] == "resnet18"
    assert ckpt.class_names == ["class 0", "class 1", "class 2"] and len(ckpt.class_colors) == 3
    assert ckpt.bands == [1, 2, 3] and len(ckpt.band_offset) == 3
    assert ckpt.config["config_type"] == "FinetuneConfig" and ckpt.history == result.history
    assert not best_checkpoint_path(tmp_path / "m.pt").exists()      # renamed to the output
    assert last_checkpoint_path(tmp_path / "m.pt").exists()


def test_validation_miou_is_logged_and_best_kept(tmp_path, scene):
    config = tiny_config(*scene, epochs=2, val_fraction=0.25, split_block_size=48)
    result = finetune(config, tmp_path / "m.pt", feedback=QUIET)
    mious = [r["val_miou"] for r in result.history]
    steps = [r["step"] for r in result.history]
    assert result.best_miou == max(mious) and result.best_step == steps[mious.index(max(mious))]
    assert Checkpoint.load(tmp_path / "m.pt").extra_state["best_miou"] == result.best_miou


def test_cancel_keeps_output_and_resume_continues(tmp_path, scene):
    output = tmp_path / "m.pt"
    output.write_bytes(b"previous model")
    config = tiny_config(*scene, epochs=2, patches_per_epoch=8, val_fraction=0.0)
    with pytest.raises(Cancelled):               # steps 1-3 run, the 4th poll cancels
        finetune(config, output, feedback=RunFeedback(log=lambda _m: None, is_cancelled=cancel_after(3)))
    assert output.read_bytes() == b"previous model"          # nothing overwritten
    last = Checkpoint.load(last_checkpoint_path(output))
    assert (last.epoch, last.step) == (1, 3)
    uninterrupted = finetune(config, tmp_path / "u.pt", feedback=QUIET, resume=False)
    result = finetune(config, output, feedback=QUIET, resume=True)
    assert [r["step"] for r in result.history] == [2, 4]
    final = Checkpoint.load(output)
    assert final.step == 4 and final.finished                # 2 epochs x 2 steps, none repeated
    for key, value in uninterrupted.model_state.items():     # the same crops, in the same order
        assert torch.allclose(value.float(), result.model_state[key].float(), atol=1e-5), key
    # resuming with more epochs extends the run
    longer = tiny_config(*scene, epochs=3, patches_per_epoch=8, val_fraction=0.0)
    result = finetune(longer, output, feedback=QUIET, resume=True)
    assert [r["step"] for r in result.history] == [2, 4, 6] and Checkpoint.load(output).step == 6


def test_frozen_encoder_does_not_move(tmp_path, scene):
    config = tiny_config(*scene, epochs=1, patches_per_epoch=8, val_fraction=0.0, freeze_encoder=True)
    torch.manual_seed(0)
    result = finetune(config, tmp_path / "m.pt", feedback=QUIET)
    ckpt = Checkpoint.load(result.checkpoint)
    torch.manual_seed(config.seed)                  # the same initialisation as the run
    reference = build(3, 3).state_dict()
    for key, value in ckpt.model_state.items():
        if key.startswith("encoder."):
            assert torch.equal(value, reference[key]), key
    head = [k for k in ckpt.model_state if k.startswith("classifier.")]
    assert not all(torch.equal(ckpt.model_state[k], reference[k]) for k in head)


def _pretraining_checkpoint(path, method="grass", bands=3, encoder=True, backbone="resnet18"):
    state = ResNetEncoder(18, bands).state_dict() if encoder else None
    Checkpoint(method=method, config={"backbone": backbone}, bands=list(range(1, bands + 1)),
               band_offset=[100.0] * bands, band_scale=[50.0] * bands, model_state={}, encoder_state=state).save(path)
    return path


def test_pretrained_encoder_is_loaded(tmp_path, scene):
    path = _pretraining_checkpoint(tmp_path / "grass.pt")
    pretrained = Checkpoint.load(path)
    net = build(3, 4, pretrained=pretrained)
    for key, value in pretrained.encoder_state.items():
        assert torch.equal(net.encoder.state_dict()[key], value)
    config = tiny_config(*scene, pretrained=str(path), val_fraction=0.0, patches_per_epoch=4)
    result = finetune(config, tmp_path / "m.pt", feedback=QUIET)
    ckpt = Checkpoint.load(result.checkpoint)
    assert ckpt.band_offset == [100.0] * 3 and ckpt.extra_state["pretrained_method"] == "grass"


def test_resume_with_another_learning_rate_split_names_the_parameters(tmp_path, scene):
    """A run saved with its encoder in a group of its own cannot continue as one group: the
    message names the scales and the way out, not torch's optimizer error alone."""
    path = _pretraining_checkpoint(tmp_path / "grass.pt")
    output = tmp_path / "m.pt"
    config = tiny_config(*scene, pretrained=str(path), val_fraction=0.0, epochs=2, patches_per_epoch=8)
    with pytest.raises(Cancelled):
        finetune(config, output, feedback=RunFeedback(log=lambda _m: None, is_cancelled=cancel_after(2)))
    other = tiny_config(*scene, pretrained=str(path), val_fraction=0.0, epochs=2, patches_per_epoch=8,
                        encoder_lr_scale=1.0)
    with pytest.raises(ValueError, match="RESUME: .*ENCODER_LR_SCALE or FUSION_LR_SCALE.*RESUME off"):
        finetune(other, output, feedback=QUIET, resume=True)
    assert finetune(config, output, feedback=QUIET, resume=True).history[-1]["step"] == 4


def test_checkpoint_messages(tmp_path, scene):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointError, match="PRETRAINED: .*corrupt.pt is not a readable rsseg checkpoint"):
        finetune(tiny_config(*scene, pretrained=str(corrupt)), tmp_path / "m.pt", feedback=QUIET)
    unknown = tmp_path / "unknown.pt"
    torch.save({"rsseg_checkpoint": True, "method": "magic"}, unknown)
    with pytest.raises(CheckpointError, match="PRETRAINED: .*unknown method 'magic'"):
        finetune(tiny_config(*scene, pretrained=str(unknown)), tmp_path / "m.pt", feedback=QUIET)
    four = _pretraining_checkpoint(tmp_path / "four.pt", bands=4)
    with pytest.raises(CheckpointError, match="trained on 4 bands .* BANDS gives 3"):
        finetune(tiny_config(*scene, pretrained=str(four)), tmp_path / "m.pt", feedback=QUIET)
    diffusion = _pretraining_checkpoint(tmp_path / "diff.pt", method="diffusion", encoder=False)
    with pytest.raises(ValueError, match="use ARCHITECTURE diff_hrnet"):
        finetune(tiny_config(*scene, pretrained=str(diffusion)), tmp_path / "m.pt", feedback=QUIET)
    r50 = _pretraining_checkpoint(tmp_path / "r50.pt", backbone="resnet50")
    with pytest.raises(ValueError, match="set BACKBONE to resnet50"):
        finetune(tiny_config(*scene, pretrained=str(r50)), tmp_path / "m.pt", feedback=QUIET)
    assert not (tmp_path / "m.pt").exists()


def test_config_messages(tmp_path, scene):
    with pytest.raises(ValueError, match="LABEL_FRACTION"):
        finetune(tiny_config(*scene, label_fraction=0.0), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="PATCH_SIZE must be a multiple of 16"):
        finetune(tiny_config(*scene, patch_size=40), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="LABELS: 2 label raster"):
        finetune(tiny_config(*scene, labels=[str(scene[1])] * 2), tmp_path / "m.pt")
