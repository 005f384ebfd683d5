"""GraSS region selection: gradient map, threshold, component of the max, crops."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training.methods.contrastive import ProjectionHead, nt_xent
from training.methods.grass import GraSSMethod, crop_views
from training.methods.grass_config import GraSSConfig
from training.methods.grass_regions import (
    component_of_max,
    gradient_map,
    region_boxes,
    scale_boxes,
    select_boxes,
)


def _maps(*arrays):
    return torch.tensor(arrays, dtype=torch.float32)


def test_one_blob_gives_its_bounding_box():
    m = torch.zeros(1, 8, 8)
    m[0, 2:5, 3:7] = 1.0
    m[0, 3, 4] = 1.5
    boxes, found = select_boxes(m, 0.5)
    assert found.tolist() == [True]
    assert boxes[0].tolist() == [2, 3, 5, 7]


def test_two_blobs_keep_the_one_holding_the_maximum():
    m = torch.zeros(2, 10, 10)
    m[:, 0:3, 0:3] = 0.8          # big, but lower
    m[:, 6:8, 7:9] = 0.7
    m[0, 7, 8] = 1.0              # the max is in the small blob of map 0
    m[1, 1, 1] = 1.0              # and in the big one of map 1
    boxes, found = select_boxes(m, 0.5)
    assert found.all()
    assert boxes[0].tolist() == [6, 7, 8, 9]
    assert boxes[1].tolist() == [0, 0, 3, 3]


def test_diagonal_neighbours_are_connected_8_neighbourhood():
    m = torch.zeros(1, 6, 6)
    for i in range(4):
        m[0, i, i] = 1.0          # a diagonal line: one component with 8-connectivity only
    boxes, found = select_boxes(m, 0.5)
    assert found.item() and boxes[0].tolist() == [0, 0, 4, 4]


def test_flat_map_has_no_component_and_keeps_the_whole_view():
    boxes, found = select_boxes(torch.full((1, 5, 7), 0.3), 0.5)
    assert found.tolist() == [False]
    assert boxes[0].tolist() == [0, 0, 5, 7]


def test_blob_touching_the_border():
    m = torch.zeros(1, 8, 8)
    m[0, 5:8, 0:2] = 1.0
    boxes, found = select_boxes(m, 0.5)
    assert found.item() and boxes[0].tolist() == [5, 0, 8, 2]


def test_threshold_is_relative_to_each_maps_range():
    # same shape on a shifted and scaled map: same box (only min + ratio*(max-min) matters)
    m = torch.zeros(1, 8, 8)
    m[0, 1:4, 1:4] = 1.0
    m[0, 2, 2] = 1.5
    b1, _ = select_boxes(m, 0.5)
    b2, _ = select_boxes(m * 10 - 3, 0.5)
    assert b1.tolist() == b2.tolist() == [[1, 1, 4, 4]]
    # a higher ratio keeps only the peak
    b3, _ = select_boxes(m, 0.8)
    assert b3.tolist() == [[2, 2, 3, 3]]


def test_non_finite_map_is_left_alone():
    m = torch.zeros(1, 4, 4)
    m[0, 1, 1] = float("nan")
    _, found = select_boxes(m, 0.5)
    assert found.tolist() == [False]


def test_component_of_max_flood_fill_matches_a_reference_labelling():
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(6, 20, 20, generator=g) > 0.55
    seeds = torch.stack([torch.nonzero(mk.flatten())[0, 0] for mk in mask])
    region = component_of_max(mask, seeds)
    for k in range(mask.shape[0]):  # breadth-first search as the reference
        h, w = mask.shape[1:]
        start = divmod(int(seeds[k]), w)
        seen, todo = {start}, [start]
        while todo:
            r, c = todo.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    q = (r + dr, c + dc)
                    if 0 <= q[0] < h and 0 <= q[1] < w and q not in seen and bool(mask[k, q[0], q[1]]):
                        seen.add(q)
                        todo.append(q)
        expected = torch.zeros(h, w, dtype=torch.bool)
        for r, c in seen:
            expected[r, c] = True
        assert torch.equal(region[k], expected)


def test_gradient_map_signed_divides_by_the_max_sign_included():
    features = torch.ones(2, 1, 2, 2)
    features[:, 0, 0, 0] = 3.0
    grads = torch.stack([torch.full((1, 2, 2), 0.5), torch.full((1, 2, 2), -0.5)])
    signed = gradient_map(features, grads, "signed")
    # positive weight: the largest feature is the max (= 1 after normalisation)
    assert torch.allclose(signed[0], torch.tensor([[1.0, 1 / 3], [1 / 3, 1 / 3]]))
    # negative weight: map is negative everywhere, dividing by its (negative) max flips it,
    # as the authors' code does: the most negative cell becomes the hottest
    assert torch.allclose(signed[1], torch.tensor([[3.0, 1.0], [1.0, 1.0]]))
    absolute = gradient_map(features, grads, "absolute")
    assert torch.allclose(absolute[1], torch.tensor([[1.0, 1 / 3], [1 / 3, 1 / 3]]))
    zero = gradient_map(features, torch.zeros_like(grads), "signed")
    assert torch.count_nonzero(zero) == 0 and torch.isfinite(zero).all()


def test_view_and_feature_resolution_boxes_agree_roughly():
    m = torch.zeros(1, 4, 4)
    m[0, 0, 3] = 1.0
    view_box, found = region_boxes(m, (64, 64), 0.5, "view")
    cell_box, found2 = region_boxes(m, (64, 64), 0.5, "feature")
    assert found.item() and found2.item()
    assert cell_box[0].tolist() == [0, 48, 16, 64]          # exactly the top-right cell
    r0, c0, r1, c1 = view_box[0].tolist()
    assert r0 == 0 and c1 == 64 and c0 >= 40 and r1 <= 24    # bilinear blob around it
    assert scale_boxes(torch.tensor([[1, 1, 2, 3]]), (4, 4), (10, 10)).tolist() == [[2, 2, 5, 8]]


def test_crop_views_nearest_matches_interpolate_and_keeps_unfound_views():
    g = torch.Generator().manual_seed(0)
    views = torch.randn(3, 2, 16, 16, generator=g)
    boxes = torch.tensor([[2, 3, 9, 14], [0, 0, 16, 16], [5, 5, 6, 6]])
    out = crop_views(views, boxes, "nearest")
    for k in range(3):
        r0, c0, r1, c1 = boxes[k].tolist()
        expected = F.interpolate(views[k : k + 1, :, r0:r1, c0:c1], size=(16, 16), mode="nearest")
        assert torch.allclose(out[k : k + 1], expected)
    assert torch.equal(out[1], views[1])
    bilinear = crop_views(views, boxes, "bilinear")
    assert torch.allclose(bilinear[1], views[1], atol=1e-5)


# --------------------------------------------------------------------------- where the gradient points
class TinyEncoder(nn.Module):
    """Three convolutions, stride 4: an 8x8 map on 32 px patches (a ResNet needs 256 px for that)."""

    output_stride = 4

    def __init__(self, bands: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(bands, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(),
        )

    def forward(self, x):
        return [self.net(x)]


N, P, K = 8, 32, 12


def _scene(g: torch.Generator, row: int, col: int) -> torch.Tensor:
    """N patches sharing one textured background; a KxK square at (row, col) whose colour and
    texture differ per patch: only the square tells the patches apart."""
    background = 0.3 * torch.randn(1, 3, P, P, generator=g)
    x = background.repeat(N, 1, 1, 1)
    x[:, :, row : row + K, col : col + K] = (1.5 * torch.randn(N, 3, 1, 1, generator=g)
                                             + 0.3 * torch.randn(N, 3, K, K, generator=g))
    return x


def _briefly_trained_grass(seed: int, map_sign: str) -> tuple[GraSSMethod, torch.Generator]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    method = GraSSMethod(GraSSConfig(patch_size=P, batch_size=N, map_sign=map_sign, backbone="resnet18"), 3)
    method.encoder = TinyEncoder(3)
    method.head = ProjectionHead(64, 64, 32)
    optimizer = torch.optim.AdamW(method.parameters(), 3e-3)
    for _ in range(40):  # SimCLR warm-up on squares at random places
        row, col = torch.randint(0, P - K, (2,), generator=g).tolist()
        x = _scene(g, row, col)
        views = torch.cat([x, x])
        views = (views * (1 + 0.2 * torch.randn(2 * N, 3, 1, 1, generator=g))
                 + 0.1 * torch.randn(views.shape, generator=g))
        loss = method.contrast(method.embed(views))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return method, g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_map_points_at_the_region_that_decides_the_match(seed):
    torch.set_num_threads(1)
    method, g = _briefly_trained_grass(seed, "absolute")
    row, col = 4, 18
    x = _scene(g, row, col)
    guide = method.guided_regions(torch.cat([x, x]))
    boxes, found = guide["boxes"], guide["found"]
    centre_r, centre_c = row + K // 2, col + K // 2
    covers = (boxes[:, 0] <= centre_r) & (boxes[:, 2] > centre_r) & (boxes[:, 1] <= centre_c) & (boxes[:, 3] > centre_c)
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).float() / (P * P)
    tight = covers & found & (area < 0.35)          # the square is 14% of the patch
    assert tight.float().mean() >= 0.6, (boxes.tolist(), area.tolist())
    # and the map is hotter on the square than off it for nearly every view
    maps = F.interpolate(guide["maps"].unsqueeze(1), size=(P, P), mode="bilinear", align_corners=False).squeeze(1)
    inside = torch.zeros(P, P, dtype=torch.bool)
    inside[row : row + K, col : col + K] = True
    hotter = maps[:, inside].mean(dim=1) > maps[:, ~inside].mean(dim=1)
    assert hotter.float().mean() >= 0.75


def test_guided_pass_gives_no_parameter_gradient():
    torch.set_num_threads(1)
    method = GraSSMethod(GraSSConfig(patch_size=64, batch_size=2), 3)
    views = torch.randn(4, 3, 64, 64)
    out = method.guided_regions(views)
    assert out["maps"].shape == (4, 2, 2)
    assert all(p.grad is None for p in method.parameters())
    assert torch.isfinite(out["loss"])


def test_nt_xent_is_low_for_matching_views_and_needs_two_patches():
    z = torch.eye(4, 8) * 5
    assert nt_xent(z, z, 0.5) < nt_xent(z, z.roll(1, dims=0), 0.5)
    with pytest.raises(ValueError, match="BATCH_SIZE must be at least 2"):
        nt_xent(z[:1], z[:1])
