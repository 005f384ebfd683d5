# rsseg: every target sets up what it needs first (scripts/setup.sh is fast when nothing is missing).
PYTHON := .venv/bin/python
PYTEST := QT_QPA_PLATFORM=offscreen $(PYTHON) -m pytest

.PHONY: setup lint test test-slow demo translations bench bench-full

setup:
	bash scripts/setup.sh

# ruff, configured in pyproject.toml (rules, per-folder exceptions and the `# noqa` policy)
lint: setup
	.venv/bin/ruff check .

test: setup
	$(PYTEST) -m "not slow" tests

test-slow: setup
	$(PYTEST) -m slow tests

demo: setup
	bash scripts/demo.sh

translations: setup
	bash scripts/update_translations.sh

# Benchmarks print JSON. `make bench` runs each at its documented short setting;
# `make bench-full` is the label-efficiency run with every readout (`--preset full`: the default protocol
# plus fine-tuning at 16 images, 5 fine-tuning seeds and longer pretraining runs; hours on 2 CPU cores, the
# default protocol alone 66-122 min on 2 AVX-512 cores, ~2.4x that on AVX2, docs/results.md); finished units are
# cached, so it continues where it stopped.
# bench/ is a package: `python -m bench.<name>` from the repository root (the older
# `PYTHONPATH=. python bench/<name>.py`, recorded beside some measured numbers, still works).
bench: setup
	$(PYTHON) -m bench.segment_throughput
	$(PYTHON) -m bench.model_cost
	$(PYTHON) -m bench.cluster_map_quality
	$(PYTHON) -m bench.label_efficiency --quick

bench-full: setup
	$(PYTHON) -m bench.label_efficiency --preset full
