"""Accuracy assessment of a class (or cluster) raster against a reference raster.

The prediction's pixel grid is the grid of the assessment: the reference is read through
a GDAL warped view (nearest neighbour, reprojected when the CRS differs) onto it, window
by window, so rasters of any size are scored in bounded memory by adding up one
confusion matrix per window. Reference pixels equal to ``ignore_value`` or to the
reference's nodata, pixels outside the reference, and prediction pixels equal to 255 or
the prediction's nodata are skipped.

Outputs: an HTML report for people and a CSV or JSON table with the same numbers for
scripts (rendered by :mod:`engine.report`), both written to a temporary name and renamed
when complete, and PNG previews beside the report (:mod:`engine.previews`): extra images,
the prediction, the reference, extra class maps, embedded in the report too.
"""
from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from engine.atomic import atomic_write_text
from engine.metrics import apply_mapping, confusion_matrix, match_clusters, scores_from_confusion
from engine.previews import Preview, class_colors_of, has_color_table, order_extra_rasters, preview_path, write_preview
from engine.progress import RunFeedback
from engine.report import html_report, table_text
from engine.safeguards import open_raster

PREDICTION_NODATA = 255   # what rsseg's segmentation writes where it had no valid input
WINDOW = 512              # pixels per side of a read window: ~1 MB per band, any raster size
MAX_CLASS_ID = 1023       # larger values are not class ids (wrong raster chosen)


@dataclass
class EvaluationResult:
    """Scores of one assessment; ``confusion`` rows are reference classes, columns predicted."""

    confusion: np.ndarray
    scores: dict
    class_names: list[str]
    cluster_mode: bool = False
    cluster_confusion: np.ndarray | None = None      # clusters x classes, cluster mode only
    mapping: dict[int, int] = field(default_factory=dict)
    matching: str = ""                                # "hungarian" or "majority", cluster mode only
    class_colors: list[tuple[int, int, int]] = field(default_factory=list)   # map colours, for the report
    report_path: str | None = None
    table_path: str | None = None
    previews: list[Preview] = field(default_factory=list)

    @property
    def miou(self) -> float:
        """Mean IoU over the classes present in the reference."""
        return self.scores["miou"]

    @property
    def overall_accuracy(self) -> float:
        """Share of the compared pixels whose class is right."""
        return self.scores["overall_accuracy"]

    @property
    def kappa(self) -> float:
        """Cohen's kappa."""
        return self.scores["kappa"]

    def as_dict(self) -> dict:
        """Everything as plain JSON-able values (NaN becomes null)."""
        per_class = []
        for i, name in enumerate(self.class_names):
            per_class.append({
                "id": i,
                "name": name,
                **{key: _finite(self.scores[key][i]) for key in ("iou", "f1", "precision", "recall")},
                "support": self.scores["support"][i],
            })
        out = {
            "miou": _finite(self.miou),
            "overall_accuracy": _finite(self.overall_accuracy),
            "kappa": _finite(self.kappa),
            "pixels": self.scores["pixels"],
            "classes": per_class,
            "confusion_matrix": self.confusion.tolist(),
            "confusion_matrix_layout": "rows = reference class, columns = predicted class",
            "mode": "clusters" if self.cluster_mode else "classes",
        }
        if self.cluster_mode:
            out["cluster_to_class"] = {str(k): v for k, v in sorted(self.mapping.items())}
            out["matching"] = self.matching
            out["cluster_confusion"] = None if self.cluster_confusion is None else self.cluster_confusion.tolist()
        return out


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# ----------------------------------------------------------------------------- class names
def category_names(path: str | os.PathLike) -> list[str]:
    """Class names stored with a raster: GDAL category names or an rsseg ``class_names`` tag.

    GeoTIFF keeps category names in the ``.aux.xml`` sidecar (GDAL's PAM), read here with
    the standard library so the engine needs no GDAL Python bindings.
    """
    with rasterio.open(path) as src:
        for tags in (src.tags(1), src.tags()):
            for key in ("class_names", "CLASS_NAMES", "rsseg_class_names"):
                if key in tags:
                    try:
                        names = json.loads(tags[key])
                    except ValueError:
                        continue
                    if isinstance(names, dict):
                        names = [names[k] for k in sorted(names, key=int)]
                    if isinstance(names, list):
                        return [str(n) for n in names]
    sidecar = Path(f"{path}.aux.xml")
    if sidecar.is_file():
        try:
            root = ET.parse(sidecar).getroot()
        except ET.ParseError:
            return []
        for band in root.iter("PAMRasterBand"):
            if band.get("band", "1") == "1":
                names = band.find("CategoryNames")
                if names is not None:
                    return [c.text or "" for c in names.findall("Category")]
    return []


