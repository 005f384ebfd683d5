"""Random crops: inside the training blocks, covering the labelled area, masking unkept labels,
reproducible per index; and the step budget, early stopping and the encoder learning rate."""
from __future__ import annotations

import numpy as np
import pytest
from finetune_scene import tiny_config, write_scene

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from engine.progress import RunFeedback
from training.checkpoint import Checkpoint
from training.data.crops import RandomCropDataset, crop_regions, draw_crop, kept_label_mask
from training.data.labels import LabeledPatchDataset, make_pairs
from training.data.rasters import Normalization
from training.data.splits import split_patches
from training.finetune import finetune, last_checkpoint_path, parameter_groups, step_budget
from training.nets.deeplab import build

QUIET = RunFeedback(log=lambda _m: None)


def _inside(window, block) -> bool:
    return (block.col <= window.col and window.col + window.size <= block.col + block.width
            and block.row <= window.row and window.row + window.size <= block.row + block.height)


def _overlaps(window, block) -> bool:
    return not (window.col + window.size <= block.col or block.col + block.width <= window.col
                or window.row + window.size <= block.row or block.row + block.height <= window.row)


def test_crops_cover_the_labelled_area_and_stay_in_training_blocks(tmp_path):
    image, label = write_scene(tmp_path, size=200)
    pairs = make_pairs([image], [label])
    split = split_patches(pairs, patch_size=32, block_size=72, val_fraction=0.3, label_fraction=0.5, seed=1)
    regions = crop_regions(split.train, split.train_blocks, [(200, 200)], split.val_blocks)
    rng = np.random.default_rng(0)
    covered = np.zeros((200, 200), dtype=bool)
    starts, crossed = set(), 0
    for _ in range(6000):
        crop = draw_crop(regions, 32, rng)
        assert not any(_overlaps(crop, b) for b in split.val_blocks)     # never into validation
        crossed += not any(_inside(crop, b) for b in split.train_blocks)
        covered[crop.row:crop.row + 32, crop.col:crop.col + 32] = True
        starts.add((crop.col, crop.row))
    kept = np.zeros((200, 200), dtype=bool)
    for tile in split.train:
        kept[tile.row:tile.row + 32, tile.col:tile.col + 32] = True
    assert covered[kept].all()                          # every kept labelled pixel is seen
    assert len(starts) > 20 * len(split.train)          # not a grid: positions anywhere
    assert crossed > 0                                  # across edges between training blocks
    # labels outside the kept tiles never count (LABEL_FRACTION 0.5 kept half of them)
    for crop in [draw_crop(regions, 32, rng) for _ in range(50)]:
        assert (kept_label_mask(crop, split.train) == kept[crop.row:crop.row + 32, crop.col:crop.col + 32]).all()


def test_a_crop_depends_only_on_its_index(tmp_path):
    image, label = write_scene(tmp_path, size=96)
    pairs = make_pairs([image], [label])
    split = split_patches(pairs, 32, 48, 0.25, seed=0)
    reader = LabeledPatchDataset(pairs, [], [1, 2, 3], Normalization((0.0,) * 3, (1.0,) * 3))
    regions = crop_regions(split.train, split.train_blocks, [(96, 96)], split.val_blocks)
    crops = RandomCropDataset(reader, regions, 32, seed=5, length=10)
    first = [crops[i] for i in (7, 3, 7)]
    assert torch.equal(first[0][0], first[2][0]) and torch.equal(first[0][1], first[2][1])
    assert not torch.equal(first[0][0], first[1][0])
    other_rank = RandomCropDataset(reader, crops.regions, 32, seed=5, rank=1, length=10)
    assert other_rank.window(7) != crops.window(7) or other_rank.window(3) != crops.window(3)
    crops.close()


def test_step_budget():
    config = tiny_config("a.tif", "b.tif", steps=0, epochs=3, batch_size=4, patches_per_epoch=0)
    budget = step_budget(config, labelled_tiles=6)       # a labelled area of 6 tiles: 1 step per epoch
    assert (budget.steps_per_epoch, budget.total_steps, budget.validate_every) == (1, 3, 1)
    config = tiny_config("a.tif", "b.tif", steps=120, validate_every=50, warmup_fraction=0.1, batch_size=4)
    budget = step_budget(config, labelled_tiles=6)
    assert (budget.total_steps, budget.warmup_steps, budget.validate_every) == (120, 12, 50)
    assert step_budget(tiny_config("a", "b", steps=2, batch_size=4, validate_every=50), 6).validate_every == 2


def test_encoder_learning_rate_scale():
    net = build(3, 2)
    groups = parameter_groups(net, 1e-3, 0.1)
    encoder = {id(p) for p in net.encoder.parameters()}
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(1e-4)
    assert {id(p) for p in groups[1]["params"]} == encoder
    assert not encoder & {id(p) for p in groups[0]["params"]}
    assert len(parameter_groups(net, 1e-3, 1.0)) == 1


def test_steps_and_early_stopping(tmp_path):
    image, label = write_scene(tmp_path, size=96)
    config = tiny_config(image, label, steps=6, validate_every=2, val_fraction=0.25, split_block_size=48,
                         learning_rate=1e-9, early_stopping_patience=1)   # nothing improves: stop at once
    result = finetune(config, tmp_path / "m.pt", feedback=QUIET)
    assert result.stopped_early and [r["step"] for r in result.history] == [2, 4]
    assert result.best_step == 2
    full = finetune(tiny_config(image, label, steps=6, validate_every=2, val_fraction=0.25, split_block_size=48),
                    tmp_path / "n.pt", feedback=QUIET)
    assert [r["step"] for r in full.history] == [2, 4, 6] and not full.stopped_early


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("keep, stop_early, kept", [("auto", True, "best"), ("auto", False, "last"),
                                                    ("best", False, "best"), ("last", True, "last")])
def test_keep_state_picks_the_state_written_to_the_output(tmp_path, keep, stop_early, kept):
    """KEEP_STATE auto writes the end of a run that took its whole budget and the best-validation
    state of one early stopping ended; best and last always write that state. The output's
    weights are the last state's exactly when "last" is kept (BatchNorm statistics move every
    step, so an earlier state differs), and the checkpoint records which state and step it holds."""
    image, label = write_scene(tmp_path, size=96)
    # learning rate 1e-9: validation never improves, so the best state is the first one (step 2)
    config = tiny_config(image, label, steps=6, validate_every=2, val_fraction=0.25, split_block_size=48,
                         learning_rate=1e-9, early_stopping_patience=1 if stop_early else 0, keep_state=keep)
    result = finetune(config, tmp_path / "m.pt", feedback=QUIET)
    output, last = Checkpoint.load(tmp_path / "m.pt"), Checkpoint.load(last_checkpoint_path(tmp_path / "m.pt"))
    assert result.stopped_early == stop_early and result.best_step == 2
    assert result.kept_state == output.extra_state["kept_state"] == kept
    assert result.kept_step == output.extra_state["kept_step"] == (2 if kept == "best" else result.steps)
    assert result.kept_miou == next(r["val_miou"] for r in result.history if r["step"] == result.kept_step)
    assert same_weights(output.model_state, last.model_state) == (kept == "last")


def test_keep_state_is_checked():
    with pytest.raises(ValueError, match="KEEP_STATE: use one of auto, best, last"):
        tiny_config("a.tif", "b.tif", keep_state="newest").validate()
