"""What picking the best-validation checkpoint costs a fine-tuning run with few labels.

Every fine-tuning run of :mod:`bench.label_efficiency` trains for a fixed step budget on a
cosine schedule and, with a validation share (VAL_FRACTION 0.2), exports the state of its best
validation mIoU. With one labelled image that validation set is 2 blocks (~10 patches of
128 px): a noisy judge, which may pick an early, under-trained state. Each run also keeps its
last state (``model.pt.last.pt``, the end of the schedule), so the two exports of one run can
be compared without training anything: this script exports each cached run's last state
through the shipped path (ONNX export, engine segmentation of the test tile, engine
evaluation), reads the best-validation score from the benchmark's cache, and reports

- per group of runs (architecture, pretraining, labelled images, encoder LR scale, steps):
  the mean test mIoU of both exports and the paired last - best difference;
- per pretrained group: the paired gain over the from-scratch runs of the same seeds, once
  with both sides exported at their best validation state, once at their last state.

    python -m bench.last_vs_best --work-dir .bench/le

Runs trained without a validation share (``--finetune-val-fraction 0``) export their last
state already and are left out. Scores are cached in ``<work-dir>/last_state_scores.json``.
Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.dubai_split import DATA
from bench.label_efficiency import FINETUNE_ROWS
from engine.atomic import atomic_write_text
from training.paired import paired_difference

REPO = Path(__file__).resolve().parents[1]
# the fine-tuned architecture -> its from-scratch baseline, as the benchmark pairs them
BASELINE_ARCHITECTURE = dict(FINETUNE_ROWS.values())


def run_dirs(work: Path) -> list[Path]:
    """Finished fine-tuning runs (exported best state and kept last state both present)."""
    return sorted(p for p in (work / "runs").glob("ft_*")
                  if (p / "model.pt").exists() and (p / "model.pt.last.pt").exists())


def describe_run(run: Path) -> dict | None:
    """The run's group fields and its best-validation step; None without a validation share."""
    from training.checkpoint import Checkpoint

    checkpoint = Checkpoint.load(run / "model.pt")
    config = checkpoint.config
    if not config.get("val_fraction"):
        return None
    pretrained = Path(config["pretrained"]).name if config["pretrained"] else ""
    return {"architecture": config["architecture"], "pretrained": pretrained, "labels": len(config["images"]),
            "encoder_lr_scale": config["encoder_lr_scale"] if pretrained else None, "steps": config["steps"],
            "seed": config["seed"], "best_step": checkpoint.extra_state.get("best_step")}


def score_last_state(run: str, work: str) -> tuple[str, dict | None]:
    """Export ``run``'s last state and score it on the test tile (one torch thread)."""
    import torch

    from bench.dubai_split import score_test_tiles
    from training.export import export_checkpoint

    torch.set_num_threads(1)
    folder = Path(work) / "runs" / run
    described = describe_run(folder)
    if described is None:
        return run, None
    with tempfile.TemporaryDirectory(prefix="last_state_") as scratch:
        onnx_path = export_checkpoint(folder / "model.pt.last.pt", Path(scratch) / "last.onnx")
        described["last_miou"] = score_test_tiles(onnx_path, Path(scratch), threads=1)
    return run, described


def score_missing(work: Path, workers: int) -> dict[str, dict | None]:
    """Scores of every run's last state, computing only those not in the cache file."""
    path = work / "last_state_scores.json"
    scores = json.loads(path.read_text()) if path.exists() else {}
    todo = [p.name for p in run_dirs(work) if p.name not in scores]
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for run, scored in pool.map(score_last_state, todo, [str(work)] * len(todo)):
            scores[run] = scored
            atomic_write_text(path, json.dumps(scores, indent=1))
            print(f"{run}: {scored}", file=sys.stderr, flush=True)
    return scores


def grouped(scores: dict[str, dict | None], best: dict[str, dict]) -> dict[tuple, dict[int, tuple[float, float]]]:
    """(architecture, pretrained, labels, scale, steps) -> {seed: (best-state mIoU, last-state mIoU)}."""
    groups: dict[tuple, dict[int, tuple[float, float]]] = {}
    for run, scored in scores.items():
        cached = best.get(run.removeprefix("ft_"))
        if scored is None or cached is None:
            continue
        key = (scored["architecture"], scored["pretrained"], scored["labels"], scored["encoder_lr_scale"],
               scored["steps"])
        groups.setdefault(key, {})[scored["seed"]] = (cached["miou"], scored["last_miou"])
    return groups


def summary(value: float, se: float | None) -> dict:
    return {"mean": round(value, 2), "se": None if se is None else round(se, 2)}


def group_rows(groups: dict[tuple, dict[int, tuple[float, float]]]) -> list[dict]:
    """Both exports of each group, and their paired last - best difference."""
    rows = []
    for key, by_seed in sorted(groups.items(), key=str):
        seeds = sorted(by_seed)
        best, last = [by_seed[s][0] for s in seeds], [by_seed[s][1] for s in seeds]
        rows.append({"architecture": key[0], "pretrained": key[1], "labels": key[2], "encoder_lr_scale": key[3],
                     "steps": key[4], "seeds": seeds, "best_state_miou": [round(v, 2) for v in best],
                     "last_state_miou": [round(v, 2) for v in last],
                     "last_minus_best": summary(*paired_difference(last, best))})
    return rows


def gain_rows(groups: dict[tuple, dict[int, tuple[float, float]]]) -> list[dict]:
    """Each pretrained group's paired gain over scratch, with both sides at the same export."""
    rows = []
    for key, by_seed in sorted(groups.items(), key=str):
        architecture, pretrained, labels, scale, steps = key
        baseline = groups.get((BASELINE_ARCHITECTURE.get(architecture, architecture), "", labels, None, steps))
        if not pretrained or not baseline:
            continue
        seeds = sorted(set(by_seed) & set(baseline))
        gains = {export: summary(*paired_difference([by_seed[s][i] for s in seeds], [baseline[s][i] for s in seeds]))
                 for i, export in enumerate(("best_state", "last_state"))}
        rows.append({"architecture": architecture, "pretrained": pretrained, "labels": labels,
                     "encoder_lr_scale": scale, "steps": steps, "seeds": seeds, "gain_over_scratch": gains})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work-dir", default=str(REPO / ".bench" / "label_efficiency"),
                   help="the label-efficiency benchmark's work folder")
    p.add_argument("--workers", type=int, default=2, help="runs exported and scored side by side")
    args = p.parse_args(argv)
    work = Path(args.work_dir)
    if not DATA.is_dir() or not (work / "cache.json").exists():
        print(f"last_vs_best: needs {DATA} and a benchmark work folder with cache.json ({work})", file=sys.stderr)
        return 2
    groups = grouped(score_missing(work, args.workers), json.loads((work / "cache.json").read_text()))
    print(json.dumps({"command": "python -m bench.last_vs_best --work-dir " + args.work_dir,
                      "groups": group_rows(groups), "gains": gain_rows(groups)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