def _names_for(n: int, preferred: Sequence[Sequence[str]]) -> list[str]:
    """``n`` names from the first non-empty list, blanks and gaps filled as 'class i'."""
    chosen: Sequence[str] = next((p for p in preferred if p), [])
    return [(chosen[i] if i < len(chosen) and chosen[i] else f"class {i}") for i in range(n)]


# ----------------------------------------------------------------------------- reading
def _same_grid(a, b) -> bool:
    return (a.width, a.height) == (b.width, b.height) and a.transform.almost_equals(b.transform) and (
        a.crs == b.crs or a.crs is None or b.crs is None
    )


def _open_reference_on_grid(pred, ref, ignore_value: int):
    """The reference as seen on the prediction's grid (the dataset itself when aligned)."""
    if _same_grid(pred, ref):
        return ref
    if pred.crs is None or ref.crs is None:
        raise ValueError(
            "REFERENCE: the reference and the prediction have different pixel grids and one of them has no "
            "CRS, so they cannot be aligned; assign a CRS (Raster > Projections > Assign Projection)"
        )
    return WarpedVRT(
        ref,
        crs=pred.crs,
        transform=pred.transform,
        width=pred.width,
        height=pred.height,
        resampling=Resampling.nearest,
        nodata=ignore_value,
        src_nodata=ref.nodata,
    )


def _windows(width: int, height: int, size: int | None = None):
    size = size or WINDOW
    for row in range(0, height, size):
        for col in range(0, width, size):
            yield Window(col, row, min(size, width - col), min(size, height - row))


def _as_ids(values: np.ndarray, parameter: str) -> np.ndarray:
    """Integer class ids; a raster of fractional values (probabilities?) is refused."""
    if np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if np.any(values[finite] != np.round(values[finite])):
            raise ValueError(f"{parameter}: the raster holds fractional values; choose a raster of class ids")
        values = np.where(finite, values, -1)
    return values.astype(np.int64)


def _renumber(values: np.ndarray, lookup: dict[int, int]) -> np.ndarray:
    table = np.arange(max(int(values.max(initial=0)), max(lookup)) + 1, dtype=np.int64)
    for old, new in lookup.items():
        table[old] = new
    return table[values]


def name_lookup(reference_names: Sequence[str], prediction_names: Sequence[str]) -> tuple[dict[int, int], list[str]]:
    """Reference id -> prediction id for classes with the same name (case-insensitive).

    A polygon reference with text classes gets ids in sorted name order, which need not be
    the model's order; matching by name compares like with like. Reference classes the
    prediction does not know get new ids after the prediction's. Returns the lookup and
    the merged class names.
    """
    names = list(prediction_names)
    index = {n.strip().lower(): i for i, n in enumerate(names)}
    lookup = {}
    for ref_id, name in enumerate(reference_names):
        key = name.strip().lower()
        if key not in index:
            index[key] = len(names)
            names.append(name)
        lookup[ref_id] = index[key]
    return lookup, names


