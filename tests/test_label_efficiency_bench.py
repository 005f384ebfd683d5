"""The label-efficiency benchmark's bookkeeping: nested paired subsets, paired statistics,
verdicts against the targets, and the docs page keeping its hand-written reading."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.dubai_split import DATA

lab = pytest.importorskip("bench.label_efficiency")
from bench.label_efficiency_report import END, START, verdict, write_markdown


def test_rows_report_the_paired_difference_and_its_standard_error():
    runs = [{"value": 50.0, "baseline": 45.0}, {"value": 48.0, "baseline": 44.0}, {"value": 47.0, "baseline": 41.0}]
    r = lab.row("grass", "grass", "probe", 1, 1.0, "random", runs, [0, 1, 2])
    deltas = np.array([5.0, 4.0, 6.0])
    assert r["delta_mean"] == pytest.approx(5.0)
    assert r["delta_se"] == pytest.approx(deltas.std(ddof=1) / np.sqrt(3))
    assert r["values"] == [50.0, 48.0, 47.0] and r["baseline_values"] == [45.0, 44.0, 41.0]
    assert {"method", "readout", "labels", "pretrain_fraction", "baseline", "miou_mean", "delta_mean",
            "delta_se", "seeds", "values", "baseline_values"} <= set(r)


@pytest.mark.parametrize("delta, se, readout, expected", [
    (6.0, 1.0, "probe", "meets"), (4.0, 1.0, "probe", "under"), (1.0, 1.0, "probe", "no clear gain"),
    (-3.0, 1.0, "finetune", "LOSS"), (3.5, 1.0, "finetune", "meets"),
])
def test_verdicts_need_the_target_and_twice_the_standard_error(delta, se, readout, expected):
    assert expected in verdict({"delta_mean": delta, "delta_se": se, "readout": readout})


def test_docs_keep_the_hand_written_reading(tmp_path):
    page = tmp_path / "results.md"
    page.write_text(f"# Results\n\nintro\n\n{START}\nold table\n{END}\n\n## Reading\nkept\n")
    result = {"command": "python -m bench.label_efficiency", "date": "2026-12-01", "machine": "x", "wall_seconds": 60,
              "protocol": {"pretrain_steps": {}, "pretrain_batch": 32, "pretrain_patch": 96, "diffusion_batch": 16,
                           "diffusion_patch": 64, "probe_output_stride": 16, "probe_pixels_per_image": 10,
                           "label_pool_tiles": [1], "test_tiles": [2]},
              "rows": [lab.row("sdcluster", "teacher", "probe", 1, 0.5, "random",
                               [{"value": 1.0, "baseline": 0.5}, {"value": 2.0, "baseline": 1.0}], [0, 1])]}
    write_markdown(page, result)
    text = page.read_text()
    assert "old table" not in text and "intro" in text and "## Reading\nkept" in text
    assert "| probe | sdcluster | teacher | 1 | 0.5 |" in text
    result["rows"][0]["pretrain_steps"] = 800
    write_markdown(page, result)
    assert "| probe | sdcluster | teacher | 1 | 0.5 of 800 steps |" in page.read_text()
    assert "Fine-tuning:" not in page.read_text()                # no fine-tuning readout, no budget line
    result["protocol"].update(finetune_batch=8, finetune_patch=128, pilot_labels=4, pilot_seeds=[0, 1, 2])
    result.update(finetune_budget={"steps": 150, "pilot_best_steps": [100, 225, 150]},
                  stage_seconds={"pretraining": 1500.0, "probe and fine-tuning units": 3000.0})
    write_markdown(page, result)
    text = page.read_text()
    assert "Fine-tuning: 150 optimiser steps" in text and "at steps [100, 225, 150]" in text
    assert "holds out 0.2 of its labelled blocks and exports its best-validation checkpoint" in text
    assert "Wall time of this invocation: pretraining 25 min, probe and fine-tuning units 50 min." in text
    result["stage_seconds"]["pretraining"] = 1.0       # snapshots already in the work folder
    write_markdown(page, result)
    assert "pretraining: from the work folder, probe and fine-tuning units 50 min." in page.read_text()
    result["finetune_budget"] = {"steps": 100, "pilot_best_steps": []}
    write_markdown(page, result)
    assert "fixed by `--finetune-steps`" in page.read_text()
    result["protocol"]["finetune_val_fraction"] = 0.0   # --finetune-val-fraction 0
    write_markdown(page, result)
    assert "trains on all its labelled blocks and exports its last state" in page.read_text()
    result["protocol"].update(finetune_val_fraction=0.2, finetune_keep_state="auto")
    write_markdown(page, result)
    assert "holds out 0.2 of its labelled blocks (validation logged) and exports its last state" in page.read_text()


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data/dubai_aerial (see ../shared/data/README.md)")
def test_labelled_subsets_are_nested_and_never_from_the_test_tile():
    one, four = lab.label_subset(3, 1)[0], lab.label_subset(3, 4)[0]
    assert one == four[:1] and len(set(four)) == 4
    assert not any("tile_2_" in path for path in lab.label_subset(0, 16)[0])
    assert lab.label_subset(0, 4) != lab.label_subset(1, 4)


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data/dubai_aerial (see ../shared/data/README.md)")
def test_checkpoints_of_one_family_share_one_random_init_baseline(tmp_path, monkeypatch):
    """The random network of a seed is probed once per architecture family, not once per snapshot."""
    from types import SimpleNamespace

    import training.probe as probe

    calls = []

    def fake_probe(config, feedback=None, random_init=True):
        calls.append((config.checkpoint, random_init))
        return SimpleNamespace(values=[40.0 + len(calls)], random_values=[30.0] if random_init else [], seconds=1.0)

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    cache, s = lab.Cache(tmp_path / "cache.json"), lab.Settings()
    checkpoints = {}
    for name in ("grass_at050.pt", "grass_at100.pt", "sdcluster_at100.pt", "diffusion_at100.pt"):
        checkpoints[name] = tmp_path / name
        checkpoints[name].write_bytes(b"x")
    first = lab.probe_seed("grass", checkpoints["grass_at050.pt"], "grass", 1, 0, s, cache)
    second = lab.probe_seed("grass", checkpoints["grass_at100.pt"], "grass", 1, 0, s, cache)
    third = lab.probe_seed("sdcluster", checkpoints["sdcluster_at100.pt"], "teacher", 1, 0, s, cache)
    lab.probe_seed("diffusion", checkpoints["diffusion_at100.pt"], "denoiser", 1, 0, s, cache)
    assert [r for _, r in calls] == [True, False, False, True]  # the UNet has a baseline of its own
    assert first["baseline"] == second["baseline"] == third["baseline"] == 30.0
    assert second["value"] != first["value"]
    again = lab.probe_seed("grass", checkpoints["grass_at100.pt"], "grass", 1, 0, s, cache)
    assert again == second and len(calls) == 4  # cached: nothing probed again


def test_sdcluster_fine_tuning_starts_from_the_default_handover(tmp_path):
    """A snapshot saved with the teacher handed over is fine-tuned from the student (today's
    default) through a copy; GraSS checkpoints and up-to-date ones are used as they are."""
    import torch

    from training.checkpoint import Checkpoint
    from training.methods.sdcluster_config import SDClusterConfig

    teacher, student = {"w": torch.zeros(2)}, {"w": torch.ones(2)}
    old = tmp_path / "sdcluster_at100.pt"
    Checkpoint("sdcluster", {"handover": "teacher"}, [1, 2, 3], [0.0] * 3, [1.0] * 3, {}, encoder_state=teacher,
               extra_state={"teacher_encoder": teacher, "student_encoder": student, "handover": "teacher"}).save(old)
    start = lab.handed_over("sdcluster", old)
    branch = SDClusterConfig().handover
    assert branch == "student" and start != old and start.name == "sdcluster_at100_student.pt"
    copy = Checkpoint.load(start)
    assert torch.equal(copy.encoder_state["w"], student["w"]) and copy.config["handover"] == "student"
    assert lab.handed_over("sdcluster", start) == start  # already the default branch: used as it is
    assert lab.handed_over("grass", old) == old


def test_two_processes_sharing_a_cache_keep_each_others_units(tmp_path):
    first, second = lab.Cache(tmp_path / "cache.json"), lab.Cache(tmp_path / "cache.json")
    first.put("a", 1)
    second.put("b", 2)  # second never read "a": it must not drop it
    assert lab.Cache(tmp_path / "cache.json").data == {"a": 1, "b": 2}
    assert first.get("b") == 2  # written by the other process after first was opened
    assert not list(tmp_path.glob("*.tmp"))


def test_trend_labels_add_the_snapshot_rows_at_chosen_budgets():
    s, _ = lab.parse(["--methods", "grass", "--label-images", "1,4,16", "--trend-labels", "4"])
    fractions = {n: sorted(f for _, _, m, f in lab.probe_units(s) if m == n) for n in (1, 4, 16)}
    assert fractions == {1: [0.25, 0.5, 1.0], 4: [0.25, 0.5, 1.0], 16: [1.0]}


def test_a_longer_run_is_probed_at_the_trend_labels_only_and_named_by_its_steps(tmp_path):
    s, _ = lab.parse(["--methods", "sdcluster", "--label-images", "1,4,16", "--trend-labels", "4",
                      "--longer-pretraining", "sdcluster=800"])
    longer = [(run, v, n, f) for run, v, n, f in lab.probe_units(s) if run.longer]
    assert {run.steps for run, *_ in longer} == {800}
    assert {n for _, _, n, _ in longer} == {4}                     # the budget asked for, with its trend
    assert len(longer) == 2 * 3                                    # teacher + student, 3 snapshots
    assert len(lab.probe_units(s)) - len(longer) == 2 * (3 + 3 + 1)  # the default run's rows unchanged
    s.trend_labels = []
    assert {n for run, _, n, _ in lab.probe_units(s) if run.longer} == {1}   # else the smallest budget
    default, extra = lab.pretrain_runs(s)
    assert default.output(tmp_path).name == "sdcluster.pt" and extra.output(tmp_path).name == "sdcluster_800steps.pt"
    with pytest.raises(SystemExit):
        lab.parse(["--longer-pretraining", "sdcluster:800"])
    with pytest.raises(SystemExit):
        lab.parse(["--longer-pretraining", "segformer=800"])


def test_fine_tuning_budgets_are_chosen_among_the_label_budgets():
    s, _ = lab.parse(["--label-images", "1,4,16", "--finetune-labels", "4,16"])
    assert s.finetune_labels == [4, 16]
    s, _ = lab.parse(["--label-images", "1,4", "--finetune-labels", "16"])
    assert s.finetune_labels == [1]            # a budget outside --label-images falls back to the smallest
    assert lab.parse(["--label-images", "1,4,16"])[0].finetune_labels == [1, 4]     # the CPU default
    assert lab.parse(["--label-images", "4,16"])[0].finetune_labels == [4]
    full, _ = lab.parse(["--preset", "full"])
    assert full.finetune_labels == [1, 4, 16] and full.pilot_labels == 4    # the published protocol
    assert lab.parse(["--quick"])[0].pilot_labels == 1     # the smoke test's only budget


def test_the_pilots_keep_their_budget_when_other_label_budgets_are_measured():
    """--label-images 16 extends the default protocol: its runs get the 4-image pilots' steps
    (cached by the default run), not a budget from pilots silently moved to 16 images."""
    s, _ = lab.parse(["--label-images", "16", "--finetune-labels", "16"])
    assert s.pilot_labels == 4 and s.finetune_labels == [16]
    assert lab.parse(["--label-images", "16", "--pilot-labels", "16"])[0].pilot_labels == 16
    longer = lab.parse(["--label-images", "16", "--longer-pretraining", "grass=800", "--methods", "grass"])[0]
    assert {tuple(labels) for run, labels in lab.finetune_plan(longer) if run.longer} == {(16,)}


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data/dubai_aerial (see ../shared/data/README.md)")
def test_the_pilot_budget_does_not_move_when_a_label_budget_is_added(tmp_path, monkeypatch):
    """Every fine-tuning run's steps come from one pilot at ``pilot_labels`` images, so adding
    1-image fine-tuning keeps the budget (and the cached runs) of the 4-image rows."""
    seen = []
    monkeypatch.setattr(lab, "finetune_and_test", lambda config, run_dir, s: seen.append(len(config.images))
                        or {"best_step": 75, "steps": 100})
    for argv in (["--finetune-labels", "4"], ["--finetune-labels", "1,4,16"]):
        s, _ = lab.parse(argv)
        assert lab.pilot_budget(s, tmp_path, lab.Cache(tmp_path / "cache.json")) == 75
    assert seen == [4, 4, 4]     # three pilot seeds, then the second protocol found them in the cache


def test_the_budget_is_the_median_early_stop_of_the_pilot_seeds(tmp_path, monkeypatch):
    """One seed's spike cannot set every run's length: the budget is the median of the pilots'
    early stops, each pilot on its own seed's labelled subset, cached by seed."""
    stops = {0: 100, 1: 225, 2: 150, 3: 400, 4: 125}
    trained = []
    monkeypatch.setattr(lab, "tile_pairs", lambda tiles: ([f"t{t}_{i}.tif" for t in tiles for i in range(4)],
                                                          [f"t{t}_{i}_label.tif" for t in tiles for i in range(4)]))
    monkeypatch.setattr(lab, "finetune_and_test", lambda config, run_dir, s: trained.append(config.seed)
                        or {"best_step": stops[config.seed], "steps": stops[config.seed] + 100})
    cache = lab.Cache(tmp_path / "cache.json")
    s, _ = lab.parse([])
    assert s.pilot_seeds == [0, 1, 2] and lab.pilot_budget(s, tmp_path, cache) == 150
    s, _ = lab.parse(["--pilot-seeds", "0,1,2,3,4"])
    assert lab.pilot_budget(s, tmp_path, cache) == 150 and trained == [0, 1, 2, 3, 4]
    configs = {seed: lab.pilot_config(s, seed) for seed in (0, 1)}
    assert configs[0].images != configs[1].images and configs[0].pretrained == ""


