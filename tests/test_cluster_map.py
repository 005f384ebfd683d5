"""Cluster models from SDCluster checkpoints: merging, export contract, seamless tiling."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.checkpoint import Checkpoint, config_to_dict
from training.data.synthetic import paint_block_scene, write_block_scene
from training.methods.sdcluster import SDClusterMethod
from training.methods.sdcluster_config import SDClusterConfig
from training.methods.sdcluster_export import (
    average_linkage,
    build_cluster_net,
    export_cluster_model,
    merge_matrix,
)

TINY = dict(patch_size=64, output_stride=8, projector_hidden=32, embedding_dim=16, predictor_hidden=32, prototypes=6)


def save_checkpoint(path, seed: int = 0) -> Checkpoint:
    """An SDCluster checkpoint with random weights (the export does not care how they were learned)."""
    torch.manual_seed(seed)
    config = SDClusterConfig(**TINY)
    method = SDClusterMethod(config, 3)
    ckpt = Checkpoint(
        method="sdcluster", config=config_to_dict(config), bands=[1, 2, 3],
        band_offset=[100.0, 110.0, 100.0], band_scale=[60.0, 60.0, 50.0],
        model_state={k: v.detach().clone() for k, v in method.state_dict().items()},
        encoder_state=method.encoder_state(),
    )
    ckpt.save(path)
    return ckpt


def test_average_linkage_finds_separated_groups():
    rng = np.random.default_rng(0)
    directions = np.eye(8)[:3]
    vectors = np.concatenate([d + 0.1 * rng.normal(size=(5, 8)) for d in directions])
    order = rng.permutation(len(vectors))
    labels = average_linkage(vectors[order], 3)
    truth = np.repeat(np.arange(3), 5)[order]
    for group in range(3):                      # each found group is one true group
        assert len(set(truth[labels == group])) == 1
    assert sorted(np.bincount(labels)) == [5, 5, 5]


def test_merge_matrix_uses_only_used_prototypes():
    protos = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.95, 0.0]], dtype=np.float32)
    usage = np.array([10, 0, 7, 3, 0])
    m = merge_matrix(protos, 0, usage)
    assert m.shape == (5, 3)                    # one output per used prototype
    assert np.all(m.sum(axis=1) == 1)           # every prototype lands in exactly one output
    assert m[1].argmax() == m[0].argmax() and m[4].argmax() == m[0].argmax()   # unused join nearest used
    m2 = merge_matrix(protos, 2, usage)
    assert m2.shape == (5, 2) and m2[2].argmax() == m2[3].argmax() != m2[0].argmax()


def test_export_is_one_softmax_with_a_cluster_card(tmp_path):
    import onnxruntime as ort

    from engine.model_card import ModelCard

    torch.set_num_threads(1)
    ckpt_path = tmp_path / "sdc.pt"
    ckpt = save_checkpoint(ckpt_path)
    onnx_path = export_cluster_model(ckpt_path, tmp_path / "clusters.onnx", tile_size=64)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    card = ModelCard.from_metadata(session.get_modelmeta().custom_metadata_map)
    assert card.task == "clusters" and card.method == "sdcluster" and card.outputs == "probabilities"
    assert card.class_names == [f"cluster {k}" for k in range(6)]
    assert len(set(card.class_colors)) == 6 and card.bands == [1, 2, 3]
    assert card.band_offset == ckpt.band_offset and card.config["prototypes"] == 6
    x = torch.randn(1, 3, 48, 40)
    (got,) = session.run(None, {"input": x.numpy()})
    method = SDClusterMethod(SDClusterConfig(**TINY), 3)
    method.load_state_dict(ckpt.model_state)
    method.eval()
    with torch.no_grad():
        _, scores = method.teacher(x)
        scores = torch.nn.functional.interpolate(scores, size=(48, 40), mode="bilinear", align_corners=False)
        want = torch.softmax(scores / 0.1, dim=1).numpy()
    assert got.shape == (1, 6, 48, 40)
    assert np.allclose(got, want, atol=1e-4)    # one softmax at 0.1, not two
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-4)


def test_merged_map_recolours_the_prototype_map(tmp_path):
    torch.set_num_threads(1)
    ckpt_path = tmp_path / "sdc.pt"
    save_checkpoint(ckpt_path)
    image_path, _ = write_block_scene(tmp_path, 64, 16)
    net0, _, rec0 = build_cluster_net(ckpt_path, 0, image_path)
    net2, _, rec2 = build_cluster_net(ckpt_path, 2, image_path)
    assert rec2["clusters"] == 2 and len(rec2["cluster_prototypes"]) == 2
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ids0, ids2 = net0(x)[0].argmax(0), net2(x)[0].argmax(0)
    prototype_of_output0 = [members for members in rec0["cluster_prototypes"]]
    group_of = {p: g for g, members in enumerate(rec2["cluster_prototypes"]) for p in members}
    # every pixel's merged cluster is the group of its winning (used) prototype
    best_prototype = np.array([prototype_of_output0[i][0] if len(prototype_of_output0[i]) == 1 else -1
                               for i in ids0.flatten().tolist()])
    known = best_prototype >= 0
    mapped = np.array([group_of[p] for p in best_prototype[known]])
    assert np.array_equal(mapped, ids2.flatten().numpy()[known])


def _segment(image, model, out, tile):
    import rasterio

    from engine.segment import segment_raster

    segment_raster(str(image), str(model), str(out), tile_size=tile, device="cpu", threads=1)
    with rasterio.open(out) as src:
        return src.read(1)


def test_tiled_map_matches_whole_image_map(tmp_path):
    """Tiles of 64 px with blended overlaps give the map of one 192 px pass: no seams."""
    torch.set_num_threads(1)
    ckpt_path = tmp_path / "sdc.pt"
    save_checkpoint(ckpt_path)
    image_path, _ = write_block_scene(tmp_path, 192, 48)
    model = export_cluster_model(ckpt_path, tmp_path / "c.onnx", clusters=3, usage_raster=image_path)
    tiled = _segment(image_path, model, tmp_path / "tiled.tif", 64)
    whole = _segment(image_path, model, tmp_path / "whole.tif", 192)
    assert tiled.shape == whole.shape == (192, 192)
    agreement = (tiled == whole).mean()
    assert agreement > 0.9, agreement
    # disagreement is not concentrated on tile borders (a seam would be)
    borders = np.zeros(192, bool)
    borders[[c for c in range(8, 192, 48)]] = True
    assert (tiled != whole)[:, borders].mean() < 0.25


@pytest.mark.slow
def test_large_raster_streams_through_the_engine(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    torch.set_num_threads(1)
    ckpt_path = tmp_path / "sdc.pt"
    save_checkpoint(ckpt_path)
    image, _ = paint_block_scene(1500, 100, seed=1)
    path = tmp_path / "big.tif"
    with rasterio.open(path, "w", driver="GTiff", width=1500, height=1500, count=3, dtype="uint8", tiled=True,
                       crs="EPSG:32640", transform=from_origin(500000.0, 2800000.0, 1.0, 1.0)) as dst:
        dst.write(image)
    model = export_cluster_model(ckpt_path, tmp_path / "c.onnx", clusters=3, usage_raster=path)
    result = _segment(path, model, tmp_path / "big_clusters.tif", 256)
    assert result.shape == (1500, 1500)
    assert set(np.unique(result)) <= {0, 1, 2} and len(np.unique(result)) >= 2
