"""SDCluster trains through the shared loop, saves what fine-tuning needs, and its
clusters separate the textures of a synthetic scene."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SHARED_DATA

from training.checkpoint import Checkpoint
from training.data.synthetic import paint_block_scene, write_block_scene
from training.methods import pretrain
from training.methods.sdcluster import SDClusterMethod
from training.methods.sdcluster_config import SDClusterConfig
from training.nets.resnet import ResNetEncoder

TINY = dict(patch_size=64, output_stride=8, projector_hidden=64, embedding_dim=32, predictor_hidden=64,
            prototypes=8, lr_reference_batch=0, device="cpu", seed=0)


def matched_accuracy(ids: np.ndarray, ref: np.ndarray, clusters: int, classes: int) -> float:
    from engine.metrics import apply_mapping, match_clusters, scores_from_confusion

    counts = np.zeros((clusters, classes), np.int64)
    np.add.at(counts, (ids.ravel(), ref.ravel()), 1)
    return float(scores_from_confusion(apply_mapping(counts, match_clusters(counts), classes))["overall_accuracy"])


def normalised(image: np.ndarray, checkpoint: Checkpoint) -> torch.Tensor:
    off = np.asarray(checkpoint.band_offset, np.float32)[:, None, None]
    scale = np.asarray(checkpoint.band_scale, np.float32)[:, None, None]
    return torch.from_numpy(((image.astype(np.float32) - off) / scale).astype(np.float32))[None]


def test_short_run_saves_a_usable_checkpoint(tmp_path):
    torch.set_num_threads(1)
    image, _ = write_block_scene(tmp_path / "data", 96, 32)
    config = SDClusterConfig(inputs=[str(image)], batch_size=4, epochs=1, patches_per_epoch=8, **TINY)
    out = tmp_path / "sdc.pt"
    result = pretrain("sdcluster", config, out)
    ckpt = Checkpoint.load(out)
    assert ckpt.method == "sdcluster" and ckpt.config["prototypes"] == 8 and ckpt.step == 2
    assert np.isfinite(ckpt.history[-1]["loss"]) and "sd" in ckpt.history[-1] and "ctr" in ckpt.history[-1]
    # fine-tuning's encoder loads the student encoder as it is (same class, same names)
    encoder = ResNetEncoder(18, 3, output_stride=8)
    encoder.load_state_dict(ckpt.encoder_state, strict=True)
    from training.nets.registry import build_segmentation_net

    net = build_segmentation_net("deeplabv3plus", 3, 5, pretrained=ckpt)
    assert torch.equal(net.encoder.stem[0].weight, ckpt.encoder_state["stem.0.weight"])
    # the teacher followed the student by EMA: moved from its start, not a copy
    method = SDClusterMethod(config, 3)
    method.load_state_dict(ckpt.model_state)
    student = method.student.projector[0].weight
    teacher = method.teacher.projector[0].weight
    assert not torch.equal(student, teacher)
    assert all(not p.requires_grad for p in method.teacher.parameters())
    # fine-tuning gets the student (handover default); both encoders are kept for a probe
    teacher_encoder = method.teacher.encoder.state_dict()
    student_encoder = method.student.encoder.state_dict()
    assert all(torch.equal(ckpt.encoder_state[k], student_encoder[k]) for k in student_encoder)
    assert not all(torch.equal(ckpt.encoder_state[k], teacher_encoder[k]) for k in teacher_encoder)
    assert set(ckpt.extra_state["teacher_encoder"]) == set(student_encoder)
    assert {"clusters_used", "cluster_perplexity", "assignment_confidence"} <= set(ckpt.history[-1])
    assert 1.0 <= ckpt.history[-1]["cluster_perplexity"] <= 8.0
    # the user sees the clusters: one PNG per epoch, patches beside their cluster maps
    assert result.diagnostics and result.diagnostics[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_settings_are_named():
    method = SDClusterMethod(SDClusterConfig(**{**TINY, "output_stride": 8}), 3)
    with pytest.raises(ValueError, match="MIN_OVERLAP"):
        method.validate(SDClusterConfig(**{**TINY, "min_overlap": 0.5}))
    with pytest.raises(ValueError, match="OUTPUT_STRIDE"):
        method.validate(SDClusterConfig(**{**TINY, "output_stride": 32}))


@pytest.mark.parametrize("batch, patch, stride, expected", [
    (16, 128, 16, 10),      # a CPU batch: 1024 pixels per Sinkhorn batch
    (128, 224, 16, 251),    # the authors' scale: 25088 pixels, about their K = 256
    (512, 224, 16, 256),    # never over 256
    (2, 32, 16, 8),         # never under 8
])
def test_prototypes_follow_the_pixels_of_a_batch(batch, patch, stride, expected):
    from training.methods.sdcluster_config import resolve_prototypes

    config = SDClusterConfig(batch_size=batch, patch_size=patch, output_stride=stride)
    assert resolve_prototypes(config) == expected
    automatic = SDClusterConfig(**{**TINY, "prototypes": 0}, batch_size=batch)
    assert SDClusterMethod(automatic, 3).student.prototypes.shape[0] == resolve_prototypes(automatic)


def test_learning_rate_scales_with_the_square_root_of_the_batch():
    method = SDClusterMethod(SDClusterConfig(**{**TINY, "lr_reference_batch": 128}, batch_size=32), 3)
    assert method.peak_learning_rate() == pytest.approx(1.25e-3 / 2)   # sqrt(32 / 128)


@pytest.mark.slow
def test_clusters_separate_textures(tmp_path):
    """16 steps on a 3-texture scene: clusters match the classes far better than chance
    (majority class 44 %) and than the same network before training."""
    torch.set_num_threads(1)
    image_path, _ = write_block_scene(tmp_path / "data", 128, 32)
    config = SDClusterConfig(inputs=[str(image_path)], batch_size=8, epochs=2, patches_per_epoch=64,
                             learning_rate=1e-3, **{**TINY, "projector_hidden": 128, "predictor_hidden": 128})
    torch.manual_seed(0)
    untrained = SDClusterMethod(config, 3).eval()
    out = tmp_path / "sdc.pt"
    pretrain("sdcluster", config, out)
    ckpt = Checkpoint.load(out)
    method = SDClusterMethod(config, 3)
    method.load_state_dict(ckpt.model_state)
    method.eval()
    image, ref = paint_block_scene(128, 32)
    x = normalised(image, ckpt)
    trained_acc = matched_accuracy(method.cluster_ids(x, "student")[0].numpy(), ref, 8, 3)
    before_acc = matched_accuracy(untrained.cluster_ids(x, "student")[0].numpy(), ref, 8, 3)
    chance = np.bincount(ref.ravel()).max() / ref.size
    assert trained_acc > 0.8, (trained_acc, before_acc)
    assert trained_acc > chance + 0.3
    assert trained_acc > before_acc + 0.05, (trained_acc, before_acc)


DUBAI = SHARED_DATA / "dubai_aerial" / "geotiff"


@pytest.mark.skipif(not DUBAI.is_dir(), reason=f"real Dubai imagery not found at {DUBAI} (shared data folder absent)")
def test_pretrains_on_the_dubai_folder(tmp_path):
    """The benchmark's call: a folder of image/label pairs, labels skipped by expand_inputs."""
    torch.set_num_threads(1)
    config = SDClusterConfig(inputs=[str(DUBAI)], batch_size=2, epochs=1, patches_per_epoch=2,
                             **{**TINY, "patch_size": 32})
    pretrain("sdcluster", config, tmp_path / "dubai.pt")
    ckpt = Checkpoint.load(tmp_path / "dubai.pt")
    assert ckpt.bands == [1, 2, 3] and ckpt.step == 1 and np.isfinite(ckpt.history[-1]["loss"])
    assert all(s > 1 for s in ckpt.band_scale)          # statistics of real uint8 imagery, not of labels
