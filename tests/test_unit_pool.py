"""Benchmark units side by side: the worker pool and the label-efficiency benchmark's use of it."""
from __future__ import annotations

import os

import pytest

from bench.unit_pool import SerialExecutor, worker_pool


def _pid_and_threads(_: int) -> tuple[int, int]:
    import torch

    return os.getpid(), torch.get_num_threads()


def test_the_serial_executor_runs_at_submit_and_hands_errors_back():
    pool = SerialExecutor()
    assert pool.submit(pow, 2, 5).result() == 32
    failed = pool.submit(int, "not a number")
    with pytest.raises(ValueError):
        failed.result()


def test_workers_are_other_processes_of_the_threads_asked_for():
    with worker_pool(workers=2, threads=1) as pool:
        answers = [f.result() for f in [pool.submit(_pid_and_threads, i) for i in range(4)]]
    assert all(pid != os.getpid() for pid, _ in answers)
    assert {threads for _, threads in answers} == {1}
    with worker_pool(workers=1, threads=1) as pool:
        assert pool.submit(_pid_and_threads, 0).result()[0] == os.getpid()


def test_units_in_the_cache_are_not_run_again_and_the_pilot_comes_first(tmp_path, monkeypatch):
    """compute_units submits only uncached probe seeds and fine-tuning runs, the pilots first
    (their median early stop sets every fine-tuning run's budget)."""
    lab = pytest.importorskip("bench.label_efficiency")
    calls = []
    monkeypatch.setattr(lab, "pilot_seed_step", lambda s, work, cache, seed: calls.append(("pilot", seed)) or 60)
    monkeypatch.setattr(lab, "probe_seed", lambda method, ckpt, variant, n, seed, s, cache:
                        calls.append(("probe", ckpt.name, seed)))
    monkeypatch.setattr(lab, "finetune_unit", lambda config, s, work, cache:
                        calls.append(("finetune", config.pretrained != "", config.seed, config.steps)))
    monkeypatch.setattr(lab, "tile_pairs", lambda tiles: ([f"t{t}_{i}.tif" for t in tiles for i in range(4)],
                                                          [f"t{t}_{i}_label.tif" for t in tiles for i in range(4)]))
    s, _ = lab.parse(["--methods", "grass", "--label-images", "1", "--probe-seeds", "0,1",
                      "--finetune-seeds", "0", "--workers", "1"])
    run = lab.PretrainRun("grass", 400)
    snapshots = {run: {}}
    for fraction, path in lab.snapshot_paths(run.output(tmp_path)).items():
        path.write_bytes(b"x")
        snapshots[run][fraction] = path
    cache = lab.Cache(tmp_path / "cache.json")
    config, key, baseline_key = lab.probe_seed_keys("grass", snapshots[run][1.0], "grass", 1, 1, s)
    cache.put(key, {"value": 1.0})
    cache.put(baseline_key, {"baseline": 1.0})
    lab.compute_units(s, snapshots, tmp_path, cache)
    assert calls[:3] == [("pilot", 0), ("pilot", 1), ("pilot", 2)]     # every pilot seed before any probe
    probes = [c for c in calls if c[0] == "probe"]
    assert len(probes) == 3 * 2 - 1 and ("probe", "grass_at100.pt", 1) not in probes
    assert [c for c in calls if c[0] == "finetune"] == [("finetune", True, 0, 60), ("finetune", False, 0, 60)]


def test_the_shared_from_scratch_baseline_is_trained_once(tmp_path, monkeypatch):
    """GraSS and SDCluster are both compared with DeepLabV3+ from scratch on the same subset
    and seed: one run (one cache key), submitted once, not once per method."""
    lab = pytest.importorskip("bench.label_efficiency")
    calls = []
    monkeypatch.setattr(lab, "pilot_seed_step", lambda s, work, cache, seed: 60)
    monkeypatch.setattr(lab, "handed_over", lambda method, checkpoint: checkpoint)
    monkeypatch.setattr(lab, "finetune_unit", lambda config, s, work, cache:
                        calls.append((config.architecture, config.pretrained)))
    monkeypatch.setattr(lab, "tile_pairs", lambda tiles: ([f"t{t}_{i}.tif" for t in tiles for i in range(4)],
                                                          [f"t{t}_{i}_label.tif" for t in tiles for i in range(4)]))
    s, _ = lab.parse(["--methods", "grass,sdcluster", "--readouts", "finetune", "--label-images", "4",
                      "--finetune-seeds", "0", "--workers", "1"])
    snapshots = {run: {1.0: tmp_path / f"{run.method}.pt"} for run in lab.pretrain_runs(s)}
    lab.compute_units(s, snapshots, tmp_path, lab.Cache(tmp_path / "cache.json"))
    assert sorted(calls) == sorted([("deeplabv3plus", str(tmp_path / "grass.pt")),
                                    ("deeplabv3plus", str(tmp_path / "sdcluster.pt")), ("deeplabv3plus", "")])


def test_the_balanced_sampler_draws_each_class_alike():
    """bench.probe_one_image's class-balanced pixel sample: count // classes pixels per class."""
    from types import SimpleNamespace

    import numpy as np

    from bench.probe_one_image import balanced_sampler

    labels = np.zeros((40, 40), dtype=np.int64)
    labels[:2] = 1                      # a rare class: 80 pixels
    labels[-1, :10] = 255               # ignored
    item = SimpleNamespace(train_rows=(0, 40), labels=labels)
    picked = balanced_sampler(item, 100, seed=0, image_index=0, ignore_index=255)
    classes = labels[picked[:, 0], picked[:, 1]]
    assert (classes == 0).sum() == (classes == 1).sum() == 50 and 255 not in classes
    assert np.array_equal(picked, balanced_sampler(item, 100, seed=0, image_index=0, ignore_index=255))
