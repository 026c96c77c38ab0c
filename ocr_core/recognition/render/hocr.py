"""hOCR 1.2: the result as XHTML, one ``ocr_page`` per page, written page by page.

Blocks become ``ocr_carea`` with one ``ocr_par`` each (the engines report no paragraphs
inside a block), lines ``ocr_line``, words ``ocrx_word`` with ``bbox`` and ``x_wconf``
(0-100). Every box is in pixels of the page as it was OCRed; a parent's box is widened
to hold its children, as the format requires.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import quoteattr

from ocr_core import __version__
from ocr_core.recognition.render.pages import RenderPage

Box = tuple[int, int, int, int]


def render_hocr(result: dict[str, Any], pages: Iterator[RenderPage], name: str) -> Iterator[bytes]:
    language = result.get("language")
    engine = result.get("engine") or {}
    system = f"ocr-pipeline {__version__} ({engine.get('name', '')} {engine.get('version', '')})"
    lang = f" lang={quoteattr(language)} xml:lang={quoteattr(language)}" if language else ""
    langs = f'<meta name="ocr-langs" content={quoteattr(language)} />\n' if language else ""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"'
        ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"{lang}>\n<head>\n'
        f"<title>{_escape(name)}</title>\n"
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n'
        f'<meta name="ocr-system" content={quoteattr(system.strip())} />\n'
        '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word'
        ' ocrp_wconf" />\n'
        f'<meta name="ocr-number-of-pages" content="{_page_total(result)}" />\n'
        f"{langs}</head>\n<body>\n"
    ).encode()
    for page in pages:
        yield ET.tostring(_page(page, name), encoding="unicode").encode() + b"\n"
    yield b"</body>\n</html>\n"


def _page_total(result: dict[str, Any]) -> int:
    from ocr_core.recognition.render.pages import page_count

    return page_count(result)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _page(page: RenderPage, name: str) -> ET.Element:
    n = page.number
    title = f'image "{_quote(name)}"; bbox 0 0 {page.width} {page.height}; ppageno {n - 1}'
    div = ET.Element("div", {"class": "ocr_page", "id": f"page_{n}", "title": title})
    for b, (block, lines) in enumerate(page.lines(), 1):
        line_boxes = [
            _union(line.get("box"), [w.get("box") for w in line.get("words") or []])
            for line in lines
        ]
        block_box = _union(block.get("box"), line_boxes)
        area = ET.SubElement(
            div, "div", {"class": "ocr_carea", "id": f"block_{n}_{b}", "title": _bbox(block_box)}
        )
        par = ET.SubElement(
            area, "p", {"class": "ocr_par", "id": f"par_{n}_{b}", "title": _bbox(block_box)}
        )
        for i, (line, line_box) in enumerate(zip(lines, line_boxes, strict=True), 1):
            span = ET.SubElement(
                par,
                "span",
                {"class": "ocr_line", "id": f"line_{n}_{b}_{i}", "title": _bbox(line_box)},
            )
            words = [w for w in line.get("words") or [] if str(w.get("text", "")).strip()]
            for j, word in enumerate(words, 1):
                conf = round(100 * float(word.get("confidence") or 0.0))
                item = ET.SubElement(
                    span,
                    "span",
                    {
                        "class": "ocrx_word",
                        "id": f"word_{n}_{b}_{i}_{j}",
                        "title": f"{_bbox(_corners(word.get('box')))}; x_wconf {conf}",
                    },
                )
                item.text = str(word["text"]).strip()
                item.tail = " " if j < len(words) else None
            span.tail = "\n"
    return div


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _corners(box: Any) -> Box:
    if not isinstance(box, dict):
        return (0, 0, 0, 0)
    x, y = int(box.get("x", 0)), int(box.get("y", 0))
    return x, y, x + int(box.get("width", 0)), y + int(box.get("height", 0))


def _union(own: Any, children: list[Any]) -> Box:
    boxes = [b if isinstance(b, tuple) else _corners(b) for b in [own, *children] if b]
    boxes = [b for b in boxes if b[2] > b[0] or b[3] > b[1]] or [(0, 0, 0, 0)]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _bbox(box: Box) -> str:
    return "bbox {} {} {} {}".format(*box)
