"""Every stop leaves things clean: extents that cannot be used, cancels, temp folders, SIGTERM.

SIGTERM is sent to real subprocesses (scripts/qgis_process and ``python -m training``),
as a batch system or a user's ``kill`` would.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from finetune_scene import write_scene
from helpers import REPO, dark_bright_polygons, make_onnx_model, write_geotiff

EXIT_SIGTERM = 128 + signal.SIGTERM


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The system temp folder, redirected to an empty folder of this test (to see what a run leaves there)."""
    folder = tmp_path / "systemp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# ----------------------------------------------------------------------------- EXTENT
@pytest.mark.parametrize("algorithm", ["segment", "cluster_map"])
@pytest.mark.parametrize("extent,crs,message", [
    ("500010,500010,2799920,2799990 [EPSG:32640]", "EPSG:32640", "zero area"),
    ("500010,500050,2799950,2799950", "EPSG:32640", "zero area"),
    ("500010,500050,2799920,2799990 [EPSG:999999]", "EPSG:32640", "unknown CRS 'EPSG:999999'"),
    ("55.0,55.1,25.0,25.1 [EPSG:4326]", None, "the raster has no CRS"),
])
def test_unusable_extent_is_refused(qgis_app, tmp_path, algorithm, extent, crs, message):
    import processing
    from qgis.core import QgsProcessingException

    from engine.model_card import ModelCard

    raster = write_geotiff(tmp_path / "in.tif", (np.random.default_rng(0).random((3, 64, 64)) * 255).astype(np.uint8),
                           crs=crs)
    model = make_onnx_model(tmp_path / "m.onnx", np.eye(3), card=ModelCard(class_names=["a", "b", "c"]))
    model_parameter = "MODEL" if algorithm == "segment" else "CHECKPOINT"
    with pytest.raises(QgsProcessingException, match=f"^EXTENT: .*{message}"):
        processing.run(f"rsseg:{algorithm}", {"INPUT": str(raster), model_parameter: str(model), "EXTENT": extent,
                                              "OUTPUT": str(tmp_path / "out.tif")})
    assert not (tmp_path / "out.tif").exists()


def test_extent_in_another_crs_is_reprojected(qgis_app, tmp_path):
    import processing
    import rasterio

    from engine.model_card import ModelCard

    raster = write_geotiff(tmp_path / "in.tif", (np.random.default_rng(0).random((3, 64, 64)) * 255).astype(np.uint8))
    model = make_onnx_model(tmp_path / "m.onnx", np.eye(3), card=ModelCard(class_names=["a", "b", "c"]))
    from rasterio.warp import transform_bounds

    # the middle of the raster (UTM 40N), written in WGS84 degrees
    west, south, east, north = transform_bounds("EPSG:32640", "EPSG:4326", 500016, 2799952, 500048, 2799984)
    out = processing.run("rsseg:segment", {"INPUT": str(raster), "MODEL": str(model), "OUTPUT": str(tmp_path / "o.tif"),
                                           "EXTENT": f"{west},{east},{south},{north} [EPSG:4326]"})["OUTPUT"]
    with rasterio.open(out) as src:
        assert 0 < src.width < 64 and 0 < src.height < 64


# ----------------------------------------------------------------------------- cancel
class CancelAtFirstProgress:
    """A QgsProcessingFeedback cancelled as soon as the run reports progress above 0."""

    def __new__(cls):
        from qgis.core import QgsProcessingFeedback

        feedback = QgsProcessingFeedback()
        feedback.progressChanged.connect(lambda percent: percent > 0 and feedback.cancel())
        return feedback


@pytest.mark.parametrize("algorithm", ["pretrain_grass", "segment", "evaluate"])
def test_cancel_ends_non_zero_and_keeps_the_last_checkpoint(qgis_app, tmp_path, algorithm):
    import processing
    from qgis.core import QgsProcessingException

    image, label = write_scene(tmp_path, 600 if algorithm == "evaluate" else 128)  # evaluate: 2 x 2 windows
    output = tmp_path / "out.pt"
    parameters = {
        "pretrain_grass": {"INPUT": [str(image)], "PATCH_SIZE": 64, "BATCH_SIZE": 2, "EPOCHS": 3, "WARMUP_EPOCHS": 1,
                           "PATCHES_PER_EPOCH": 8, "DEVICE": 1, "OUTPUT_CHECKPOINT": str(output)},
        "segment": {"INPUT": str(image), "MODEL": str(make_onnx_model(tmp_path / "m.onnx", np.eye(3))),
                    "TILE_SIZE": 64, "OUTPUT": str(tmp_path / "o.tif")},
        "evaluate": {"PREDICTION": str(label), "REFERENCE": str(label), "OUTPUT_HTML": str(tmp_path / "r.html")},
    }[algorithm]
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run(f"rsseg:{algorithm}", parameters, feedback=CancelAtFirstProgress())
    assert _leftovers(tmp_path) == []
    if algorithm == "pretrain_grass":
        from training.checkpoint import Checkpoint

        assert not Checkpoint.load(output).finished  # the state reached, kept for RESUME
    else:
        assert not (tmp_path / "o.tif").exists() and not (tmp_path / "r.html").exists()


