"""`make demo` end to end (slow): scripts/demo.sh on small synthetic scenes through qgis_process."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_script_runs_the_whole_workflow(tmp_path):
    if not os.access(os.environ.get("QGIS_PROCESS_BIN", "/usr/bin/qgis_process.bin"), os.X_OK):
        pytest.skip("qgis_process is not installed (make setup installs QGIS)")
    env = dict(os.environ, DEMO_OUTPUT=str(tmp_path / "demo"), DEMO_SIZE="256", DEMO_TEST_SIZE="192",
               DEMO_EPOCHS="1", DEMO_PATCH_SIZE="64", DEMO_PRETRAIN_PATCHES="16", DEMO_DEVICE="cpu")
    run = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "demo"
    for name in ("model.onnx", "test_classes.tif", "evaluation.html", "evaluation.json"):
        assert (out / name).is_file(), f"{name} missing; output:\n{run.stdout[-3000:]}"
    scores = json.loads((out / "evaluation.json").read_text())
    assert 0.0 <= scores["miou"] <= 1.0
    assert "test mIoU" in run.stdout
    assert not list(out.glob("*.tmp"))
