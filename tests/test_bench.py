"""The benchmarks start as documented: ``python -m bench.<name>`` and the older script path."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import REPO

AS_MODULES = ["cluster_map_quality", "compare_results", "deeplab_heads", "label_efficiency", "last_vs_best",
              "model_cost", "pretrain_snapshots", "probe_one_image", "segment_throughput", "train_throughput",
              "vectorize_memory"]


def _help(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args, "--help"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", AS_MODULES)
def test_runs_as_a_module(name):
    result = _help(["-m", f"bench.{name}"])
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("name", AS_MODULES)
def test_old_script_path_still_works(name):
    result = _help([f"bench/{name}.py"])
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-2000:]