def _grow(matrix: np.ndarray, size: int) -> np.ndarray:
    if size <= matrix.shape[0]:
        return matrix
    out = np.zeros((size, size), dtype=np.int64)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def accumulate_confusion(
    prediction_path: str | os.PathLike,
    reference_path: str | os.PathLike,
    ignore_value: int = 255,
    feedback: RunFeedback | None = None,
    reference_lookup: dict[int, int] | None = None,
) -> np.ndarray:
    """Square (reference x prediction) counts over every valid pixel, sized to the largest id.

    ``reference_lookup`` renumbers reference ids (e.g. to the prediction's ids by class name).
    """
    feedback = feedback or RunFeedback()
    total = np.zeros((0, 0), dtype=np.int64)
    with open_raster(prediction_path, "PREDICTION") as pred, open_raster(reference_path, "REFERENCE") as ref_src:
        ref = _open_reference_on_grid(pred, ref_src, ignore_value)
        try:
            windows = list(_windows(pred.width, pred.height))
            for index, window in enumerate(windows):
                feedback.check_cancelled()
                p = _as_ids(pred.read(1, window=window), "PREDICTION")
                r = _as_ids(ref.read(1, window=window), "REFERENCE")
                valid = (p >= 0) & (p != PREDICTION_NODATA) & (r >= 0) & (r != ignore_value)
                if pred.nodata is not None and math.isfinite(pred.nodata):
                    valid &= p != int(pred.nodata)
                if ref is ref_src and ref.nodata is not None and math.isfinite(ref.nodata):
                    valid &= r != int(ref.nodata)
                p, r = p[valid], r[valid]
                if reference_lookup:
                    r = _renumber(r, reference_lookup)
                if p.size:
                    largest = int(max(p.max(), r.max()))
                    if largest > MAX_CLASS_ID:
                        which = "PREDICTION" if p.max() > MAX_CLASS_ID else "REFERENCE"
                        raise ValueError(
                            f"{which}: value {largest} is not a class id (at most {MAX_CLASS_ID}); "
                            "choose a raster of class ids"
                        )
                    total = _grow(total, largest + 1)
                    total += confusion_matrix(p, r, total.shape[0], ignore_index=None)
                feedback.set_progress((index + 1) / len(windows))
        finally:
            if ref is not ref_src:
                ref.close()
    return total


# ----------------------------------------------------------------------------- main entry
def evaluate_rasters(
    prediction_path: str | os.PathLike,
    reference_path: str | os.PathLike,
    output_report: str | os.PathLike | None,
    output_table: str | os.PathLike | None,
    *,
    ignore_value: int = 255,
    class_names: Sequence[str] | None = None,
    cluster_mode: bool = False,
    reference_class_names: Sequence[str] | None = None,
    previews: bool = True,
    preview_rasters: Sequence[str] = (),
    feedback: RunFeedback | None = None,
) -> EvaluationResult:
    """Score ``prediction_path`` against ``reference_path`` and write the report and table.

    ``class_names`` (given) win over names stored with the prediction, which win over the
    reference's. In ``cluster_mode`` prediction values are cluster ids, first matched to
    reference classes (:func:`engine.metrics.match_clusters`). The table is JSON when
    ``output_table`` ends in ``.json``, CSV otherwise. Either output may be None.
    ``reference_class_names`` name the reference's ids (a rasterized polygon layer): when
    the prediction stores class names, reference ids are renumbered to match by name.
    With a report and ``previews``, PNG pictures of the prediction and the reference (and of
    ``preview_rasters``: images before them, class maps after) go beside the report and into it.
    """
    feedback = feedback or RunFeedback()
    given = list(class_names or [])
    pred_names = category_names(prediction_path)
    ref_names = list(reference_class_names or []) or category_names(reference_path)
    lookup = None
    if reference_class_names and pred_names and not cluster_mode:
        lookup, merged = name_lookup(reference_class_names, pred_names)
        given = given or merged
        feedback.log("reference classes matched to the prediction's by name: " + ", ".join(
            f"{reference_class_names[k]} -> {v}" for k, v in lookup.items()))
    counts = accumulate_confusion(prediction_path, reference_path, ignore_value, feedback, lookup)
    if counts.sum() == 0:
        raise ValueError(
            "REFERENCE: no pixel has both a reference class and a prediction; check that the two rasters "
            f"overlap and that IGNORE_VALUE ({ignore_value}) is not the only reference value"
        )
    mapping: dict[int, int] = {}
    matching = ""
    cluster_cm = None
    if cluster_mode:
        support = counts.sum(axis=1)
        n_classes = max(int(np.nonzero(support)[0].max()) + 1, len(given) or len(ref_names))
        cm, cluster_cm, mapping, matching = score_clusters(counts, n_classes)
        names = _names_for(n_classes, [given, ref_names])
    else:
        n_classes = max(counts.shape[0], len(given))
        cm = _grow(counts, n_classes)
        names = _names_for(n_classes, [given, pred_names, ref_names])
    result = EvaluationResult(
        confusion=cm,
        scores=scores_from_confusion(cm),
        class_names=names,
        cluster_mode=cluster_mode,
        cluster_confusion=cluster_cm,
        mapping=mapping,
        matching=matching,
    )
    result.class_colors = _class_colors(prediction_path, reference_path, len(names), cluster_mode)
    _write_outputs(result, prediction_path, reference_path, output_report, output_table,
                   list(preview_rasters) if previews else None, ignore_value)
    feedback.log(
        f"mIoU {result.miou:.4f}, overall accuracy {result.overall_accuracy:.4f}, kappa {result.kappa:.4f} "
        f"over {result.scores['pixels']} pixels"
    )
    return result


