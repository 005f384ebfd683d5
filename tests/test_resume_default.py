"""One RESUME default, off, wherever a run can be started; resuming only when asked.

A run that silently continued an old ``<output>.last.pt`` (or pretraining checkpoint)
because one entry point defaulted to on while the others did not trains something the
user did not ask for. So the forms, the CLI and the library functions are checked
against each other, and a cancelled fine-tuning is continued only with RESUME on.
"""
from __future__ import annotations

import inspect

import pytest
from finetune_scene import tiny_config, write_scene
from helpers import cancel_after

torch = pytest.importorskip("torch")

from engine.progress import Cancelled, RunFeedback
from training.cli import build_parser
from training.finetune import finetune, last_checkpoint_path
from training.methods import METHODS, pretrain
from training.pretrain_loop import nothing_to_do_message, run_pretraining

FINETUNE_ARGS = ["finetune", "--images", "a.tif", "--labels", "a_labels.tif", "--output", "m.pt"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _library_default(function) -> bool:
    return inspect.signature(function).parameters["resume"].default


def _cli_defaults() -> dict[str, bool]:
    parser = build_parser()
    defaults = {"finetune": parser.parse_args(FINETUNE_ARGS).resume}
    for name in METHODS:
        defaults[f"pretrain {name}"] = parser.parse_args(["pretrain", name, "--output", "x.pt"]).resume
    return defaults


def test_library_and_cli_defaults_are_off():
    library = {"finetune": _library_default(finetune), "pretrain": _library_default(pretrain),
               "run_pretraining": _library_default(run_pretraining)}
    assert library == dict.fromkeys(library, False)
    cli = _cli_defaults()
    assert cli == dict.fromkeys(cli, False)
    assert build_parser().parse_args([*FINETUNE_ARGS, "--resume"]).resume is True


def test_form_defaults_agree_with_the_cli_and_the_library(rsseg_provider):
    ids = ["finetune"] + [f"pretrain_{name}" for name in METHODS]
    forms = {}
    for algorithm_id in ids:
        algorithm = rsseg_provider.algorithm(algorithm_id)
        if algorithm is None:   # a method whose packages are missing is not registered
            continue
        forms[algorithm_id] = algorithm.parameterDefinition("RESUME").defaultValue()
    assert "finetune" in forms
    expected = _library_default(finetune)
    assert forms == dict.fromkeys(forms, expected)
    assert set(_cli_defaults().values()) == {expected}


def _cancel_at_step_three(config, output) -> None:
    with pytest.raises(Cancelled):               # steps 1-3 run, the 4th poll cancels
        finetune(config, output, feedback=RunFeedback(log=lambda _m: None, is_cancelled=cancel_after(3)))
    assert last_checkpoint_path(output).is_file()   # the state reached is kept for RESUME


def test_cancelled_finetune_continues_only_when_asked(tmp_path):
    image, label = write_scene(tmp_path, size=96)
    config = tiny_config(image, label, epochs=2, patches_per_epoch=8, val_fraction=0.0)   # 2 epochs x 2 steps
    for name in ("fresh.pt", "resumed.pt"):
        _cancel_at_step_three(config, tmp_path / name)
    fresh: list[str] = []
    finetune(config, tmp_path / "fresh.pt", feedback=RunFeedback(log=fresh.append))      # the default
    assert not any("resuming" in line for line in fresh)
    assert any(line.startswith("step 2/4") for line in fresh)                           # epoch 1 again
    resumed: list[str] = []
    finetune(config, tmp_path / "resumed.pt", feedback=RunFeedback(log=resumed.append), resume=True)
    assert any("resuming from resumed.pt.last.pt at step 3 of 4" in line for line in resumed)
    assert not any(line.startswith("step 2/4") for line in resumed)


def test_nothing_to_do_names_the_parameters_that_extend_the_run(tmp_path):
    from test_grass import _blocks_raster, _config

    config = _config(_blocks_raster(tmp_path / "scene.tif", size=96), epochs=2, patches_per_epoch=8)
    output = tmp_path / "grass.pt"
    pretrain("grass", config, output)
    lines: list[str] = []
    pretrain("grass", config, output, feedback=RunFeedback(log=lines.append), resume=True)
    message = nothing_to_do_message("grass.pt", 4, 2, 2)
    assert message in lines
    assert "nothing to do" in message and "EPOCHS" in message and "PATCHES_PER_EPOCH" in message
    assert "RESUME" in message
    # and the advice is true: either parameter, with RESUME, trains the checkpoint further
    longer = pretrain("grass", _config(config.inputs[0], epochs=3, patches_per_epoch=8), output, resume=True)
    assert [r["step"] for r in longer.history] == [2, 4, 6]
    wider = pretrain("grass", _config(config.inputs[0], epochs=3, patches_per_epoch=16), output, resume=True)
    assert wider.history[-1]["step"] == 12


@pytest.mark.parametrize("budget, advice", [({"steps": 2}, "raise STEPS to extend"),
                                            ({"steps": 0, "epochs": 1}, "raise EPOCHS (STEPS is 0) to extend")])
def test_resuming_a_finished_finetune_names_the_budget_parameter(tmp_path, budget, advice):
    image, label = write_scene(tmp_path, size=96)
    config = tiny_config(image, label, patches_per_epoch=8, val_fraction=0.0, **budget)
    output = tmp_path / "m.pt"
    finetune(config, output, feedback=RunFeedback(log=lambda _m: None))
    lines = []
    finetune(config, output, feedback=RunFeedback(log=lines.append), resume=True)
    assert any("nothing to train" in line and advice in line for line in lines), lines
