"""The README's worked examples run as written (slow: real Dubai tiles, minutes of CPU each).

The shell blocks are read from README.md itself, so the test and the documentation cannot
drift apart. They run in a temporary folder: only the paths relative to the plugin folder
(scripts/, .venv/, ../shared/) are made absolute, nothing else is changed.
"""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from helpers import REPO

DATA = REPO.parent / "shared" / "data" / "dubai_aerial" / "geotiff"
# the README's fine-tuning example (one labelled image, tile_1_008) scored 0.291 mIoU on tile_2_001
# with the CLI, 37.6 % on average over five unseen tiles (docs/training.md); 0.17-0.19 with tile_1_001
# before. A regression guard with room for run-to-run spread, above what the old example reached.
MIN_MIOU = 0.24


def readme_block(marker: str) -> str:
    """The ```bash block of README.md that contains ``marker``."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.S)
    matching = [b for b in blocks if marker in b]
    assert matching, f"README.md has no bash block with {marker!r}"
    return matching[0]


def run_block(block: str, folder, timeout: int) -> subprocess.CompletedProcess:
    """Run a README block in ``folder``, with the plugin-relative paths made absolute."""
    script = (block.replace("scripts/qgis_process", str(REPO / "scripts" / "qgis_process"))
              .replace(".venv/bin/python", str(REPO / ".venv" / "bin" / "python"))
              .replace("../shared/", str(REPO.parent / "shared") + "/"))
    env = {k: v for k, v in os.environ.items() if k != "QGIS_CUSTOM_CONFIG_PATH"}
    env["PYTHONPATH"] = str(REPO)  # `python -m training` from another folder
    if "D=" not in script:  # the CLI block reuses the D of the worked example above it
        script = f"D={DATA}\n" + script
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_worked_example_through_qgis_process(tmp_path):
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is absent (the shared Dubai tiles)")
    if not os.access(os.environ.get("QGIS_PROCESS_BIN", "/usr/bin/qgis_process.bin"), os.X_OK):
        pytest.skip("qgis_process is not installed (make setup installs QGIS)")
    run = run_block(readme_block("rsseg:finetune"), tmp_path, timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name in ("grass.pt", "model.pt", "model.onnx", "classes.tif", "report.html", "scores.json"):
        assert (tmp_path / name).is_file(), name
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["miou"] >= MIN_MIOU, f"README example scores {scores['miou']:.3f} mIoU on tile_2_001"


@pytest.mark.slow
def test_worked_example_on_the_command_line(tmp_path):
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is absent (the shared Dubai tiles)")
    run = run_block(readme_block("python -m training finetune"), tmp_path, timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    from training.checkpoint import Checkpoint

    model = Checkpoint.load(tmp_path / "model.pt")
    assert model.finished and model.method == "supervised" and (tmp_path / "model.onnx").is_file()
