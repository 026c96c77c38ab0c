"""Plain text: each page's text, pages separated by a form feed (as pdftotext does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def render_text(result: dict[str, Any]) -> Iterator[bytes]:
    # The result's ``text`` already is the whole text, pages joined by form feeds.
    text = str(result.get("text", ""))
    yield (text + "\n" if text and not text.endswith("\n") else text).encode("utf-8")
