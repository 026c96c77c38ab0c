"""The README is the way in: every page of docs/ is linked from it, and every relative link
in the README and in docs/ points at a file that exists (anchors aside)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _relative_links(page: Path) -> list[str]:
    return [
        t for t in LINK.findall(page.read_text()) if "://" not in t and not t.startswith("mailto:")
    ]


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / t).resolve() for t in _relative_links(ROOT / "README.md")}
    pages = set((ROOT / "docs").glob("*.md"))
    assert pages, "no docs/ pages found"
    assert sorted(p.name for p in pages - linked) == []


def test_relative_links_resolve() -> None:
    broken = [
        f"{page.relative_to(ROOT)} -> {target}"
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for target in _relative_links(page)
        if not (page.parent / target).exists()
    ]
    assert broken == []


def test_the_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
