"""Checks of rendered files with tools others wrote: poppler's ``pdftotext`` (words and
their boxes), PDFium (pixels), hocr-tools' ``hocr-check``, lxml (ALTO's XSD)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

PDFTOTEXT = shutil.which("pdftotext")
HOCR_CHECK = Path(sys.executable).with_name("hocr-check")

needs_pdftotext = pytest.mark.skipif(
    PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed; make test installs it"
)

_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)

Box = tuple[float, float, float, float]


def poppler_pages(pdf: bytes, tmp_path: Path) -> list[list[tuple[Box, str]]]:
    """Each page's words with their boxes in points (page as displayed, y down)."""
    path = tmp_path / "rendered.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [str(PDFTOTEXT), "-bbox", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pages = []
    for _w, _h, body in _PAGE.findall(out.stdout):
        words = []
        for x0, y0, x1, y1, text in _WORD.findall(body):
            text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            text = text.replace("&quot;", '"').replace("&apos;", "'")
            words.append(((float(x0), float(y0), float(x1), float(y1)), text))
        pages.append(words)
    return pages


def pdftotext_words(pdf: bytes, tmp_path: Path) -> Counter[str]:
    """The bag of words poppler finds (its word list: ``-bbox``)."""
    return Counter(text for page in poppler_pages(pdf, tmp_path) for _, text in page)


def pdftotext_letters(pdf: bytes, tmp_path: Path) -> Counter[str]:
    """The letters of plain ``pdftotext`` output, as copy and paste gets them. Letters,
    not words: its reading-order mode joins a line-end ``long-`` with ``term`` and words
    whose boxes touch, as it does for any PDF."""
    path = tmp_path / "plain.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [str(PDFTOTEXT), str(path), "-"], capture_output=True, text=True, timeout=120, check=True
    )
    return Counter(ch for ch in out.stdout if not ch.isspace() and ch != "-")


def json_words(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        w
        for b in page.get("blocks") or []
        for ln in b.get("lines") or []
        for w in ln.get("words") or []
        if w["text"].strip()
    ]


def iou(a: Box, b: Box) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def placed_fraction(
    words: list[dict[str, Any]], found: list[tuple[Box, str]], scale: tuple[float, float]
) -> float:
    """The share of the JSON's words that poppler finds, with the same text, at IoU >= 0.5
    with their box (pixels scaled to points by ``scale``)."""
    if not words:
        return 1.0
    remaining = list(found)
    hits = 0
    for word in words:
        box = word["box"]
        expected = (
            box["x"] * scale[0],
            box["y"] * scale[1],
            (box["x"] + box["width"]) * scale[0],
            (box["y"] + box["height"]) * scale[1],
        )
        for index, (got, text) in enumerate(remaining):
            if text == word["text"].strip() and iou(expected, got) >= 0.5:
                hits += 1
                del remaining[index]
                break
    return hits / len(words)


def render_page(pdf: bytes, index: int, width_px: int) -> Any:
    """Page ``index`` drawn by PDFium at ``width_px`` pixels wide. A hair under the exact
    scale: PDFium rounds the device box outwards, and one pixel more would resample."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        page = doc[index]
        width_pt, height_pt = page.get_size()
        scale = (width_px - 0.01) / width_pt
        image = page.render(scale=scale).to_pil()
        page.close()
    finally:
        doc.close()
    height_px = round(height_pt * width_px / width_pt)
    return image.crop((0, 0, width_px, height_px))


def embedded_image(pdf: bytes) -> tuple[Any, bytes, tuple[float, ...], tuple[float, float]]:
    """The first page's one image as PDFium decodes it, its raw stream data, where it is
    drawn (left, bottom, right, top in points) and the page's size."""
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    doc = pypdfium2.PdfDocument(pdf)
    try:
        page = doc[0]
        [image] = [o for o in page.get_objects() if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE]
        bitmap = image.get_bitmap(render=False).to_pil()
        data = bytes(image.get_data(decode_simple=False))
        return bitmap, data, tuple(image.get_bounds()), page.get_size()
    finally:
        doc.close()


def same_pixels(a: Any, b: Any) -> bool:
    from PIL import ImageChops

    if a.size != b.size:
        return False
    return ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def hocr_check(hocr: bytes, tmp_path: Path) -> str:
    """hocr-tools' ``hocr-check`` and hocr-spec's validator; fails on any complaint.

    hocr-check's overlap tests look at every line of the file (an absolute XPath under
    each page), so lines of different pages "overlap": for a file of several pages they
    are left to hocr-spec, which checks each page on its own.
    """
    path = tmp_path / "page.hocr"
    path.write_bytes(hocr)
    pages = hocr.count(b'class="ocr_page"')
    command = [sys.executable, str(HOCR_CHECK), *(["--nooverlap"] if pages > 1 else []), str(path)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    report = out.stdout + out.stderr
    assert out.returncode == 0 and "not ok" not in report and "ok 1" in report, report
    spec = subprocess.run(
        [sys.executable, str(HOCR_CHECK.with_name("hocr-spec")), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert spec.returncode == 0 and "Document is valid" in spec.stdout + spec.stderr, spec
    return report


def decoded(data: bytes, transpose: bool = True) -> Any:
    """The image as Pillow decodes it (EXIF orientation applied unless told not to)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return ImageOps.exif_transpose(im) if transpose else im.copy()
