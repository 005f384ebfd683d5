"""Pretraining runs whose checkpoints are kept at fractions of the budget (bench helper).

One pretraining run of ``steps`` optimiser steps, split into epochs so that the checkpoint
the loop saves after each epoch is the state at 1/4, 1/2 and the whole budget; each of those
is copied aside as it is written. One run with one cosine schedule, not three runs: the 1/4
snapshot is the same network the full run passed through (its learning rate not yet
annealed), which is what "does longer pretraining help" asks.

    python -m bench.pretrain_snapshots grass --steps 480 --work .bench/pretrain
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

from engine.progress import RunFeedback

FRACTIONS = (0.25, 0.5, 1.0)
EPOCHS = 4                      # 4 epochs: the checkpoints after epochs 1, 2 and 4 are the snapshots


def snapshot_paths(output: Path) -> dict[float, Path]:
    """Where the 1/4, 1/2 and full-budget copies of ``output`` go."""
    return {f: output.with_name(f"{output.stem}_at{int(round(f * 100)):03d}.pt") for f in FRACTIONS}


class SnapshotFeedback(RunFeedback):
    """Copies the checkpoint aside each time the loop writes a new epoch of it.

    The loop saves after every epoch; on each log line and progress report we look whether
    the file changed (a stat: mtime and size) and, when the epoch it holds is one of the
    snapshot epochs, copy it. The copy is taken before the next epoch's save can replace it.
    """

    def __init__(self, output: Path, log_file: Path) -> None:
        self._handle = log_file.open("a", encoding="utf-8")
        super().__init__(log=self._write, progress=self._progress)
        self.output, self.seen = output, None
        self.snapshots = snapshot_paths(output)

    def _write(self, message: str) -> None:
        self._handle.write(f"{time.strftime('%H:%M:%S')} {message}\n")
        self._handle.flush()
        self._maybe_copy()

    def _progress(self, percent: float) -> None:
        self._maybe_copy()

    def _maybe_copy(self) -> None:
        if not self.output.exists():
            return
        stat = self.output.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if key == self.seen:
            return
        self.seen = key
        from training.checkpoint import Checkpoint

        epoch = Checkpoint.load(self.output).epoch
        fraction = epoch / EPOCHS
        if fraction in self.snapshots:
            shutil.copyfile(self.output, self.snapshots[fraction])


def pretrain_with_snapshots(method: str, values: dict, steps: int, output: Path) -> dict[float, Path]:
    """Run ``method`` for ``steps`` optimiser steps with config ``values``; return the
    snapshot checkpoints (reused when all three exist already)."""
    from training.methods import config_class, pretrain

    snapshots = snapshot_paths(output)
    if all(p.exists() for p in snapshots.values()):
        return snapshots
    cls = config_class(method)
    batch = int(values.get("batch_size", cls().batch_size))
    per_epoch = max(1, steps // EPOCHS) * batch
    names = {f.name for f in dataclasses.fields(cls)}
    values = {**values, "epochs": EPOCHS, "patches_per_epoch": per_epoch}
    config = cls(**{k: v for k, v in values.items() if k in names})
    output.parent.mkdir(parents=True, exist_ok=True)
    feedback = SnapshotFeedback(output, output.with_suffix(".log"))
    pretrain(method, config, output, feedback=feedback, resume=True)
    feedback._maybe_copy()
    missing = [str(p) for p in snapshots.values() if not p.exists()]
    if missing:
        raise RuntimeError(f"snapshots not written: {missing}")
    return snapshots


def main(argv: list[str] | None = None) -> int:
    """Command line: one method, its step budget, and config fields as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--config", default="{}", help="config fields as JSON, e.g. '{\"batch_size\": 32}'")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    paths = pretrain_with_snapshots(args.method, json.loads(args.config), args.steps, Path(args.output))
    print(json.dumps({str(k): str(v) for k, v in paths.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
