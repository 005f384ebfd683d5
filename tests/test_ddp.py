"""Two CPU processes under torchrun (gloo) train one shared model."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from finetune_scene import write_scene
from helpers_torchrun import run_torchrun

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {repo!r})
    from engine.progress import RunFeedback
    from training.finetune import finetune
    from training.finetune_config import FinetuneConfig
    config = FinetuneConfig(images=[{image!r}], labels=[{label!r}], epochs=1, batch_size=2, patch_size=32,
                            split_block_size=32, patches_per_epoch=8, val_fraction=0.25, warmup_fraction=0.0,
                            learning_rate=5e-3, device="cpu", steps=0, validate_every=0)
    result = finetune(config, {output!r}, feedback=RunFeedback(log=lambda m: None))
    torch.save(result.model_state, os.path.join({folder!r}, "rank%s.pt" % os.environ["RANK"]))
""")


@pytest.mark.slow  # two torch start-ups plus a rendezvous: ~15 s alone, 30+ s on a busy machine
def test_two_processes_train_one_model(tmp_path):
    image, label = write_scene(tmp_path, size=64)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(repo=str(REPO), image=str(image), label=str(label),
                                    output=str(tmp_path / "m.pt"), folder=str(tmp_path)))
    run_torchrun(script, tmp_path, timeout=180)
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    from training.checkpoint import Checkpoint
    saved = Checkpoint.load(tmp_path / "m.pt")
    assert saved.history[0]["step"] == 2               # 8 patches / (2 processes x batch 2)
    start = Checkpoint.load(tmp_path / "m.pt.last.pt")
    assert start.step == 2
    changed = 0
    for key, value in rank0.items():
        assert torch.equal(value, rank1[key]), key
        assert torch.equal(value, saved.model_state[key]), key
    # and training did move the weights (the ranks are equal because gradients were averaged)
    torch.manual_seed(0)
    from training.nets.deeplab import build
    initial = build(3, 3).state_dict()
    changed = sum(not torch.equal(initial[k], rank0[k]) for k in rank0 if k.endswith("weight"))
    assert changed > 0