# ----------------------------------------------------------------------------- run folder
def test_polygon_label_copies_are_removed_after_success_and_error(qgis_app, tmp_path, private_tmp):
    import processing
    import torch
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    torch.set_num_threads(1)
    image, _ = write_scene(tmp_path, 64)
    parameters = {"INPUT": [str(image)], "LABELS": dark_bright_polygons(), "LABEL_FIELD": "kind", "EPOCHS": 1,
                  "BATCH_SIZE": 2, "PATCH_SIZE": 32, "DEVICE": 1, "SPLIT_BLOCK_SIZE": 32, "VAL_FRACTION": 0.0,
                  "OUTPUT_CHECKPOINT": str(tmp_path / "m.pt")}
    processing.run("rsseg:finetune", parameters, feedback=QgsProcessingFeedback())
    assert os.listdir(private_tmp) == []
    with pytest.raises(QgsProcessingException, match="CLASSES"):
        processing.run("rsseg:finetune", {**parameters, "CLASSES": "a:#12"})
    assert os.listdir(private_tmp) == []
    assert _leftovers(tmp_path) == []


def test_finished_finetune_explains_its_resume_state(qgis_app, tmp_path):
    import processing
    import torch
    from qgis.core import QgsProcessingFeedback

    torch.set_num_threads(1)
    image, label = write_scene(tmp_path, 64)
    messages: list[str] = []

    class Recorder(QgsProcessingFeedback):
        def pushInfo(self, info):
            messages.append(info)
            super().pushInfo(info)

    processing.run("rsseg:finetune", {"INPUT": [str(image)], "LABELS": str(label), "EPOCHS": 1, "BATCH_SIZE": 2,
                                      "PATCH_SIZE": 32, "DEVICE": 1, "SPLIT_BLOCK_SIZE": 32,
                                      "OUTPUT_CHECKPOINT": str(tmp_path / "m.pt")}, feedback=Recorder())
    assert (tmp_path / "m.pt.last.pt").is_file()
    assert any("kept m.pt.last.pt" in m and "RESUME" in m for m in messages)
    # the form's STEPS (100 by default) sets the length of this run, not EPOCHS 1: the advice names STEPS
    assert any("kept m.pt.last.pt" in m and "a larger STEPS and RESUME" in m for m in messages)


@pytest.mark.parametrize("steps,parameter", [(200, "a larger STEPS and RESUME"),
                                             (0, "a larger EPOCHS (STEPS is 0) and RESUME")])
def test_resume_advice_names_the_parameter_that_sets_the_budget(tmp_path, steps, parameter):
    """Fine-tuning counts optimiser steps: STEPS when set, else EPOCHS x steps per epoch."""
    from training.checkpoint import explain_resume_state

    messages: list[str] = []
    explain_resume_state(tmp_path / "m.pt", messages.append, steps)
    assert messages == []  # nothing kept, nothing to explain
    (tmp_path / "m.pt.last.pt").write_bytes(b"\0" * 2**20)
    explain_resume_state(tmp_path / "m.pt", messages.append, steps)
    assert len(messages) == 1 and messages[0].startswith("kept m.pt.last.pt (1 MB)") and parameter in messages[0]


# ----------------------------------------------------------------------------- SIGTERM
def _python(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_during_an_atomic_write_removes_the_temp_file(tmp_path):
    """The mechanism, deterministically: killed mid-write, the old file survives and no temp file or folder is left."""
    target = tmp_path / "model.pt"
    target.write_bytes(b"the previous checkpoint")
    process = _python("""
        import os, signal, sys, time
        from engine.atomic import atomic_path
        from engine.run_scope import RunScope, run_temp_dir
        with RunScope():
            open(os.path.join(run_temp_dir(), "labels.tif"), "wb").write(b"copy of the user's polygons")
            print(run_temp_dir(), flush=True)
            with atomic_path(sys.argv[1]) as tmp:
                open(tmp, "wb").write(b"half a checkpoint")
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
    """, str(target))
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_SIGTERM, err
    assert "stopped by SIGTERM" in err
    assert target.read_bytes() == b"the previous checkpoint"
    assert _leftovers(tmp_path) == []
    assert not os.path.exists(out.strip())


def _wait_for(predicate, process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            raise AssertionError(f"process ended early ({process.returncode}): {process.communicate()[1][-2000:]}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("timed out waiting")


def test_sigterm_during_segment_through_qgis_process(tmp_path):
    """The issue's case: kill qgis_process while the class map is being written; nothing stays beside OUTPUT."""
    pixels = (np.random.default_rng(0).random((3, 3000, 3000)) * 255).astype(np.uint8)
    scene = write_geotiff(tmp_path / "big.tif", pixels)
    model = make_onnx_model(tmp_path / "m.onnx", np.eye(3))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "QGIS_CUSTOM_CONFIG_PATH"}
    process = subprocess.Popen([str(REPO / "scripts" / "qgis_process"), "run", "rsseg:segment", "--", f"INPUT={scene}",
                                f"MODEL={model}", "TILE_SIZE=128", "THREADS=1", f"OUTPUT={out_dir / 'classes.tif'}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for(lambda: any(n.endswith(".tmp") for n in os.listdir(out_dir)), process, timeout=120)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_SIGTERM, err[-2000:]
    assert os.listdir(out_dir) == []


def test_sigterm_during_pretraining_keeps_the_last_checkpoint(tmp_path):
    image, _ = write_scene(tmp_path, 128)
    output = tmp_path / "grass.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "training", "pretrain", "grass", "--inputs", str(image),
                                "--patch-size", "64", "--batch-size", "4", "--epochs", "200", "--warmup-epochs", "1",
                                "--patches-per-epoch", "8", "--device", "cpu", "--output", str(output)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(output.exists, process, timeout=120)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_SIGTERM, err[-2000:]
    from training.checkpoint import Checkpoint

    assert Checkpoint.load(output).epoch >= 1
    assert _leftovers(tmp_path) == []
