"""The probe's report: a self-contained HTML page for people and a JSON file for scripts.

Both are written to a temporary name in the target folder and renamed when complete, so a
reader never sees half a report. No torch import: it only formats a ProbeResult.
"""
from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

VERDICTS = {
    "gain": "Pretraining learned something useful here: the gain is clearly above 0 and above twice its "
            "standard error.",
    "loss": "The pretrained network does worse than the same network at random init: its features are not useful "
            "for these classes (a bug, collapse, or pretraining on very different imagery).",
    "unclear": "No clear difference from random init: the gain is within twice its standard error (or under 1 "
               "mIoU point). Pretrain longer, check the collapse signals in the pretraining log, or add seeds.",
    "single": "Only one seed: no standard error, so no verdict. Run with several SEEDS.",
    "random": "No checkpoint given: only the random-init baseline was measured.",
}


def verdict(result: dict[str, Any]) -> str:
    """One of VERDICTS' keys for a ProbeResult.to_json() dict."""
    delta, se = result.get("delta"), result.get("delta_se")
    if delta is None:
        return "random"
    if se is None:
        return "single"
    if delta > max(1.0, 2.0 * se):
        return "gain"
    if delta < -max(1.0, 2.0 * se):
        return "loss"
    return "unclear"


def write_probe_report(result, html_path: str | os.PathLike | None = None,
                       json_path: str | os.PathLike | None = None) -> list[Path]:
    """Write the HTML and/or JSON report of ``result`` (a ProbeResult); returns the paths."""
    data = result.to_json()
    data["verdict"] = verdict(data)
    written = []
    if json_path:
        written.append(_write_atomic(json_path, json.dumps(data, indent=2) + "\n"))
    if html_path:
        written.append(_write_atomic(html_path, probe_html(data)))
    return written


def _write_atomic(path: str | os.PathLike, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _num(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return "&ndash;"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def probe_html(data: dict[str, Any]) -> str:
    """The HTML page of a ProbeResult.to_json() dict (with ``verdict``)."""
    e = html.escape
    config = data.get("config", {})
    seeds_rows = "".join(
        f"<tr><td>{seed}</td><td>{_num(p)}</td><td>{_num(r)}</td>"
        f"<td>{_num(p - r if p is not None else None, sign=True)}</td></tr>"
        for seed, p, r in zip(data["seeds"], data["values"] or [None] * len(data["seeds"]), data["random_values"])
    )
    class_rows = "".join(
        f"<tr><td>{e(name)}</td><td>{_num(p)}</td><td>{_num(r)}</td></tr>"
        for name, p, r in zip(data["class_names"], data["class_iou"] or [None] * len(data["class_names"]),
                              data["random_class_iou"])
    )
    settings = "".join(f"<tr><td>{e(str(k))}</td><td>{e(json.dumps(v))}</td></tr>" for k, v in config.items())
    se = data.get("delta_se")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rsseg linear probe</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.big {{ font-size: 1.4em; }} .verdict {{ padding: 0.6em; background: #eef; border-left: 4px solid #447; }}
</style></head><body>
<h1>Linear probe</h1>
<p>Checkpoint: <code>{e(str(config.get("checkpoint") or "(none)"))}</code> ({e(data["method"])});
features: {e(data["features"])} ({data["feature_channels"]} channels, output stride {config.get("output_stride")}).</p>
<table class="big">
<tr><th></th><th>mIoU (%)</th></tr>
<tr><td>pretrained</td><td>{_num(data["miou"])}</td></tr>
<tr><td>random init (BatchNorm recalibrated)</td><td>{_num(data["random_miou"])}</td></tr>
<tr><td>DELTA (paired mean)</td><td>{_num(data["delta"], sign=True)} &plusmn; {_num(se)} (standard error)</td></tr>
</table>
<p class="verdict">{e(VERDICTS[data["verdict"]])}</p>
<h2>Per seed</h2>
<table><tr><th>seed</th><th>pretrained</th><th>random init</th><th>difference</th></tr>{seeds_rows}</table>
<h2>Per class IoU (mean over seeds, %)</h2>
<table><tr><th>class</th><th>pretrained</th><th>random init</th></tr>{class_rows}</table>
<p>{data["train_pixels"]} labelled pixels fitted per seed; {data["test_pixels"]} labelled pixels scored;
{data["seconds"]} s.</p>
<h2>How to read this</h2>
<p>A linear classifier is fitted on frozen features of the pretrained network and, with the same pixels, on the
same network at random initialisation. A seed fixes the random network and the pixel sample, so the differences are
paired. Pretraining learned something useful when DELTA is clearly above 0 and above twice its standard error.</p>
<h2>Settings</h2>
<table>{settings}</table>
</body></html>
"""
