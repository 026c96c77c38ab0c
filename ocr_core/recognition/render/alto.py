"""ALTO v4 XML: Page / PrintSpace / TextBlock / TextLine / String, written page by page.

Positions are in pixels of the page as it was OCRed (``MeasurementUnit`` pixel); ``WC``
is the word's confidence in 0..1, as ALTO defines it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from ocr_core import __version__
from ocr_core.recognition.render.hocr import _corners, _union
from ocr_core.recognition.render.pages import RenderPage

NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{NAMESPACE} http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"


def render_alto(result: dict[str, Any], pages: Iterator[RenderPage], name: str) -> Iterator[bytes]:
    engine = result.get("engine") or {}
    software = ET.Element("processingSoftware")
    ET.SubElement(software, "softwareName").text = "ocr-pipeline"
    ET.SubElement(
        software, "softwareVersion"
    ).text = f"{__version__} ({engine.get('name', '')} {engine.get('version', '')})".strip()
    created = str(result.get("created_at") or "")
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<alto xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{SCHEMA_LOCATION}">\n'
        "<Description>\n<MeasurementUnit>pixel</MeasurementUnit>\n"
        f"<sourceImageInformation><fileName>{_escape(name)}</fileName></sourceImageInformation>\n"
        '<Processing ID="OCR_0"><processingCategory>contentGeneration</processingCategory>'
        + (f"<processingDateTime>{_escape(created)}</processingDateTime>" if created else "")
        + ET.tostring(software, encoding="unicode")
        + "</Processing>\n</Description>\n<Layout>\n"
    ).encode()
    for page in pages:
        yield ET.tostring(_page(page), encoding="unicode").encode() + b"\n"
    yield b"</Layout>\n</alto>\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _position(element: ET.Element, box: tuple[int, int, int, int]) -> None:
    element.set("HPOS", str(box[0]))
    element.set("VPOS", str(box[1]))
    element.set("WIDTH", str(max(0, box[2] - box[0])))
    element.set("HEIGHT", str(max(0, box[3] - box[1])))


def _page(page: RenderPage) -> ET.Element:
    n = page.number
    element = ET.Element(
        "Page",
        {
            "ID": f"page_{n}",
            "PHYSICAL_IMG_NR": str(n),
            "WIDTH": str(page.width),
            "HEIGHT": str(page.height),
        },
    )
    space = ET.SubElement(element, "PrintSpace")
    _position(space, (0, 0, page.width, page.height))
    for b, (block, lines) in enumerate(page.lines(), 1):
        line_boxes = [
            _union(line.get("box"), [w.get("box") for w in line.get("words") or []])
            for line in lines
        ]
        text_block = ET.SubElement(space, "TextBlock", {"ID": f"block_{n}_{b}"})
        _position(text_block, _union(block.get("box"), line_boxes))
        for i, (line, line_box) in enumerate(zip(lines, line_boxes, strict=True), 1):
            words = [w for w in line.get("words") or [] if str(w.get("text", "")).strip()]
            if not words:
                continue  # a TextLine must hold at least one String
            text_line = ET.SubElement(text_block, "TextLine", {"ID": f"line_{n}_{b}_{i}"})
            _position(text_line, line_box)
            for j, word in enumerate(words, 1):
                box = _corners(word.get("box"))
                string = ET.SubElement(text_line, "String", {"ID": f"string_{n}_{b}_{i}_{j}"})
                _position(string, box)
                string.set("CONTENT", str(word["text"]).strip())
                string.set("WC", f"{min(1.0, max(0.0, float(word.get('confidence') or 0.0))):.4f}")
                if j < len(words):
                    following = _corners(words[j].get("box"))
                    gap = ET.SubElement(text_line, "SP")
                    gap.set("WIDTH", str(max(0, following[0] - box[2])))
                    gap.set("HPOS", str(box[2]))
                    gap.set("VPOS", str(box[1]))
    return element