def test_a_fixed_fine_tuning_budget_replaces_the_pilot(tmp_path, monkeypatch):
    """--finetune-steps sets every run's steps and trains no pilot (the pilot's early stop moved
    from 100 to 225 steps between two CPUs); a budget under one step is refused by name."""
    monkeypatch.setattr(lab, "finetune_and_test", lambda *a: pytest.fail("the pilot ran"))
    s, _ = lab.parse(["--finetune-steps", "100"])
    assert s.finetune_steps == 100
    assert lab.pilot_budget(s, tmp_path, lab.Cache(tmp_path / "cache.json")) == 100
    assert lab.parse([])[0].finetune_steps == 0                  # default: the pilot decides
    with pytest.raises(SystemExit):
        lab.parse(["--finetune-steps", "0"])


def test_the_default_protocol_is_the_issues_minimum_and_full_adds_the_longer_runs():
    """Default: 5 probe seeds, 3 fine-tuning seeds, no longer run (the ~100 min run on 2 cores);
    --preset full: the published protocol, with the longer runs and 5 fine-tuning seeds."""
    s, _ = lab.parse([])
    assert s.longer_pretraining == {} and len(s.probe_seeds) == 5 and len(s.finetune_seeds) == 3
    assert (s.workers, s.threads) == (2, 1)
    full, _ = lab.parse(["--preset", "full"])
    assert full.longer_pretraining == {"grass": 800, "sdcluster": 800, "diffusion": 1600}
    assert [r.steps for r in lab.pretrain_runs(full) if r.longer] == [800, 800, 1600]
    assert full.finetune_seeds == [0, 1, 2, 3, 4] and full.mode == "full"
    assert lab.parse(["--preset", "full", "--longer-pretraining", "none"])[0].longer_pretraining == {}
    assert lab.parse(["--quick"])[0].longer_pretraining == {}
    gpu, _ = lab.parse(["--preset", "gpu"])
    assert gpu.workers == 1 and gpu.device == "cuda"     # one GPU: units one after the other
    assert lab.parse(["--workers", "1", "--threads", "2"])[0].workers == 1
    with pytest.raises(SystemExit):
        lab.parse(["--workers", "0"])


