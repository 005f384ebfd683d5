"""From an SDCluster checkpoint to an ONNX "cluster map" model the engine runs like any other.

    image ─► encoder ─► projector ─► cosine(embedding, prototypes) ─► bilinear upsampling
          ─► softmax(scores / 0.1) over prototypes ─► [fixed K x G summing matrix] ─► probabilities

The network is the teacher by default (``cluster_branch``): the EMA of the student is the
network the paper's clustering figures show and it is smoother; ``branch="student"``
shows the encoder fine-tuning starts from, which leads the teacher early in training.

K = 256 prototypes are far more than the land-cover classes a user wants, and after
training only some of them win any pixel. Two reductions, both fixed in the graph (a
K x G 0/1 matrix) so the engine still averages probabilities across tiles (seamless maps):

* *used prototypes only*: when a sample of the input raster is given, prototypes that
  win no pixel of it are dropped (their probability mass is added to the most similar
  used prototype), so the map's legend lists only clusters that occur;
* *CLUSTERS = G*: the used prototypes are merged into G groups by agglomerative
  clustering of their vectors (average linkage on cosine distance), and each unused
  prototype joins the group of its most similar used prototype. Each used prototype is
  described by the centroid of the pixels it wins on the sample. A group's probability is
  that of its best prototype ("max", default: the merged map is the prototype map
  recoloured) or the sum over its prototypes ("sum": the summing matrix as a 1x1
  convolution; after short training probabilities are soft and "sum" lets groups with
  many prototypes swallow the map, see docs/sdcluster.md).

The probabilities are computed inside the module, so it is exported with
``add_softmax=False`` (``training.export.export_module`` would otherwise apply a second
softmax) and a card whose ``outputs`` is "probabilities" and ``task`` "clusters".
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from rasterio.windows import Window
from torch import nn

from engine.model_card import ModelCard, default_color
from engine.progress import RunFeedback
from engine.safeguards import check_band_count
from engine.tiling import DEFAULT_OVERLAP_PERCENT, card_tile_size
from training.checkpoint import Checkpoint, CheckpointError, config_from_dict, load_checkpoint
from training.data.rasters import valid_mask
from training.methods.sdcluster import DenseBranch, SDClusterMethod, cosine_scores
from training.methods.sdcluster_config import SDClusterConfig

MAX_CLASSES = 255          # class rasters are uint8 with 255 as nodata
MERGE_RULES = ("max", "sum")
MIN_SHARE = 0.01           # a prototype "is used" when it wins at least 1 % of the sampled pixels


class ClusterMapNet(nn.Module):
    """(B, C, H, W) image -> (B, G, H, W) cluster probabilities at input resolution.

    ``merge`` (K, G) 0/1 says which prototypes make each output cluster. ``rule`` "sum"
    gives a cluster the summed probability of its prototypes (a 1x1 convolution with the
    fixed matrix: the marginal, right when the probabilities are calibrated); "max" gives
    it the probability of its best prototype, so the merged map is exactly the prototype
    map with its clusters recoloured, even when probabilities are soft (short training),
    where "sum" favours the clusters that hold many prototypes.
    """

    def __init__(self, branch: DenseBranch, temperature: float, merge: np.ndarray | None = None,
                 rule: str = "max") -> None:
        super().__init__()
        if rule not in MERGE_RULES:
            raise ValueError(f"merge rule must be one of {', '.join(MERGE_RULES)}, got {rule!r}")
        self.encoder = branch.encoder
        self.projector = branch.projector
        self.register_buffer("prototypes", F.normalize(branch.prototypes.detach().clone(), dim=1))
        self.temperature = float(temperature)
        self.rule = rule
        if merge is None:
            merge = np.eye(self.prototypes.shape[0], dtype=np.float32)
        merge = np.asarray(merge, np.float32)
        # "sum": (G, K, 1, 1), a 1x1 convolution that sums the prototypes of each group
        self.register_buffer("merge", torch.as_tensor(merge.T.copy())[:, :, None, None])
        # "max": prototypes ordered by group, and each group's [start, end) in that order
        groups = merge.argmax(axis=1)
        order = np.argsort(groups, kind="stable")
        self.register_buffer("order", torch.as_tensor(order, dtype=torch.long))
        ends = np.cumsum(np.bincount(groups, minlength=merge.shape[1]))
        self.bounds = [(int(e - n), int(e)) for e, n in zip(ends, np.bincount(groups, minlength=merge.shape[1]))]
        self.one_per_group = len(self.bounds) == merge.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cluster probabilities of every pixel: prototype scores merged into the exported clusters."""
        embeddings = self.projector(self.encoder(x)[-1])
        scores = cosine_scores(embeddings, self.prototypes)
        scores = F.interpolate(scores, size=x.shape[-2:], mode="bilinear", align_corners=False)
        probabilities = torch.softmax(scores / self.temperature, dim=1)
        if self.rule == "sum":
            return F.conv2d(probabilities, self.merge)
        if self.one_per_group:
            return probabilities.index_select(1, self.order)       # one prototype per cluster
        grouped = probabilities.index_select(1, self.order)
        return torch.cat([grouped[:, a:b].amax(dim=1, keepdim=True) for a, b in self.bounds], dim=1)

    def assign(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """At the feature map's resolution: unit embeddings (B, D, h, w) and the winning
        prototype of each pixel (B, h, w); used to see which prototypes the imagery uses."""
        embeddings = F.normalize(self.projector(self.encoder(x)[-1]), dim=1)
        return embeddings, cosine_scores(embeddings, self.prototypes).argmax(dim=1)

    @property
    def n_outputs(self) -> int:
        """Number of clusters the exported model outputs (after merging prototypes)."""
        return int(self.merge.shape[0])


# ----------------------------------------------------------------------------- merging
def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """(n, n) 1 - cosine similarity."""
    v = np.asarray(vectors, np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - v @ v.T, 0.0, 2.0)


def average_linkage(vectors: np.ndarray, groups: int) -> np.ndarray:
    """Group labels 0..groups-1 of ``vectors`` (n, D) by agglomerative clustering with
    average linkage on cosine distance (UPGMA), merging the closest pair until ``groups``
    remain. Labels are numbered by first appearance, so the result is deterministic."""
    n = len(vectors)
    if not 1 <= groups <= n:
        raise ValueError(f"CLUSTERS: cannot make {groups} groups of {n} prototypes")
    dist = cosine_distances(vectors)
    np.fill_diagonal(dist, np.inf)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    alive = np.ones(n, dtype=bool)
    for _ in range(n - groups):
        masked = np.where(alive[:, None] & alive[None, :], dist, np.inf)
        a, b = np.unravel_index(np.argmin(masked), masked.shape)
        a, b = min(a, b), max(a, b)
        na, nb = len(members[a]), len(members[b])
        merged = (na * dist[a] + nb * dist[b]) / (na + nb)      # average linkage update
        dist[a, :], dist[:, a] = merged, merged
        dist[a, a] = np.inf
        alive[b] = False
        dist[b, :], dist[:, b] = np.inf, np.inf
        members[a] += members.pop(b)
    labels = np.empty(n, dtype=np.int64)
    for group, root in enumerate(sorted(members, key=lambda r: min(members[r]))):
        labels[members[root]] = group
    return labels


def merge_matrix(
    prototypes: np.ndarray,
    groups: int = 0,
    usage: np.ndarray | None = None,
    centroids: np.ndarray | None = None,
    min_share: float = MIN_SHARE,
) -> np.ndarray:
    """(K, G) 0/1 matrix: column g sums the prototypes of output cluster g.

    ``usage`` (K,) counts of pixels each prototype wins on a sample of the imagery; when
    given, only used prototypes (winning at least ``min_share`` of the sampled pixels)
    define clusters and each other one joins its most similar used prototype's cluster:
    a prototype that wins a handful of odd pixels would otherwise, being far from all
    the others, take one of the G clusters for itself. ``groups`` 0 keeps one cluster per used prototype
    (or per prototype without ``usage``). ``centroids`` (K, D), the mean embedding of the
    pixels each prototype wins, replace the learned vectors of the used prototypes in the
    linkage: they are where the imagery actually lies (a prototype can sit far from its
    pixels, on the other side of a decision boundary, when training was short).
    """
    protos = np.asarray(prototypes, np.float64)
    k = len(protos)
    if usage is None:
        used = np.arange(k)
    else:
        counts = np.asarray(usage, np.float64)
        used = np.flatnonzero(counts >= max(min_share * counts.sum(), 1e-12))
    if len(used) == 0:
        used = np.arange(k)
    if groups and len(used) < groups:  # too few: the ``groups`` most used prototypes instead
        used = np.arange(k) if usage is None else np.sort(np.argsort(-np.asarray(usage), kind="stable")[:groups])
    described = protos if centroids is None or usage is None else np.where(
        (np.asarray(usage) > 0)[:, None], np.asarray(centroids, np.float64), protos)
    labels_used = average_linkage(described[used], groups) if groups else np.arange(len(used))
    n_out = int(labels_used.max()) + 1
    if n_out > MAX_CLASSES:
        raise ValueError(
            f"CLUSTERS: {n_out} clusters do not fit a class raster (at most {MAX_CLASSES}); set CLUSTERS"
        )
    labels = np.empty(k, dtype=np.int64)
    labels[used] = labels_used
    unused = np.setdiff1d(np.arange(k), used)
    if len(unused):
        similarity = 1.0 - cosine_distances(protos)[np.ix_(unused, used)]
        labels[unused] = labels_used[np.argmax(similarity, axis=1)]
    matrix = np.zeros((k, n_out), dtype=np.float32)
    matrix[np.arange(k), labels] = 1.0
    return matrix


# ----------------------------------------------------------------------------- loading
def load_sdcluster(checkpoint_path: str | os.PathLike,
                   parameter: str = "CHECKPOINT") -> tuple[Checkpoint, SDClusterMethod]:
    """The checkpoint and its method with the trained weights (eval mode, CPU)."""
    checkpoint = load_checkpoint(checkpoint_path, parameter)
    if checkpoint.method != "sdcluster":
        raise CheckpointError(
            f"{parameter}: {Path(checkpoint_path).name} is a {checkpoint.method} checkpoint; cluster maps need an "
            "SDCluster checkpoint (rsseg:pretrain_sdcluster) or its exported cluster .onnx"
        )
    config = config_from_dict(SDClusterConfig, checkpoint.config)
    method = SDClusterMethod(config, checkpoint.in_channels)
    method.load_state_dict(checkpoint.model_state)
    return checkpoint, method.eval()


@torch.no_grad()
def prototype_usage(
    net: ClusterMapNet,
    raster_path: str | os.PathLike,
    bands: list[int],
    offset: list[float],
    scale: list[float],
    windows: int = 8,
    size: int = 256,
    seed: int = 0,
    feedback: RunFeedback | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """How the prototypes are used on ``windows`` random windows of the raster, at the
    feature map's resolution (nodata pixels ignored): (K,) pixels each prototype wins and
    (K, D) the mean unit embedding of those pixels (its centroid; zeros when unused).
    Cheap: a few windows are enough to see which prototypes occur."""
    rng = np.random.default_rng(seed)
    k, d = net.prototypes.shape
    counts = np.zeros(k, dtype=np.int64)
    sums = np.zeros((k, d), dtype=np.float64)
    off = np.asarray(offset, np.float32)[:, None, None]
    sc = np.asarray(scale, np.float32)[:, None, None]
    with rasterio.open(raster_path) as src:
        w, h = min(size, src.width), min(size, src.height)
        for _ in range(windows):
            if feedback is not None:
                feedback.check_cancelled()
            col, row = int(rng.integers(0, src.width - w + 1)), int(rng.integers(0, src.height - h + 1))
            pixels = src.read(bands, window=Window(col, row, w, h)).astype(np.float32)
            keep = torch.from_numpy(valid_mask(pixels, src.nodata)[None, None].astype(np.float32))
            embeddings, winners = net.assign(torch.from_numpy(((pixels - off) / sc).astype(np.float32))[None])
            keep = F.interpolate(keep, size=winners.shape[-2:], mode="nearest")[0, 0] > 0.5
            ids = winners[0][keep].numpy()
            vectors = embeddings[0].permute(1, 2, 0)[keep].double().numpy()
            counts += np.bincount(ids, minlength=k)
            np.add.at(sums, ids, vectors)
    centroids = sums / np.maximum(counts, 1)[:, None]
    return counts, centroids.astype(np.float32)


# ----------------------------------------------------------------------------- export
def cluster_card(checkpoint: Checkpoint, n_clusters: int, extra_config: dict[str, Any],
                 tile_size: int | None = None) -> ModelCard:
    """Card of a cluster model: "cluster k" names, palette colours, the checkpoint's bands
    and normalisation, task "clusters", method "sdcluster" and the training config."""
    config = dict(checkpoint.config)
    config.update(extra_config)
    return ModelCard(
        class_names=[f"cluster {k}" for k in range(n_clusters)],
        class_colors=[default_color(k) for k in range(n_clusters)],
        bands=list(checkpoint.bands),
        band_offset=[float(v) for v in checkpoint.band_offset],
        band_scale=[float(v) for v in checkpoint.band_scale],
        tile_size=card_tile_size(tile_size, checkpoint.config.get("patch_size")),
        tile_overlap_percent=DEFAULT_OVERLAP_PERCENT,
        nodata=checkpoint.nodata,
        outputs="probabilities",
        task="clusters",
        method="sdcluster",
        config=config,
    )


def build_cluster_net(
    checkpoint_path: str | os.PathLike,
    clusters: int = 0,
    usage_raster: str | os.PathLike | None = None,
    branch: str | None = None,
    usage_windows: int = 8,
    feedback: RunFeedback | None = None,
    merge_rule: str = "max",
) -> tuple[ClusterMapNet, Checkpoint, dict[str, Any]]:
    """The cluster network of a checkpoint (with its K x G matrix) and what the card records."""
    if clusters < 0:
        raise ValueError(f"CLUSTERS must be 0 (no merging) or a positive number, got {clusters}")
    checkpoint, method = load_sdcluster(checkpoint_path)
    if usage_raster is not None:  # a raster lacking a band would fail deep inside GDAL
        check_band_count(usage_raster, checkpoint.bands, "INPUT", f"the checkpoint {Path(checkpoint_path).name}")
    which = branch or method.config.cluster_branch
    if which not in ("teacher", "student"):
        raise ValueError(f"branch must be teacher or student, got {which!r}")
    source = method.branch(which)
    temperature = method.config.student_temperature
    prototypes = source.prototypes.detach().cpu().numpy()
    k = len(prototypes)
    usage = centroids = None
    if usage_raster is not None:
        plain = ClusterMapNet(source, temperature).eval()
        usage, centroids = prototype_usage(plain, usage_raster, checkpoint.bands, checkpoint.band_offset,
                                           checkpoint.band_scale, windows=usage_windows, feedback=feedback)
        if feedback is not None:
            feedback.log(f"{int((usage > 0).sum())} of {k} prototypes win pixels on a sample of the input, "
                         f"{int((usage >= MIN_SHARE * usage.sum()).sum())} at least {MIN_SHARE:.0%} of them")
    if clusters and clusters > k:
        raise ValueError(f"CLUSTERS {clusters} is more than the checkpoint's {k} prototypes")
    if not clusters and usage is None and k > MAX_CLASSES:
        raise ValueError(f"the checkpoint has {k} prototypes, more than a class raster holds: set CLUSTERS")
    matrix = merge_matrix(prototypes, clusters, usage, centroids)
    net = ClusterMapNet(source, temperature, matrix, merge_rule).eval()
    groups = [np.flatnonzero(matrix[:, g]).tolist() for g in range(matrix.shape[1])]
    record = {
        "clusters": int(clusters),
        "cluster_branch": which,
        "cluster_temperature": temperature,
        "cluster_merge_rule": merge_rule,
        "cluster_prototypes": groups,          # prototype ids summed into each output cluster
        "prototypes_used": None if usage is None else np.flatnonzero(usage >= MIN_SHARE * usage.sum()).tolist(),
    }
    return net, checkpoint, record


def export_cluster_model(
    checkpoint_path: str | os.PathLike,
    onnx_path: str | os.PathLike,
    *,
    clusters: int = 0,
    usage_raster: str | os.PathLike | None = None,
    branch: str | None = None,
    tile_size: int | None = None,
    merge_rule: str = "max",
    feedback: RunFeedback | None = None,
) -> Path:
    """SDCluster checkpoint -> checked ONNX cluster model with its card (see module doc)."""
    from training.export import export_module

    net, checkpoint, record = build_cluster_net(checkpoint_path, clusters, usage_raster, branch,
                                                feedback=feedback, merge_rule=merge_rule)
    card = cluster_card(checkpoint, net.n_outputs, record, tile_size)
    return export_module(net, card, checkpoint.in_channels, onnx_path, add_softmax=False, feedback=feedback)
