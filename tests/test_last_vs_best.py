"""bench.last_vs_best: runs are grouped, paired by seed, compared with the right baseline."""
from __future__ import annotations

import pytest

lvb = pytest.importorskip("bench.last_vs_best")


def scored(architecture: str, pretrained: str, seed: int, last: float, labels: int = 1) -> dict:
    return {"architecture": architecture, "pretrained": pretrained, "labels": labels,
            "encoder_lr_scale": 0.1 if pretrained else None, "steps": 200, "seed": seed, "best_step": 50,
            "last_miou": last}


def test_gains_pair_each_export_with_the_same_export_of_scratch():
    scores = {"ft_a0": scored("deeplabv3plus", "grass.pt", 0, 33.0),
              "ft_a1": scored("deeplabv3plus", "grass.pt", 1, 35.0),
              "ft_s0": scored("deeplabv3plus", "", 0, 30.0), "ft_s1": scored("deeplabv3plus", "", 1, 31.0),
              "ft_d0": scored("diff_hrnet", "diffusion.pt", 0, 26.0), "ft_h0": scored("hrnet", "", 0, 25.0),
              "ft_v0": None}   # trained without validation: no best state to compare
    best = {"a0": {"miou": 30.0}, "a1": {"miou": 34.0}, "s0": {"miou": 29.0}, "s1": {"miou": 28.0},
            "d0": {"miou": 20.0}, "h0": {"miou": 24.0}, "v0": {"miou": 99.0}}
    groups = lvb.grouped(scores, best)
    assert len(groups) == 4
    rows = {(r["architecture"], r["pretrained"]): r for r in lvb.group_rows(groups)}
    assert rows["deeplabv3plus", "grass.pt"]["last_minus_best"]["mean"] == pytest.approx(2.0)   # (3 + 1) / 2
    assert rows["deeplabv3plus", "grass.pt"]["last_minus_best"]["se"] == pytest.approx(1.0)
    gains = {r["architecture"]: r["gain_over_scratch"] for r in lvb.gain_rows(groups)}
    assert gains["deeplabv3plus"]["best_state"]["mean"] == pytest.approx(3.5)   # (1 + 6) / 2
    assert gains["deeplabv3plus"]["last_state"]["mean"] == pytest.approx(3.5)   # (3 + 4) / 2
    assert gains["diff_hrnet"]["best_state"]["mean"] == pytest.approx(-4.0)     # against HRNet, not DeepLabV3+
    assert gains["diff_hrnet"]["last_state"]["mean"] == pytest.approx(1.0)
    assert gains["diff_hrnet"]["last_state"]["se"] is None                      # one pair: no spread


def test_other_label_budgets_are_not_paired():
    scores = {"ft_a": scored("deeplabv3plus", "grass.pt", 0, 33.0, labels=4),
              "ft_s": scored("deeplabv3plus", "", 0, 30.0)}
    groups = lvb.grouped(scores, {"a": {"miou": 30.0}, "s": {"miou": 29.0}})
    assert lvb.gain_rows(groups) == []
