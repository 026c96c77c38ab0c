"""The pages of a result, one at a time, in the shape every renderer reads.

A single image's result carries its page whole. A document's result lists its pages
without their blocks; the blocks live in the shards, which are read one by one as the
renderer reaches them, so no more than one shard's detail is ever in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ocr_core import errors

ShardLoader = Callable[[str], "dict[str, Any] | None"]


@dataclass
class RenderPage:
    number: int  # 1-based
    width: int  # the pixel frame the boxes are in
    height: int
    blocks: list[dict[str, Any]] = field(default_factory=list)
    source: str = "ocr"  # "ocr" or "text_layer" (a PDF page that already has its text)
    confidence: float = 0.0
    language: str | None = None

    def lines(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """(block, its lines) pairs, in reading order."""
        for block in self.blocks:
            yield block, list(block.get("lines") or [])

    def words(self) -> Iterator[dict[str, Any]]:
        for block in self.blocks:
            for line in block.get("lines") or []:
                yield from line.get("words") or []


def page_count(result: dict[str, Any]) -> int:
    document = result.get("document")
    if isinstance(document, dict):
        return int(document.get("page_count") or len(result.get("pages") or []))
    return len(result.get("pages") or [])


def iter_pages(
    result: dict[str, Any], load_shard: ShardLoader | None = None
) -> Iterator[RenderPage]:
    """Every page of a ``done`` result, in page order, with its blocks."""
    if isinstance(result.get("document"), dict):
        yield from _document_pages(result, load_shard)
        return
    image = result.get("image") or {}
    for number, page in enumerate(result.get("pages") or [], 1):
        yield RenderPage(
            number=number,
            width=int(page.get("width") or image.get("width") or 0),
            height=int(page.get("height") or image.get("height") or 0),
            blocks=list(page.get("blocks") or []),
            confidence=float(page.get("confidence") or result.get("confidence") or 0.0),
            language=result.get("language"),
        )


def _document_pages(result: dict[str, Any], load_shard: ShardLoader | None) -> Iterator[RenderPage]:
    if load_shard is None:
        raise ValueError("a document result needs its shards to be rendered")
    generation = (result.get("object") or {}).get("generation")
    for shard in result.get("shards") or []:
        body = load_shard(shard)
        if body is None or (body.get("object") or {}).get("generation") != generation:
            raise errors.StorageError(f"The page shard {shard!r} is missing or out of date")
        for page in sorted(body.get("responses") or [], key=lambda p: p["page_number"]):
            yield RenderPage(
                number=int(page["page_number"]),
                width=int(page.get("width") or 0),
                height=int(page.get("height") or 0),
                blocks=list(page.get("blocks") or []),
                source=str(page.get("source") or "ocr"),
                confidence=float(page.get("confidence") or 0.0),
                language=page.get("language"),
            )
