"""bench/compare_results.py: rows of two label-efficiency runs matched and judged."""
import json

from bench.compare_results import compare, main
from training.paired import paired_difference


def _row(values, baseline, seeds=(0, 1, 2), labels=1, steps=400):
    return {"method": "grass", "variant": "grass", "readout": "probe", "labels": labels, "pretrain_fraction": 1.0,
            "pretrain_steps": steps, "seed_list": list(seeds), "values": list(values),
            "baseline_values": list(baseline)}


def test_gain_is_the_paired_mean_and_its_standard_error():
    mean, se = paired_difference([3.0, 5.0, 7.0], [1.0, 1.0, 1.0])
    assert mean == 4.0 and abs(se - 2.0 / 3 ** 0.5) < 1e-9
    assert paired_difference([2.0], [1.0]) == (1.0, None)


def test_a_rerun_within_noise_agrees_and_a_flipped_gain_does_not():
    published = {"rows": [_row([30, 31, 32], [25, 26, 27]), _row([30, 31, 29], [25, 25, 25], labels=4)]}
    rerun = {"rows": [_row([30.5, 30.5, 32.5], [25, 26, 27]), _row([25, 24, 26], [25, 25, 25], labels=4)]}
    result = compare(published, rerun)
    assert result["compared"] == 2 and result["judged"] == 2
    by_labels = {r["row"]["labels"]: r for r in result["rows"]}
    assert by_labels[1]["agrees"] and not by_labels[4]["agrees"]
    assert by_labels[4]["delta_change"] == -5.0
    assert by_labels[1]["value_change_mean_abs"] == 0.5 and by_labels[1]["baseline_change_mean_abs"] == 0.0


def test_only_shared_seeds_are_compared_and_unmatched_rows_are_listed():
    published = {"rows": [_row([30, 31, 32, 40, 50], [25, 26, 27, 0, 0], seeds=(0, 1, 2, 3, 4)),
                          _row([1, 2, 3], [1, 2, 3], steps=800)]}
    rerun = {"rows": [_row([30, 31, 32], [25, 26, 27]), _row([1, 2], [1, 2], labels=16, seeds=(0, 1))]}
    result = compare(published, rerun)
    assert result["compared"] == 1 and result["rows"][0]["seeds"] == [0, 1, 2]
    assert result["rows"][0]["delta_change"] == 0.0      # seeds 3, 4 (only in the first) left out
    assert [r["pretrain_steps"] for r in result["only_in_first"]] == [800]
    assert [r["labels"] for r in result["only_in_second"]] == [16]
    assert result["no_shared_seed"] == []


def test_rows_without_a_shared_seed_or_at_another_fine_tuning_budget_are_not_compared():
    first = {"rows": [_row([30, 31], [25, 26], seeds=(0, 1)), {**_row([30, 31], [25, 26]), "readout": "finetune",
                                                               "steps": 100}]}
    second = {"rows": [_row([30, 31], [25, 26], seeds=(5, 6)), {**_row([30, 31], [25, 26]), "readout": "finetune",
                                                                "steps": 225}]}
    result = compare(first, second)
    assert result["compared"] == 0 and [r["readout"] for r in result["no_shared_seed"]] == ["probe"]
    assert [r["steps"] for r in result["only_in_first"]] == [100]
    assert [r["steps"] for r in result["only_in_second"]] == [225]


def test_main_prints_json_and_names_an_unreadable_file(tmp_path, capsys):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"rows": [_row([30, 31, 32], [25, 26, 27])]}))
    assert main([str(path), str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["agree"] == 1
    assert main([str(path), str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_reading_results_imports_no_torch():
    """compare_results reads JSON: the paired gain lives in numpy-only training/paired.py."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, bench.compare_results; raise SystemExit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1]).returncode == 0
