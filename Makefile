# rsseg: every target sets up what it needs first (scripts/setup.sh is fast when nothing is missing).
PYTHON := .venv/bin/python
PYTEST := QT_QPA_PLATFORM=offscreen $(PYTHON) -m pytest

.PHONY: setup test test-slow demo translations bench

setup:
	bash scripts/setup.sh

test: setup
	$(PYTEST) -m "not slow" tests

test-slow: setup
	$(PYTEST) -m slow tests

demo: setup
	bash scripts/demo.sh

translations: setup
	bash scripts/update_translations.sh

bench: setup
	@set -e; found=0; for script in bench/*.py; do \
		[ -f "$$script" ] || continue; found=1; \
		echo "== $$script"; PYTHONPATH=. $(PYTHON) "$$script"; \
	done; [ $$found = 1 ] || echo "no bench/*.py scripts yet"