def test_longer_pretraining_runs_first_so_two_workers_end_together():
    s, _ = lab.parse(["--preset", "full"])
    order = [(r.method, r.steps) for r in sorted(lab.pretrain_runs(s), key=lab.pretrain_cost, reverse=True)]
    assert order[:2] == [("grass", 800), ("sdcluster", 800)] and order[-1] == ("diffusion", 800)


def test_longer_runs_are_fine_tuned_at_the_smallest_budget_and_the_pilots():
    """The targets are read at the smallest label budget: a longer run is fine-tuned there too,
    not only at the pilot's 4 images."""
    s, _ = lab.parse(["--preset", "full"])
    plan = {(run.method, run.steps): budgets for run, budgets in lab.finetune_plan(s)}
    every = [1, 4, 16]
    assert plan == {("grass", 400): every, ("sdcluster", 400): every, ("diffusion", 800): every,
                    ("grass", 800): [1, 4], ("sdcluster", 800): [1, 4], ("diffusion", 1600): [1, 4]}


def test_pretrain_steps_sets_a_budget_and_names_the_run_by_it(tmp_path):
    """--pretrain-steps replaces a method's default budget; the run is named by its steps, so it
    is the same file as the longer run of that budget (trained once), and fine-tuned at every
    fine-tuned label budget like any default run."""
    s, _ = lab.parse(["--methods", "grass,sdcluster", "--pretrain-steps", "grass=800", "--longer-pretraining",
                      "sdcluster=800"])
    assert s.pretrain_steps == {"grass": 800, "sdcluster": 400, "diffusion": 800}
    runs = {(run.method, run.longer): run for run in lab.pretrain_runs(s)}
    assert runs["grass", False].output(tmp_path).name == "grass_800steps.pt"
    assert runs["sdcluster", False].output(tmp_path).name == "sdcluster.pt"
    assert runs["sdcluster", True].output(tmp_path).name == "sdcluster_800steps.pt"
    plan = {(run.method, run.longer): budgets for run, budgets in lab.finetune_plan(s)}
    assert plan == {("grass", False): [1, 4], ("sdcluster", False): [1, 4], ("sdcluster", True): [1, 4]}
    for bad in ("grass:800", "grass=0", "segformer=800"):
        with pytest.raises(SystemExit):
            lab.parse(["--pretrain-steps", bad])


