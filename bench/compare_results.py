"""Do two label-efficiency runs agree? Row-by-row comparison of two results.json files.

A rerun of ``bench/label_efficiency.py`` with the same protocol draws the same labelled
subsets and seeds, but its numbers need not be bit-identical: float reductions differ between
CPUs (AVX2 vs AVX-512 kernels) and pretraining amplifies the differences over hundreds of
steps. What must reproduce is the reading: each row's paired gain within its standard errors.
This script matches the rows of two runs (method, variant, readout, labelled images,
pretraining fraction and steps), restricts both to the seeds they share, and prints per row
both gains, their difference and whether it lies within the combined standard error
(``sqrt(se_a^2 + se_b^2)``, times ``--within``), plus the mean absolute per-seed change of
the pretrained and the baseline mIoU.

Example::

    python -m bench.compare_results docs/results.json .bench/le_fresh.json
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from training.paired import paired_difference  # the gain (mean, SE) every results row reports

# "steps" is a fine-tuning row's optimiser budget (probe rows have none): rows fine-tuned for
# 100 and for 225 steps are two measurements, not one measured twice
ROW_KEY = ("method", "variant", "readout", "labels", "pretrain_fraction", "pretrain_steps", "steps")


def row_key(row: dict) -> tuple:
    """What identifies a row across runs of one protocol."""
    return tuple(row.get(k) for k in ROW_KEY)


def paired(row: dict, seeds: list[int]) -> tuple[list[float], list[float]]:
    """(values, baseline values) of ``row`` at ``seeds``, in that order."""
    where = {s: i for i, s in enumerate(row["seed_list"])}
    return [row["values"][where[s]] for s in seeds], [row["baseline_values"][where[s]] for s in seeds]


def compare_rows(a: dict, b: dict, within: float = 2.0) -> dict | None:
    """One comparison record of two matched rows, or None when they share no seed."""
    seeds = [s for s in a["seed_list"] if s in b["seed_list"]]
    if not seeds:
        return None
    va, ba = paired(a, seeds)
    vb, bb = paired(b, seeds)
    (da, sa), (db, sb) = paired_difference(va, ba), paired_difference(vb, bb)
    combined = math.sqrt(sa ** 2 + sb ** 2) if sa is not None and sb is not None else None
    return {
        "row": dict(zip(ROW_KEY, row_key(a))), "seeds": seeds,
        "delta_a": round(da, 2), "delta_b": round(db, 2), "delta_change": round(db - da, 2),
        "combined_se": None if combined is None else round(combined, 2),
        "agrees": None if combined is None else abs(db - da) <= within * combined,
        "value_change_mean_abs": round(sum(abs(x - y) for x, y in zip(va, vb)) / len(seeds), 2),
        "baseline_change_mean_abs": round(sum(abs(x - y) for x, y in zip(ba, bb)) / len(seeds), 2),
    }


def compare(first: dict, second: dict, within: float = 2.0) -> dict:
    """Every row the two results share, compared; the rows only one of them has; and the rows
    both have but with no seed in common (nothing paired to compare)."""
    rows_b = {row_key(r): r for r in second["rows"]}
    records, only_a, no_shared_seed = [], [], []
    for r in first["rows"]:
        other = rows_b.pop(row_key(r), None)
        if other is None:
            only_a.append(dict(zip(ROW_KEY, row_key(r))))
            continue
        record = compare_rows(r, other, within)
        if record is None:
            no_shared_seed.append(dict(zip(ROW_KEY, row_key(r))))
        else:
            records.append(record)
    judged = [r for r in records if r["agrees"] is not None]
    return {"within": within, "compared": len(records), "agree": sum(r["agrees"] for r in judged),
            "judged": len(judged), "rows": records, "only_in_first": only_a,
            "only_in_second": [dict(zip(ROW_KEY, k)) for k in rows_b], "no_shared_seed": no_shared_seed}


def main(argv: list[str] | None = None) -> int:
    """Print the comparison of two results.json files as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", help="a results.json (e.g. docs/results.json)")
    parser.add_argument("second", help="another one, e.g. a rerun's printed JSON")
    parser.add_argument("--within", type=float, default=2.0,
                        help="a row agrees when its gains differ by at most this many combined SEs (default 2)")
    args = parser.parse_args(argv)
    loaded = []
    for name in (args.first, args.second):
        path = Path(name)
        try:
            loaded.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            print(f"compare_results: cannot read {name} as a results JSON ({error})", file=sys.stderr)
            return 2
    print(json.dumps(compare(*loaded, within=args.within), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
