"""Accuracy assessment of a class (or cluster) raster against a reference raster.

The prediction's pixel grid is the grid of the assessment: the reference is read through
a GDAL warped view (nearest neighbour, reprojected when the CRS differs) onto it, window
by window, so rasters of any size are scored in bounded memory by adding up one
confusion matrix per window. Reference pixels equal to ``ignore_value`` or to the
reference's nodata, pixels outside the reference, and prediction pixels equal to 255 or
the prediction's nodata are skipped.

Outputs: an HTML report for people and a CSV or JSON table with the same numbers for
scripts, both written to a temporary name and renamed when complete.
"""
from __future__ import annotations

import csv
import html
import io
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
from engine.progress import RunFeedback
from engine.safeguards import csv_cell, open_raster

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
    report_path: str | None = None
    table_path: str | None = None

    @property
    def miou(self) -> float:
        return self.scores["miou"]

    @property
    def overall_accuracy(self) -> float:
        return self.scores["overall_accuracy"]

    @property
    def kappa(self) -> float:
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
    feedback: RunFeedback | None = None,
) -> EvaluationResult:
    """Score ``prediction_path`` against ``reference_path`` and write the report and table.

    ``class_names`` (given) win over names stored with the prediction, which win over the
    reference's. In ``cluster_mode`` prediction values are cluster ids, first matched to
    reference classes (:func:`engine.metrics.match_clusters`). The table is JSON when
    ``output_table`` ends in ``.json``, CSV otherwise. Either output may be None.
    ``reference_class_names`` name the reference's ids (a rasterized polygon layer): when
    the prediction stores class names, reference ids are renumbered to match by name.
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
        counts = _grow(counts, n_classes)
        cluster_cm = counts.T[:, :n_classes]                 # clusters x classes
        mapping, matching = _match_present(cluster_cm)
        cm = apply_mapping(cluster_cm, mapping, n_classes)
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
    if output_table:
        atomic_write_text(output_table, table_text(result, as_json=str(output_table).lower().endswith(".json")))
        result.table_path = str(output_table)
    if output_report:
        atomic_write_text(output_report, html_report(result, prediction_path, reference_path))
        result.report_path = str(output_report)
    feedback.log(
        f"mIoU {result.miou:.4f}, overall accuracy {result.overall_accuracy:.4f}, kappa {result.kappa:.4f} "
        f"over {result.scores['pixels']} pixels"
    )
    return result


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
def table_text(result: EvaluationResult, as_json: bool = False) -> str:
    """The numbers of the report as JSON, or as CSV in three blocks separated by a blank line:
    per-class scores, overall scores (metric,value), the confusion matrix."""
    if as_json:
        return json.dumps(result.as_dict(), indent=2)
    data = result.as_dict()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class_id", "class_name", "iou", "f1", "precision", "recall", "support"])
    for c in data["classes"]:
        scores = [_csv_number(c[k]) for k in ("iou", "f1", "precision", "recall")]
        writer.writerow([c["id"], csv_cell(c["name"])] + scores + [c["support"]])
    writer.writerow([])
    writer.writerow(["metric", "value"])
    for key in ("miou", "overall_accuracy", "kappa", "pixels"):
        writer.writerow([key, _csv_number(data[key])])
    if result.cluster_mode:
        for cluster, cls in sorted(result.mapping.items()):
            writer.writerow([f"cluster_{cluster}", f"class {cls}: {result.class_names[cls]}"])
    writer.writerow([])
    writer.writerow(["reference \\ predicted"] + [csv_cell(n) for n in result.class_names])  # no formulas
    for name, row in zip(result.class_names, result.confusion.tolist()):
        writer.writerow([csv_cell(name)] + row)
    return buffer.getvalue()


def _csv_number(value) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.6f}"


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.2f}" if percent else f"{value:.4f}"


def html_report(result: EvaluationResult, prediction_path, reference_path) -> str:
    """A self-contained HTML page: headline scores, per-class table, confusion matrix."""
    e = html.escape
    names = result.class_names
    s = result.scores
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(n)}</td><td>{_fmt(s['iou'][i], True)}</td><td>{_fmt(s['f1'][i], True)}</td>"
        f"<td>{_fmt(s['precision'][i], True)}</td><td>{_fmt(s['recall'][i], True)}</td>"
        f"<td>{s['support'][i]}</td></tr>"
        for i, n in enumerate(names)
    )
    head = "".join(f"<th>{e(n)}</th>" for n in names)
    body = []
    for i, row in enumerate(result.confusion.tolist()):
        cells = "".join(
            f"<td class='{'diag' if i == j else ''}'>{v}</td>" for j, v in enumerate(row)
        )
        body.append(f"<tr><th>{e(names[i])}</th>{cells}<td>{sum(row)}</td></tr>")
    col_totals = "".join(f"<td>{v}</td>" for v in result.confusion.sum(axis=0).tolist())
    mapping = ""
    if result.cluster_mode:
        items = "".join(
            f"<tr><td>{k}</td><td>{v}: {e(names[v])}</td></tr>" for k, v in sorted(result.mapping.items())
        )
        how = ("one-to-one (Hungarian matching: as many clusters as classes)" if result.matching == "hungarian"
               else "by majority vote (cluster and class counts differ)")
        mapping = (
            "<h2>Cluster to class mapping</h2>"
            f"<p>Prediction values are cluster ids, matched to reference classes {how} "
            "before scoring.</p>"
            f"<table><tr><th>cluster</th><th>class</th></tr>{items}</table>"
        )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rsseg accuracy assessment</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }}
td.diag {{ background: #dfd; font-weight: bold; }}
.headline td {{ font-size: 1.3em; }}
</style></head><body>
<h1>Accuracy assessment</h1>
<p>Prediction: <code>{e(str(prediction_path))}</code><br>Reference: <code>{e(str(reference_path))}</code><br>
{s['pixels']} pixels compared (ignore values, nodata and pixels outside the reference skipped).</p>
<table class="headline"><tr><th>mIoU (%)</th><th>Overall accuracy (%)</th><th>Cohen's kappa</th></tr>
<tr><td>{_fmt(s['miou'], True)}</td><td>{_fmt(s['overall_accuracy'], True)}</td><td>{_fmt(s['kappa'])}</td></tr>
</table>
<p>mIoU is the mean IoU over the classes present in the reference.</p>
{mapping}
<h2>Per class (%)</h2>
<table><tr><th>id</th><th>class</th><th>IoU</th><th>F1</th><th>precision</th><th>recall</th><th>reference pixels</th></tr>
{rows}</table>
<h2>Confusion matrix (pixels)</h2>
<p>Rows: reference class. Columns: predicted class.</p>
<table><tr><th>reference \\ predicted</th>{head}<th>total</th></tr>
{''.join(body)}
<tr><th>total</th>{col_totals}<td>{s['pixels']}</td></tr></table>
</body></html>
"""
