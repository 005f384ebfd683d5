"""The training-throughput benchmark's real mode (bench/train_throughput.py --real) on tiny
generated rasters: the project's own tasks are built and stepped, every variant reports its
keys, and DataLoader workers leave the loss curve bit-identical."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from finetune_scene import write_scene
from helpers import write_geotiff

from bench import train_throughput as tt

WORKLOADS = ("grass", "finetune")
VARIANTS = ("workers_0", "workers_1", "channels_last")
KEYS = {"batch", "patch", "steps_per_s", "speedup_vs_workers_0", "speedup_each_round", "wait_share",
        "wait_share_each_round", "first_batch_s", "loss", "loss_gap", "loss_identical"}


def tiny_settings(tmp_path, **overrides) -> tt.RealSettings:
    """Two unlabeled rasters and one labelled scene; sizes that step in well under a second."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    for k in range(2):
        write_geotiff(folder / f"u{k}.tif", rng.integers(0, 255, (3, 96, 96)).astype(np.uint8))
    image, label = write_scene(tmp_path, size=96)
    values = dict(pretrain_inputs=(str(folder),), finetune_image=str(image), finetune_label=str(label),
                  pretrain_batch=4, pretrain_patch=64, diffusion_batch=4, diffusion_patch=32,
                  finetune_batch=2, finetune_patch=32, pretrain_steps={"grass": 8, "sdcluster": 8, "diffusion": 8},
                  finetune_steps=8)
    values.update(overrides)
    return tt.RealSettings(**values)


def check_report(report: dict, workloads, steps: int, warmup: int) -> None:
    for name in workloads:
        entry = report["workloads"][name]
        assert KEYS <= set(entry), f"{name}: missing {KEYS - set(entry)}"
        assert set(entry["steps_per_s"]) == set(VARIANTS)
        assert all(v > 0 for v in entry["steps_per_s"].values())
        assert all(0.0 <= v <= 1.0 for v in entry["wait_share"].values())
        losses = entry["loss"]
        assert all(len(curve) == warmup + steps for curve in losses.values())
        assert len(set(losses["workers_0"])) > 1, "the steps trained nothing (every loss equal)"
        # with a worker process the batches are the same crops: the curve is identical, not just close
        assert entry["loss_identical"]["workers_1"] and entry["loss_gap"]["workers_1"] == 0.0
        assert losses["workers_1"] == losses["workers_0"]
        assert entry["loss_gap"]["channels_last"] < 0.05


def test_real_mode_on_tiny_rasters(tmp_path):
    steps, warmup = 1, 1
    report = tt.real_report(tiny_settings(tmp_path), WORKLOADS, VARIANTS, steps, 1, warmup, tmp_path / "work")
    check_report(report, WORKLOADS, steps, warmup)
    assert report["workloads"]["finetune"]["batch"] == 2 and report["workloads"]["grass"]["patch"] == 64


@pytest.mark.slow
def test_real_mode_other_methods(tmp_path):
    steps, warmup = 2, 1
    methods = ("sdcluster", "diffusion")
    report = tt.real_report(tiny_settings(tmp_path), methods, VARIANTS, steps, 1, warmup, tmp_path / "work")
    check_report(report, methods, steps, warmup)


def test_summary_flags_a_changed_curve():
    """The identity check can fail: a run whose losses differ is reported as such."""
    base = {"seconds": 2.0, "wait": 0.5, "first_batch_s": 0.1, "losses": [1.0, 0.9, 0.8]}
    runs = {"workers_0": [base, {**base, "seconds": 1.8}],
            "workers_1": [{**base, "seconds": 1.0, "wait": 0.1}, {**base, "seconds": 1.5, "losses": [1.0, 0.9, 0.7]}]}
    summary = tt.summarize_real(runs, 2, "workers_0")
    assert summary["loss_identical"] == {"workers_1": False}
    assert summary["loss_gap"]["workers_1"] == pytest.approx(0.1)
    assert summary["steps_per_s"] == {"workers_0": 1.1111, "workers_1": 2.0}
    assert summary["speedup_each_round"]["workers_1"] == [2.0, 1.2]
    assert summary["wait_share"] == {"workers_0": 0.25, "workers_1": 0.1}   # the lowest over the rounds


def test_bad_variant_names_the_option(tmp_path):
    settings = tiny_settings(tmp_path)
    with pytest.raises(ValueError, match="--variants"):
        tt.real_report(settings, ["grass"], ["workers_1", "workers_0"], 1, 1, 0, tmp_path)
    with pytest.raises(ValueError, match="--variants"):
        tt.real_report(settings, ["grass"], ["workers_0", "threads_7"], 1, 1, 0, tmp_path)


def test_write_json_key_keeps_every_other_key(tmp_path):
    path = tmp_path / "performance.json"
    path.write_text(json.dumps({"ceiling_ratio_real": 0.97, "training_throughput": {"old": 1}}))
    tt.write_json_key(path, "training_throughput", {"mode": "real"})
    assert json.loads(path.read_text()) == {"ceiling_ratio_real": 0.97, "training_throughput": {"mode": "real"}}
    assert not list(tmp_path.glob("*.tmp"))


def test_default_settings_are_the_label_efficiency_protocol():
    """--real measures what the label-efficiency benchmark trains (sizes read from its Settings)."""
    from bench.label_efficiency import Settings

    s, le = tt.RealSettings.label_efficiency(), Settings()
    assert s.batch_and_patch("grass") == s.batch_and_patch("sdcluster") == (le.pretrain_batch, le.pretrain_patch)
    assert s.batch_and_patch("diffusion") == (le.diffusion_batch, le.diffusion_patch)
    assert s.batch_and_patch("finetune") == (le.finetune_batch, le.finetune_patch)
    assert s.pretrain_steps == le.pretrain_steps and s.finetune_steps == le.finetune_max_steps
    if not Path(s.finetune_image).exists():
        pytest.skip("../shared/data/dubai_aerial/geotiff is absent (see ../shared/data/README.md)")
    assert Path(s.finetune_label).exists() and Path(s.finetune_label).name == "tile_1_001_label.tif"