def _class_colors(prediction_path, reference_path, n: int, cluster_mode: bool) -> list[tuple[int, int, int]]:
    """Map colours of the scored classes: the prediction's colour table (the reference's in
    cluster mode, where prediction values are clusters), else the default palette."""
    for path in ([] if cluster_mode else [prediction_path]) + [reference_path]:
        with rasterio.open(path) as src:
            if has_color_table(src):
                return class_colors_of(src, n)
    with rasterio.open(prediction_path) as src:
        return class_colors_of(src, n)


def _write_outputs(result: EvaluationResult, prediction_path, reference_path, output_report, output_table,
                   preview_rasters: list[str] | None, ignore_value: int) -> None:
    if output_table:
        atomic_write_text(output_table, table_text(result, as_json=str(output_table).lower().endswith(".json")))
        result.table_path = str(output_table)
    if output_report:
        if preview_rasters is not None:
            result.previews = write_previews(result, prediction_path, reference_path, output_report,
                                             preview_rasters, ignore_value)
        atomic_write_text(output_report, html_report(result, prediction_path, reference_path, result.previews))
        result.report_path = str(output_report)


def write_previews(result: EvaluationResult, prediction_path, reference_path, output_report,
                   extra: Sequence[str] = (), ignore_value: int = 255) -> list[Preview]:
    """PNGs beside the report: extra images | prediction | reference (on the prediction's grid) | extra class maps.

    The reference is drawn in the prediction's colours in class mode, so a right pixel has the
    same colour in both pictures.
    """
    images, class_maps = order_extra_rasters(extra)
    Path(output_report).parent.mkdir(parents=True, exist_ok=True)
    colors = None if result.cluster_mode else result.class_colors
    panels: list[Preview] = []

    def add(dataset, title: str, kind: str | None = None, panel_colors=None) -> None:
        target = preview_path(output_report, len(panels) + 1, title)
        panels.append(write_preview(dataset, title, target, kind, panel_colors))

    for path in images:
        with rasterio.open(path) as src:
            add(src, Path(path).stem, "image")
    with rasterio.open(prediction_path) as pred, rasterio.open(reference_path) as ref_src:
        add(pred, "prediction", "classes")
        ref = _open_reference_on_grid(pred, ref_src, ignore_value)
        try:
            add(ref, "reference", "classes", colors)
        finally:
            if ref is not ref_src:
                ref.close()
    for path in class_maps:
        with rasterio.open(path) as src:
            add(src, Path(path).stem, "classes")
    return panels


def add_confusion(total: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pool two square count matrices of possibly different sizes (e.g. over several images)."""
    size = max(total.shape[0], counts.shape[0])
    out = _grow(total, size).copy()
    out[: counts.shape[0], : counts.shape[1]] += counts
    return out


def score_clusters(counts: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, dict[int, int], str]:
    """Cluster mode: (reference x prediction) counts whose prediction ids are clusters ->
    the class confusion after matching clusters to classes, the clusters x classes counts,
    the mapping and the matching used ("hungarian" or "majority"). rsseg:evaluate and the
    cluster-map benchmark both score with this, so their numbers mean the same."""
    counts = _grow(counts, n_classes)
    cluster_cm = counts.T[:, :n_classes]                 # clusters x classes
    mapping, matching = _match_present(cluster_cm)
    return apply_mapping(cluster_cm, mapping, n_classes), cluster_cm, mapping, matching


def _match_present(cluster_cm: np.ndarray) -> tuple[dict[int, int], str]:
    """Match only the clusters that occur to only the classes that occur, then map back.

    Empty rows/columns (ids that never appear) would otherwise change the count that
    decides between Hungarian and majority matching.
    """
    clusters = np.nonzero(cluster_cm.sum(axis=1))[0]
    classes = np.nonzero(cluster_cm.sum(axis=0))[0]
    sub = cluster_cm[np.ix_(clusters, classes)]
    local = match_clusters(sub)
    matching = "hungarian" if sub.shape[0] == sub.shape[1] else "majority"
    return {int(clusters[k]): int(classes[c]) for k, c in local.items()}, matching


# ----------------------------------------------------------------------------- writing
