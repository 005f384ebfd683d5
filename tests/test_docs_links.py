"""Every relative link of the README and docs/ reaches a file of the repository.

The results pages move text between files (docs/results.md keeps the current table,
docs/results_history.md the sessions before it); a link left pointing at a moved or renamed
file would send a reader nowhere, so the links are checked, not trusted.
"""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_targets(text: str) -> list[str]:
    """Link targets that name a file of the repository (no URL, no in-page anchor)."""
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def test_relative_targets_parses_links():
    text = "[a](docs/x.md) ![b](img.png) [c](https://example.org) [d](#local) [e](y.json#rows)"
    assert relative_targets(text) == ["docs/x.md", "img.png", "y.json"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(page):
    missing = [t for t in relative_targets(page.read_text(encoding="utf-8")) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(REPO)} links to missing files: {missing}"
