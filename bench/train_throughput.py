"""Training steps per second on this CPU: memory format and thread settings, side by side.

    PYTHONPATH=. .venv/bin/python bench/train_throughput.py [--steps 6] [--rounds 3]

Two workloads, the compute of the project's runs with their label-efficiency settings:
* ``finetune``: DeepLabV3+ (ResNet-18, separable head, 5 classes), batch 8 of 128x128,
  cross-entropy, AdamW step;
* ``pretrain_encoder``: the ResNet-18 encoder (output stride 16, as SDCluster / GraSS train
  it) on batch 16 of 128x128 with a mean-feature loss, AdamW step: the backbone pass that
  dominates a pretraining step (the method's own heads and views are not included).

Variants: default (NCHW, torch's default threads), ``channels_last`` (NHWC tensors and
weights), and ``threads=1``. Rounds are interleaved (each variant runs ``--steps`` steps per
round after one warm-up step; best round kept, every round's ratio listed), because the
machine is shared. ``loss_gap`` is the largest difference of the loss between the default and
channels_last over the same seeded steps: the layout must not change the curve.
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]

VARIANTS = ("default", "channels_last", "threads_1")


def workload(name: str):
    """(model, batch maker, loss) of a workload, seeded."""
    from training.nets.deeplab import DeepLabV3Plus
    from training.nets.resnet import ResNetEncoder

    torch.manual_seed(0)
    if name == "finetune":
        model = DeepLabV3Plus(3, 5)

        def loss(out, target):
            return F.cross_entropy(out, target)

        def batch(g):
            return torch.randn(8, 3, 128, 128, generator=g), torch.randint(0, 5, (8, 128, 128), generator=g)

        return model, batch, loss
    model = ResNetEncoder(18, 3, output_stride=16)

    def loss(out, target):
        return out[-1].mean(dim=(2, 3)).pow(2).mean() - target.mean()

    def batch(g):
        return torch.randn(16, 3, 128, 128, generator=g), torch.zeros(1)

    return model, batch, loss


def run_steps(name: str, variant: str, steps: int, default_threads: int) -> tuple[float, list[float]]:
    """Seconds for ``steps`` training steps (after a warm-up step) and their losses."""
    model, batch, loss_fn = workload(name)
    torch.set_num_threads(1 if variant == "threads_1" else default_threads)
    layout = torch.channels_last if variant == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=layout).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    losses = []
    for step in range(steps + 1):
        if step == 1:
            t0 = time.perf_counter()
        x, y = batch(g)
        out = model(x.contiguous(memory_format=layout))
        loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    torch.set_num_threads(default_threads)
    return time.perf_counter() - t0, losses


def main(argv: list[str] | None = None) -> dict:
    """Measure; print and return the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="finetune,pretrain_encoder")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    report: dict = {"command": " ".join(["bench/train_throughput.py", *(argv if argv is not None else sys.argv[1:])]),
                    "cpu_count": os.cpu_count(), "torch_default_threads": threads, "torch": torch.__version__,
                    "load_average_at_start": [round(v, 2) for v in os.getloadavg()], "workloads": {}}
    for name in [w.strip() for w in args.workloads.split(",") if w.strip()]:
        best = {v: float("inf") for v in VARIANTS}
        ratios: dict[str, list[float]] = {v: [] for v in VARIANTS[1:]}
        losses = {}
        for _ in range(args.rounds):
            seconds = {}
            for variant in VARIANTS:
                seconds[variant], losses[variant] = run_steps(name, variant, args.steps, threads)
                best[variant] = min(best[variant], seconds[variant])
            for variant in VARIANTS[1:]:
                ratios[variant].append(round(seconds["default"] / seconds[variant], 3))
        report["workloads"][name] = {
            "steps_per_s": {v: round(args.steps / s, 3) for v, s in best.items()},
            "speedup_vs_default": {v: round(best["default"] / best[v], 3) for v in VARIANTS[1:]},
            "speedup_each_round": ratios,
            "loss_gap_channels_last": max(abs(a - b) for a, b in zip(losses["default"], losses["channels_last"])),
        }
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
