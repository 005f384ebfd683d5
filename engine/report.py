"""The accuracy assessment as people and scripts read it: an HTML page, a CSV or JSON table.

Rendering only: :mod:`engine.evaluate` computes the numbers and writes the files. The page
is self-contained (styles inline, previews embedded as PNG data), so it can be mailed or
attached to a ticket without the folder it came from. Its confusion matrix is coloured by
row share (the reference class's pixels): the diagonal in green, confusions in red, the
stronger the larger the share, so the classes a model mixes up stand out at a glance; the
class names carry their map colours.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .safeguards import csv_cell

if TYPE_CHECKING:
    from .evaluate import EvaluationResult
    from .previews import Preview

STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
td.diag { font-weight: bold; }
.headline td { font-size: 1.3em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #555; margin-right: 0.3em;
          vertical-align: middle; }
.share { color: #444; font-size: 0.8em; }
.previews { display: flex; flex-wrap: wrap; gap: 1em; margin-bottom: 1.5em; }
.previews figure { margin: 0; }
.previews img { max-width: 480px; border: 1px solid #bbb; image-rendering: pixelated; }
.previews figcaption { text-align: center; font-size: 0.9em; }
"""


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


def cell_color(share: float, diagonal: bool) -> str:
    """Background of a confusion-matrix cell: white at 0, full green (diagonal) or red at 1."""
    share = min(max(float(share), 0.0), 1.0)
    target = (70, 170, 70) if diagonal else (215, 60, 50)
    r, g, b = (round(255 + (t - 255) * share) for t in target)
    return f"#{r:02x}{g:02x}{b:02x}"


def _label(name: str, index: int, colors: Sequence[tuple[int, int, int]]) -> str:
    if index >= len(colors):
        return html.escape(name)
    r, g, b = colors[index]
    return f"<span class='swatch' style='background:#{r:02x}{g:02x}{b:02x}'></span>{html.escape(name)}"


def confusion_html(confusion, names: Sequence[str], colors: Sequence[tuple[int, int, int]] = ()) -> str:
    """The confusion matrix as a table coloured by row share, with row and column totals."""
    head = "".join(f"<th>{_label(n, j, colors)}</th>" for j, n in enumerate(names))
    body = []
    for i, row in enumerate(confusion.tolist()):
        total = sum(row)
        cells = []
        for j, value in enumerate(row):
            share = value / total if total else 0.0
            style = f"background:{cell_color(share, i == j)}"
            cells.append(f"<td class='{'diag' if i == j else ''}' style='{style}' title='{100 * share:.1f} % of the "
                         f"reference {html.escape(names[i])} pixels'>{value}<br><span class='share'>"
                         f"{100 * share:.1f} %</span></td>")
        body.append(f"<tr><th>{_label(names[i], i, colors)}</th>{''.join(cells)}<td>{total}</td></tr>")
    col_totals = "".join(f"<td>{v}</td>" for v in confusion.sum(axis=0).tolist())
    return (f"<table><tr><th>reference \\ predicted</th>{head}<th>total</th></tr>\n{''.join(body)}\n"
            f"<tr><th>total</th>{col_totals}<td>{int(confusion.sum())}</td></tr></table>")


def previews_html(previews: Sequence[Preview]) -> str:
    """The previews side by side, each PNG embedded (data URI) with its title and file name."""
    if not previews:
        return ""
    figures = []
    for preview in previews:
        data = base64.b64encode(Path(preview.path).read_bytes()).decode("ascii")
        figures.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(preview.title)}'>"
                       f"<figcaption>{html.escape(preview.title)}<br><code>{html.escape(Path(preview.path).name)}"
                       "</code></figcaption></figure>")
    return ("<h2>Previews</h2><p>Decimated pictures of the rasters (light grey: no class or nodata); the PNG files "
            f"are beside this report.</p><div class='previews'>{''.join(figures)}</div>")


def _cluster_mapping_html(result: EvaluationResult) -> str:
    if not result.cluster_mode:
        return ""
    e, names = html.escape, result.class_names
    items = "".join(f"<tr><td>{k}</td><td>{v}: {e(names[v])}</td></tr>" for k, v in sorted(result.mapping.items()))
    how = ("one-to-one (Hungarian matching: as many clusters as classes)" if result.matching == "hungarian"
           else "by majority vote (cluster and class counts differ)")
    return ("<h2>Cluster to class mapping</h2>"
            f"<p>Prediction values are cluster ids, matched to reference classes {how} before scoring.</p>"
            f"<table><tr><th>cluster</th><th>class</th></tr>{items}</table>")


def html_report(result: EvaluationResult, prediction_path, reference_path, previews: Sequence[Preview] = ()) -> str:
    """A self-contained HTML page: headline scores, previews, per-class table, coloured confusion matrix."""
    e = html.escape
    names, colors, s = result.class_names, result.class_colors, result.scores
    rows = "".join(
        f"<tr><td>{i}</td><td style='text-align:left'>{_label(n, i, colors)}</td><td>{_fmt(s['iou'][i], True)}</td>"
        f"<td>{_fmt(s['f1'][i], True)}</td><td>{_fmt(s['precision'][i], True)}</td>"
        f"<td>{_fmt(s['recall'][i], True)}</td><td>{s['support'][i]}</td></tr>"
        for i, n in enumerate(names)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rsseg accuracy assessment</title>
<style>{STYLE}</style></head><body>
<h1>Accuracy assessment</h1>
<p>Prediction: <code>{e(str(prediction_path))}</code><br>Reference: <code>{e(str(reference_path))}</code><br>
{s['pixels']} pixels compared (ignore values, nodata and pixels outside the reference skipped).</p>
<table class="headline"><tr><th>mIoU (%)</th><th>Overall accuracy (%)</th><th>Cohen's kappa</th></tr>
<tr><td>{_fmt(s['miou'], True)}</td><td>{_fmt(s['overall_accuracy'], True)}</td><td>{_fmt(s['kappa'])}</td></tr>
</table>
<p>mIoU is the mean IoU over the classes present in the reference.</p>
{previews_html(previews)}
{_cluster_mapping_html(result)}
<h2>Per class (%)</h2>
<table><tr><th>id</th><th>class</th><th>IoU</th><th>F1</th><th>precision</th><th>recall</th>
<th>reference pixels</th></tr>
{rows}</table>
<h2>Confusion matrix (pixels)</h2>
<p>Rows: reference class. Columns: predicted class. Each cell also gives its share of the row (the reference
class's pixels): green on the diagonal (correct), red elsewhere (confused), darker for larger shares.</p>
{confusion_html(result.confusion, names, colors)}
</body></html>
"""