def test_encoder_lr_scale_changes_the_pretrained_runs_only():
    """--encoder-lr-scale reaches the fine-tuning of a pretrained network; its from-scratch
    baseline keeps one configuration (one cache key) whatever the scale, so every scale is
    paired with the same scratch runs."""
    default, _ = lab.parse([])
    scaled, _ = lab.parse(["--encoder-lr-scale", "1.0"])
    assert default.encoder_lr_scale == 0.1 and scaled.encoder_lr_scale == 1.0
    pretrained = [lab.finetune_config("deeplabv3plus", "grass.pt", 1, 0, 200, s, patience=0, val_fraction=0.2)
                  for s in (default, scaled)]
    assert [c.encoder_lr_scale for c in pretrained] == [0.1, 1.0]
    scratch = [lab.finetune_config("deeplabv3plus", "", 1, 0, 200, s, patience=0, val_fraction=0.2)
               for s in (default, scaled)]
    assert lab.finetune_key(scratch[0]) == lab.finetune_key(scratch[1])
    assert lab.finetune_key(pretrained[0]) != lab.finetune_key(pretrained[1])
    for bad in ("0", "-1", "11"):
        with pytest.raises(SystemExit):
            lab.parse(["--encoder-lr-scale", bad])


def test_finetune_val_fraction_reaches_the_measured_runs_not_the_pilots(tmp_path):
    """By default the measured runs train on every labelled block (the last state is exported);
    --finetune-val-fraction 0.2 holds out the product's share, and its cache keys are those of the
    runs made before the default changed; the pilots keep FinetuneConfig's held-out share either
    way, since their validation curve sets the step budget."""
    whole, _ = lab.parse(["--methods", "grass", "--longer-pretraining", "none"])
    held, _ = lab.parse(["--finetune-val-fraction", "0.2"])
    assert whole.finetune_val_fraction == 0.0
    assert held.finetune_val_fraction == lab.FinetuneConfig.val_fraction == 0.2
    snapshots = {run: {1.0: tmp_path / "grass.pt"} for run in lab.pretrain_runs(whole)}
    configs = [config for *_, config in lab.finetune_pairs(whole, snapshots, 200)]
    assert configs and {c.val_fraction for c in configs} == {0.0}
    assert lab.pilot_config(whole, 0).val_fraction == lab.pilot_config(held, 0).val_fraction == 0.2
    plain = lab.finetune_config("deeplabv3plus", "", 1, 0, 200, held, patience=0,
                                val_fraction=held.finetune_val_fraction)
    assert plain.val_fraction == lab.FinetuneConfig().val_fraction   # the earlier runs' keys hold
    for bad in ("-0.1", "1", "1.5"):
        with pytest.raises(SystemExit):
            lab.parse(["--finetune-val-fraction", bad])


