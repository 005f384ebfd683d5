"""HRNetV2 specifics: the W18 size, the pretrained errors, a tame fresh network (shapes, rebuild and ONNX parity:
test_architecture_contract.py)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.nets.hrnet import HRNet, build


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_default_is_hrnetv2_w18():
    net = HRNet(3, 6)
    assert net.branch_channels == [18, 36, 72, 144]
    assert [len(stage) for stage in net.stages] == [1, 4, 3]
    params = sum(p.numel() for p in net.parameters())
    assert 9.4e6 < params < 9.8e6  # HRNetV2-W18 segmentation: 9.6 M


def test_pretrained_checkpoint_is_a_clear_error():
    class FakeCheckpoint:
        method = "grass"

    with pytest.raises(ValueError, match="PRETRAINED.*hrnet.*from scratch"):
        build(3, 2, pretrained=FakeCheckpoint())
    with pytest.raises(ValueError, match="unknown option"):
        build(3, 2, output_stride=16)


def test_fresh_network_is_tame_in_eval_mode_and_not_constant():
    """Kaiming init with zero-started residual and fusion paths: a fresh HRNet's eval
    outputs stay O(1) (no 1e8 logits before BN statistics settle) while its features still
    vary from pixel to pixel (the N(0, 0.001) init made them nearly constant)."""
    torch.manual_seed(0)
    net = HRNet(3, 5).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        logits = net(x)
    assert torch.isfinite(logits).all() and logits.abs().max() < 1e3
    # measured: 0.66 with this init, 4e-13 with the official N(0, 0.001) convs
    assert logits.std(dim=(2, 3)).mean() > 0.05
