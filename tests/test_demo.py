"""`make demo` end to end (slow): scripts/demo.sh on the shipped Dubai crops, tiny settings, through qgis_process."""
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
    env = dict(os.environ, DEMO_OUTPUT=str(tmp_path / "demo"), DEMO_STEPS="2", DEMO_PATCH_SIZE="64",
               DEMO_PRETRAIN_PATCHES="16", DEMO_DEVICE="cpu")
    run = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "demo"
    for name in ("model.onnx", "model_deepness.onnx", "test_classes.tif", "test_clusters.tif", "evaluation.html",
                 "evaluation.json", "evaluation_preview_1_dubai_test.png", "evaluation_preview_2_prediction.png",
                 "evaluation_preview_3_reference.png", "evaluation_preview_4_test_clusters.png"):
        assert (out / name).is_file(), f"{name} missing; output:\n{run.stdout[-3000:]}"
    assert (out / "evaluation.html").read_text(encoding="utf-8").count("data:image/png;base64,") == 4
    scores = json.loads((out / "evaluation.json").read_text())
    assert 0.0 <= scores["miou"] <= 1.0
    assert "test mIoU" in run.stdout
    assert not list(out.glob("*.tmp"))


def test_demo_data_is_the_small_real_pair_its_readme_describes():
    import re

    import numpy as np
    import rasterio

    folder = REPO / "demo" / "data"
    files = sorted(p.name for p in folder.glob("*.tif"))
    assert files == ["dubai_test.tif", "dubai_test_labels.tif", "dubai_train.tif", "dubai_train_labels.tif"]
    assert sum((folder / f).stat().st_size for f in files) < 2 * 2**20
    assert not [f for f in files if re.search(r"tile_\d+_\d{3}_", f)]      # not named like the shared copies
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "gdal_translate" in readme
    for name in ("train", "test"):
        with (rasterio.open(folder / f"dubai_{name}.tif") as image,
              rasterio.open(folder / f"dubai_{name}_labels.tif") as labels):
            assert (image.count, image.width, image.height, image.dtypes[0]) == (3, 600, 600, "uint8")
            assert labels.transform == image.transform and labels.nodata == 255
            assert set(np.unique(labels.read(1)).tolist()) <= {0, 1, 2, 3, 4, 255}