def test_finetune_keep_state_reaches_every_run(tmp_path):
    """--finetune-keep-state sets KEEP_STATE of every fine-tuning run (default FinetuneConfig's
    auto); best with --finetune-val-fraction 0.2 is how the earlier best-validation exports repeat."""
    default, _ = lab.parse(["--methods", "grass", "--longer-pretraining", "none"])
    earlier, _ = lab.parse(["--methods", "grass", "--longer-pretraining", "none", "--finetune-val-fraction", "0.2",
                            "--finetune-keep-state", "best"])
    snapshots = {run: {1.0: tmp_path / "grass.pt"} for run in lab.pretrain_runs(default)}
    for s, kept in ((default, lab.FinetuneConfig.keep_state), (earlier, "best")):
        configs = [config for *_, config in lab.finetune_pairs(s, snapshots, 200)] + [lab.pilot_config(s, 0)]
        assert {c.keep_state for c in configs} == {kept}
    with pytest.raises(SystemExit):
        lab.parse(["--finetune-keep-state", "newest"])


def test_fusion_lr_scale_reaches_diff_hrnet_only_and_keeps_earlier_cache_keys():
    """--fusion-lr-scale reaches Diff-HRNet's runs; the field stays out of the key where it changes
    nothing (another network, or 1: the behaviour before it existed), so cached runs stay valid."""
    default, _ = lab.parse([])
    scaled, _ = lab.parse(["--fusion-lr-scale", "30"])
    assert default.fusion_lr_scale == 10.0
    runs = [lab.finetune_config("diff_hrnet", "ddpm.pt", 1, 0, 150, s, patience=0, val_fraction=0.0)
            for s in (default, scaled)]
    assert [c.fusion_lr_scale for c in runs] == [10.0, 30.0]
    assert lab.finetune_key(runs[0]) != lab.finetune_key(runs[1])
    for arch in ("hrnet", "deeplabv3plus"):
        scratch = lab.finetune_config(arch, "", 1, 0, 150, default, patience=0, val_fraction=0.0)
        before = {k: v for k, v in dataclasses.asdict(scratch).items() if k != "fusion_lr_scale"}
        assert lab.finetune_key(scratch) == lab.Cache.key("finetune", before)
        assert lab.finetune_key(dataclasses.replace(scratch, fusion_lr_scale=30.0)) == lab.finetune_key(scratch)
    at_one = dataclasses.replace(runs[0], fusion_lr_scale=1.0)
    before = {k: v for k, v in dataclasses.asdict(at_one).items() if k != "fusion_lr_scale"}
    assert lab.finetune_key(at_one) == lab.Cache.key("finetune", before)
    for bad in ("0", "-1", "101"):
        with pytest.raises(SystemExit):
            lab.parse(["--fusion-lr-scale", bad])


