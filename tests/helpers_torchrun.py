"""Run a script under torchrun with 2 CPU processes, the way the DDP tests need it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_torchrun(script: Path, cwd: Path, timeout: float, nproc: int = 2) -> None:
    """``torchrun --standalone`` (a local rendezvous on a free port) in its own process
    session, so a hang is killed whole; fails the test on a timeout or a non-zero exit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), str(script)],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # torchrun starts each worker in a session of its own: kill them by parent first,
        # or they keep the pipes open and the wait below never returns
        subprocess.run(["pkill", "-KILL", "-P", str(process.pid)], check=False)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        pytest.fail(f"torchrun with {nproc} processes did not finish in {timeout:g} s")
    assert process.returncode == 0, err[-3000:]
