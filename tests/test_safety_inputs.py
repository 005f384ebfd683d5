"""Bad files and bad settings end in a message naming the parameter (and the file), never a traceback.

Families (one parametrised test each): unreadable rasters in a pretraining INPUT_FOLDER,
unreadable CLI images/labels, unreadable models and checkpoints, settings that train
nothing, rasters lacking the checkpoint's bands, resume onto another band count.
"""
from __future__ import annotations

import numpy as np
import pytest
from finetune_scene import write_scene
from helpers import make_onnx_model, polygon_layer, write_geotiff

PRETRAININGS = ("pretrain_grass", "pretrain_sdcluster", "pretrain_diffusion")
TINY = {"PATCH_SIZE": 32, "BATCH_SIZE": 2, "EPOCHS": 1, "PATCHES_PER_EPOCH": 4, "DEVICE": 1}


def _bad_raster(folder, kind: str):
    """A file named .tif that GDAL cannot use: empty, foreign bytes, or a GeoTIFF cut in half."""
    path = folder / f"bad_{kind}.tif"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(b"this is not a raster\n" * 50)
    else:
        pixels = (np.random.default_rng(0).random((3, 512, 512)) * 255).astype(np.uint8)
        full = write_geotiff(folder / "full.tif", pixels)
        data = full.read_bytes()
        full.unlink()
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated"])
@pytest.mark.parametrize("algorithm", PRETRAININGS)
def test_unreadable_raster_in_input_folder(qgis_app, tmp_path, algorithm, kind):
    import processing
    from qgis.core import QgsProcessingException

    folder = tmp_path / "scenes"
    folder.mkdir()
    write_scene(folder, 64, name="good")
    (folder / "good_labels.tif").unlink()
    bad = _bad_raster(folder, kind)
    with pytest.raises(QgsProcessingException, match=f"INPUT: .*{bad.name}") as caught:
        processing.run(f"rsseg:{algorithm}", {"INPUT_FOLDER": str(folder), **TINY,
                                               "OUTPUT_CHECKPOINT": str(tmp_path / "out.pt")})
    assert "Traceback" not in str(caught.value)
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("which", ["images", "labels"])
@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated"])
def test_cli_unreadable_images_or_labels(tmp_path, capsys, which, kind):
    from training.cli import EXIT_ERROR, main

    image, label = write_scene(tmp_path, 64)
    bad = _bad_raster(tmp_path, kind)
    paths = {"images": str(image), "labels": str(label), which: str(bad)}
    code = main(["finetune", "--images", paths["images"], "--labels", paths["labels"], "--epochs", "1",
                 "--device", "cpu", "--output", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert f"{'INPUT' if which == 'images' else 'LABELS'}: " in err and bad.name in err and "Traceback" not in err


@pytest.mark.parametrize("case", ["segment_model", "export_checkpoint", "finetune_pretrained", "cluster_checkpoint"])
def test_unreadable_model_or_checkpoint(qgis_app, tmp_path, case):
    import processing
    from qgis.core import QgsProcessingException

    image, label = write_scene(tmp_path, 64)
    junk_onnx, junk_pt = tmp_path / "junk.onnx", tmp_path / "junk.pt"
    junk_onnx.write_bytes(b"\x00not onnx")
    junk_pt.write_bytes(b"")
    algorithm, parameters, name = {
        "segment_model": ("segment", {"INPUT": str(image), "MODEL": str(junk_onnx)}, "MODEL"),
        "export_checkpoint": ("export_onnx", {"CHECKPOINT": str(junk_pt), "OUTPUT_MODEL": str(tmp_path / "o.onnx")},
                              "CHECKPOINT"),
        "finetune_pretrained": ("finetune", {"INPUT": [str(image)], "LABELS": str(label), "PRETRAINED": str(junk_pt),
                                             "EPOCHS": 1, "PATCH_SIZE": 32, "DEVICE": 1}, "PRETRAINED"),
        "cluster_checkpoint": ("cluster_map", {"CHECKPOINT": str(junk_pt), "INPUT": str(image)}, "CHECKPOINT"),
    }[case]
    parameters.setdefault("OUTPUT", str(tmp_path / "o.tif"))
    parameters.setdefault("OUTPUT_CHECKPOINT", str(tmp_path / "o.pt"))
    with pytest.raises(QgsProcessingException, match=f"{name}: .*junk"):
        processing.run(f"rsseg:{algorithm}", parameters)


@pytest.mark.parametrize("algorithm", PRETRAININGS + ("finetune",))
@pytest.mark.parametrize("setting,value", [("EPOCHS", 0), ("LEARNING_RATE", 0.0)])
def test_settings_that_train_nothing(qgis_app, tmp_path, algorithm, setting, value):
    import processing
    from qgis.core import QgsProcessingException

    image, label = write_scene(tmp_path, 64)
    output = tmp_path / "out.pt"
    parameters = {**TINY, "OUTPUT_CHECKPOINT": str(output), setting: value}
    if algorithm == "finetune":
        parameters.update(INPUT=[str(image)], LABELS=str(label))
        parameters.pop("PATCHES_PER_EPOCH")
    else:
        parameters["INPUT"] = [str(image)]
    with pytest.raises(QgsProcessingException, match=setting):
        processing.run(f"rsseg:{algorithm}", parameters)
    assert not output.exists()


@pytest.mark.parametrize("method", ["grass", "sdcluster", "diffusion"])
def test_cli_pretraining_settings(tmp_path, capsys, method):
    """Settings torch would take silently (LR 0) or refuse in its own words (negative workers)."""
    from training.cli import EXIT_ERROR, main

    image, _ = write_scene(tmp_path, 64)
    for option, value in (("--epochs", "0"), ("--learning-rate", "0"), ("--learning-rate", "nan"),
                          ("--batch-size", "0"), ("--num-workers", "-1"), ("--weight-decay", "-1"),
                          ("--patches-per-epoch", "-4")):
        code = main(["pretrain", method, "--inputs", str(image), option, value, "--output", str(tmp_path / "g.pt")])
        name = option[2:].replace("-", "_").upper()
        assert code == EXIT_ERROR and f"error: {name}: " in capsys.readouterr().err, option
    assert not (tmp_path / "g.pt").exists()


@pytest.fixture(scope="module")
def sdcluster_checkpoint(tmp_path_factory):
    """A tiny real SDCluster checkpoint on 3 bands."""
    import torch

    from training.methods import config_class, pretrain

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("sdc")
    image, _ = write_scene(folder, 64)
    config = config_class("sdcluster")(inputs=[str(image)], patch_size=32, batch_size=2, epochs=1, patches_per_epoch=2,
                                       prototypes=4, output_stride=8, projector_hidden=16, embedding_dim=8,
                                       predictor_hidden=16, device="cpu")
    path = folder / "sdc.pt"
    pretrain("sdcluster", config, path, resume=False)
    return path


def test_cluster_map_on_a_raster_with_fewer_bands(qgis_app, tmp_path, sdcluster_checkpoint):
    import processing
    from qgis.core import QgsProcessingException

    two = write_geotiff(tmp_path / "two.tif", (np.random.default_rng(0).random((2, 64, 64)) * 255).astype(np.uint8))
    with pytest.raises(QgsProcessingException, match=r"INPUT: two.tif has 2 bands but the checkpoint sdc.pt reads"):
        processing.run("rsseg:cluster_map", {"CHECKPOINT": str(sdcluster_checkpoint), "INPUT": str(two),
                                             "OUTPUT": str(tmp_path / "c.tif")})
    assert not (tmp_path / "c.tif").exists()


def test_resume_onto_other_bands_names_the_output(tmp_path, sdcluster_checkpoint):
    import shutil

    from training.checkpoint import Checkpoint, CheckpointError
    from training.methods import config_class, pretrain

    two = write_geotiff(tmp_path / "two.tif", (np.random.default_rng(0).random((2, 64, 64)) * 255).astype(np.uint8))
    output = tmp_path / "sdc.pt"
    shutil.copy(sdcluster_checkpoint, output)
    config = config_class("sdcluster")(inputs=[str(two)], patch_size=32, batch_size=2, epochs=2, patches_per_epoch=2,
                                       prototypes=4, device="cpu")
    with pytest.raises(CheckpointError, match="OUTPUT_CHECKPOINT: sdc.pt was trained on 3 bands.*RESUME off"):
        pretrain("sdcluster", config, output, resume=True)
    # the library's default is the forms' and the CLI's: no resume, the old checkpoint is replaced
    pretrain("sdcluster", config, output)
    assert Checkpoint.load(output).bands == [1, 2]


def test_diffusion_checkpoint_for_deeplab_names_architecture(tmp_path):
    import torch
    from finetune_scene import tiny_config

    from training.checkpoint import Checkpoint
    from training.finetune import finetune

    image, label = write_scene(tmp_path, 64)
    pretrained = tmp_path / "ddpm.pt"
    Checkpoint(method="diffusion", config={"backbone": "resnet18"}, bands=[1, 2, 3], band_offset=[100.0] * 3,
               band_scale=[50.0] * 3, model_state={}, encoder_state={"unet.w": torch.zeros(1)}).save(pretrained)
    with pytest.raises(ValueError, match="ARCHITECTURE diff_hrnet") as caught:
        finetune(tiny_config(image, label, pretrained=str(pretrained), backbone="resnet34"), tmp_path / "m.pt")
    assert "BACKBONE" not in str(caught.value)


def test_evaluate_without_reference_field_names_it(qgis_app, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    prediction = write_geotiff(tmp_path / "pred.tif", np.zeros((32, 32), np.uint8))
    layer = polygon_layer("kind", {1: (500000, 2799970, 500020, 2800000)}, name="ref")
    with pytest.raises(QgsProcessingException, match="^REFERENCE_FIELD: "):
        processing.run("rsseg:evaluate", {"PREDICTION": str(prediction), "REFERENCE": layer,
                                          "OUTPUT_HTML": str(tmp_path / "r.html")})


def test_segment_refuses_values_far_outside_training(qgis_app, tmp_path):
    """A uint16 scene into a model whose card records 8-bit training values: refused, not nonsense."""
    import processing
    from qgis.core import QgsProcessingException

    from engine.model_card import ModelCard

    card = ModelCard(class_names=["a", "b"], bands=[1, 2, 3], band_offset=[100.0] * 3, band_scale=[50.0] * 3,
                     value_range=[[0.0, 255.0]] * 3)
    model = make_onnx_model(tmp_path / "m.onnx", np.ones((2, 3)), card=card)
    rng = np.random.default_rng(0)
    wide = write_geotiff(tmp_path / "u16.tif", (1500 + rng.random((3, 64, 64)) * 3000).astype(np.uint16))
    with pytest.raises(QgsProcessingException, match="INPUT: band 1 of INPUT has median .* meaningless"):
        processing.run("rsseg:segment", {"INPUT": str(wide), "MODEL": str(model), "OUTPUT": str(tmp_path / "o.tif")})
    assert not (tmp_path / "o.tif").exists()
    fine = write_geotiff(tmp_path / "u8.tif", (rng.random((3, 64, 64)) * 255).astype(np.uint8))
    processing.run("rsseg:segment", {"INPUT": str(fine), "MODEL": str(model), "OUTPUT": str(tmp_path / "o.tif")})
