"""``python -m training``: help generated from the configs, a tiny run, clear errors."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from finetune_scene import write_scene

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from training.cli import build_parser, main
from training.methods import METHODS, config_class

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_commands_and_every_method(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in METHODS:
        assert name in text


@pytest.mark.parametrize("name", list(METHODS))
def test_pretrain_options_follow_the_config(name):
    try:
        cls = config_class(name)
    except ImportError:
        pytest.skip(f"{name} config not written yet")
    parser = build_parser()
    args = parser.parse_args(["pretrain", name, "--output", "x.pt", "--inputs", "a.tif,b.tif", "--no-resume"])
    assert args.inputs == ["a.tif", "b.tif"] and args.resume is False
    config = args.config_cls(**{n: getattr(args, n) for n in args.field_names})
    defaults = cls()
    for field in dataclasses.fields(cls):
        if field.name != "inputs" and field.name in args.field_names:
            assert getattr(config, field.name) == getattr(defaults, field.name)


def test_python_m_training_help():
    out = subprocess.run([sys.executable, "-m", "training", "finetune", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for option in ("--images", "--labels", "--label-fraction", "--freeze-encoder", "--classes", "--output", "--resume"):
        assert option in out.stdout


def test_tiny_cli_run_and_errors(tmp_path, capsys):
    image, label = write_scene(tmp_path, size=64)
    common = ["--images", str(image), "--labels", str(label), "--epochs", "1", "--batch-size", "2",
              "--patch-size", "32", "--split-block-size", "32", "--device", "cpu", "--patches-per-epoch", "2",
              "--steps", "0"]
    code = main(["finetune", *common, "--classes", "water:#0000ff,sand,trees", "--output", str(tmp_path / "m.pt"),
                 "--export", str(tmp_path / "m.onnx")])
    assert code == 0 and (tmp_path / "m.pt").exists() and (tmp_path / "m.onnx").exists()
    assert "step 1/1 (epoch 1): loss" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.pt"), str(tmp_path / "again.onnx"), "--tile-size", "256"]) == 0
    code = main(["finetune", *common, "--label-fraction", "2", "--output", str(tmp_path / "n.pt")])
    assert code == 2 and "LABEL_FRACTION" in capsys.readouterr().err
    code = main(["export", str(image), str(tmp_path / "x.onnx")])
    assert code == 2 and "not a readable rsseg checkpoint" in capsys.readouterr().err
