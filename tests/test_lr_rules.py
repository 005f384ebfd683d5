"""Learning-rate rules shared by the pretraining methods (training.config)."""
from __future__ import annotations

import pytest

from training.config import PretrainConfig, scaled_learning_rate, validate_schedule, warmup_steps_for
from training.methods.diffusion_config import DiffusionConfig
from training.methods.grass_config import GraSSConfig
from training.methods.sdcluster_config import SDClusterConfig


@pytest.mark.parametrize("scaling, batch, world, expected", [
    ("sqrt", 64, 1, 4.8 * 0.5),
    ("sqrt", 16, 4, 4.8 * 0.5),          # the global batch counts, not the per-process one
    ("linear", 64, 1, 4.8 * 0.25),
    ("none", 64, 1, 4.8),
])
def test_rate_follows_the_global_batch(scaling, batch, world, expected):
    config = PretrainConfig(learning_rate=4.8, lr_reference_batch=256, lr_scaling=scaling, batch_size=batch)
    assert scaled_learning_rate(config, world) == pytest.approx(expected)


def test_no_reference_batch_means_the_rate_as_given():
    assert scaled_learning_rate(PretrainConfig(learning_rate=3e-4, batch_size=7)) == 3e-4


def test_method_defaults_give_cpu_batches_a_rate_that_moves_the_weights():
    """At CPU batch sizes the published per-batch recipes must not shrink to nothing: the
    old GraSS rule gave 0.3 * 16 / 256 = 0.019 under LARS trust 1e-3."""
    assert scaled_learning_rate(GraSSConfig(batch_size=16)) == pytest.approx(1.2)
    assert scaled_learning_rate(SDClusterConfig(batch_size=32)) == pytest.approx(1.25e-3 / 2)
    assert scaled_learning_rate(DiffusionConfig(batch_size=8)) == pytest.approx(2e-4)


@pytest.mark.parametrize("total", [10, 32, 1000])
def test_warm_up_is_a_share_of_the_run(total):
    assert warmup_steps_for(PretrainConfig(warmup_fraction=0.1), total) == round(0.1 * total)
    # an explicit step count wins, but never covers the whole run
    assert warmup_steps_for(PretrainConfig(warmup_steps=100), total) == min(100, total - 1)


def test_diffusion_warm_up_no_longer_outlasts_a_short_run():
    assert warmup_steps_for(DiffusionConfig(), 32) < 32 // 4


@pytest.mark.parametrize("field, value, name", [
    ("learning_rate", 0.0, "LEARNING_RATE"),
    ("lr_scaling", "cubic", "LR_SCALING"),
    ("warmup_fraction", 1.0, "WARMUP_FRACTION"),
])
def test_bad_schedules_name_the_parameter(field, value, name):
    with pytest.raises(ValueError, match=name):
        validate_schedule(PretrainConfig(**{field: value}))
