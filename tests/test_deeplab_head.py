"""DeepLabV3+ heads: the published separable head is the default, the dense one an option."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from training.nets.deeplab import DeepLabV3Plus, build


def depthwise_convs(net: nn.Module) -> list[nn.Conv2d]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]


def test_default_head_is_separable_and_recorded():
    net = build(3, 4)
    assert net.architecture_kwargs["head"] == "separable"
    # three atrous ASPP branches at rates 6, 12, 18 and two decoder convs, all depthwise
    assert sorted(m.dilation[0] for m in depthwise_convs(net)) == [1, 1, 6, 12, 18]
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 4, 64, 64)


def test_dense_head_is_an_option_with_no_depthwise_conv():
    net = build(3, 4, head="dense")
    assert not depthwise_convs(net) and net.architecture_kwargs["head"] == "dense"


def test_a_record_written_before_the_head_field_rebuilds_the_dense_head():
    """Checkpoints fine-tuned before the separable default carry the full record without ``head``."""
    old = build(3, 2, head="dense")
    record = {k: v for k, v in old.architecture_kwargs.items() if k != "head"}
    again = build(3, 2, **record)
    again.load_state_dict(old.state_dict())  # same weights' shapes: it is the dense head
    assert again.architecture_kwargs["head"] == "dense"


def test_unknown_head_names_the_parameter():
    with pytest.raises(ValueError, match="HEAD"):
        DeepLabV3Plus(3, 2, head="xception")


def test_separable_head_costs_at_most_45_gflops_at_512():
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        DeepLabV3Plus(3, 6).eval()(torch.zeros(1, 3, 256, 256))
    # every counted op (convolutions) scales with the pixel count: 512^2 costs 4x 256^2
    assert 4 * counter.get_total_flops() / 1e9 <= 45.0
