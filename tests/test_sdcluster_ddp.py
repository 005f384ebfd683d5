"""SDCluster under torchrun (2 CPU processes, gloo): the Sinkhorn balance spans the global
batch, and a pretraining run completes with a shared checkpoint."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers_torchrun import run_torchrun

from training.data.synthetic import write_block_scene

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {repo!r})
    import torch.distributed as dist
    from engine.progress import RunFeedback
    from training.methods import pretrain
    from training.methods.sdcluster_config import SDClusterConfig
    from training.methods.sinkhorn import sinkhorn_knopp

    config = SDClusterConfig(inputs=[{image!r}], patch_size=32, batch_size=2, epochs=1, patches_per_epoch=8,
                             output_stride=8, projector_hidden=32, embedding_dim=16, predictor_hidden=32,
                             prototypes=6, device="cpu")
    # the script's own group: the loop joins it and leaves it open (it destroys only groups it made)
    dist.init_process_group("gloo")
    pretrain("sdcluster", config, {output!r}, feedback=RunFeedback(log=lambda m: None))
    assert dist.is_initialized()
    rank = dist.get_rank()
    scores = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    scores[:, 0] += 0.3
    half = scores[rank * 200:(rank + 1) * 200]
    torch.save(sinkhorn_knopp(half, 0.07, 3), os.path.join({folder!r}, "q%d.pt" % rank))
    dist.destroy_process_group()
""")


@pytest.mark.slow  # two torch start-ups plus a rendezvous: 20-40 s on a busy machine
def test_two_processes(tmp_path):
    image, _ = write_block_scene(tmp_path, 64, 32)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(repo=str(REPO), image=str(image), output=str(tmp_path / "sdc.pt"),
                                    folder=str(tmp_path)))
    run_torchrun(script, tmp_path, timeout=240)

    from training.checkpoint import Checkpoint
    from training.methods.sinkhorn import sinkhorn_knopp

    saved = Checkpoint.load(tmp_path / "sdc.pt")
    assert saved.method == "sdcluster" and saved.step == 2      # 8 patches / (2 processes x batch 2)
    # the two halves, balanced together, equal one process balancing the whole batch
    scores = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    scores[:, 0] += 0.3
    joint = torch.cat([torch.load(tmp_path / "q0.pt"), torch.load(tmp_path / "q1.pt")])
    assert torch.allclose(joint, sinkhorn_knopp(scores, 0.07, 3), atol=1e-5)
    alone = sinkhorn_knopp(scores[:200], 0.07, 3)
    assert not torch.allclose(joint[:200], alone, atol=1e-3)    # so the reduction really happened