def test_diff_hrnet_rows_say_how_far_each_run_opened_its_fusions(tmp_path, monkeypatch):
    """Each Diff-HRNet row lists its runs' fusion openness (seed order) and scale; a run cached
    before the openness was kept gets it from its exported checkpoint, once."""
    scored = iter([{"miou": 30.0}, {"miou": 25.0}, {"miou": 31.0, "fusion_openness": 0.2}, {"miou": 26.0}])
    monkeypatch.setattr(lab, "finetune_and_test", lambda config, run_dir, s: next(scored))
    reads = []

    def openness(path):
        reads.append(path)
        return 0.1

    monkeypatch.setattr(lab, "exported_fusion_openness", openness)
    s, _ = lab.parse(["--methods", "diffusion", "--readouts", "finetune", "--label-images", "1",
                      "--finetune-seeds", "0,1", "--finetune-steps", "20"])
    run = lab.PretrainRun("diffusion", s.pretrain_steps["diffusion"])
    snapshots = {run: {1.0: tmp_path / "diffusion.pt"}}
    cache = lab.Cache(tmp_path / "cache.json")
    first_run = next(c for *_, which, c in lab.finetune_pairs(s, snapshots, 20) if c.architecture == "diff_hrnet")
    (tmp_path / "runs" / f"ft_{lab.finetune_key(first_run)}").mkdir(parents=True)
    (tmp_path / "runs" / f"ft_{lab.finetune_key(first_run)}" / "model.pt").write_bytes(b"x")
    lab.finetune_rows(s, snapshots, tmp_path, cache, 20)   # trains all four; seed 0 comes back without openness
    cache.put(lab.finetune_key(first_run), {"miou": 30.0})   # as a run cached before the field
    (row,) = lab.finetune_rows(s, snapshots, tmp_path, cache, 20)
    assert row["fusion_lr_scale"] == 10.0 and row["fusion_openness"] == [0.1, 0.2]
    assert len(reads) == 1
    lab.finetune_rows(s, snapshots, tmp_path, cache, 20)
    assert len(reads) == 1                                    # filled in the cache: read once
