"""Document throughput, measured side by side in one run: PDF pages OCRed one at a time
against in parallel on the engine pool, and a text-layer PDF read without OCR.

    .venv/bin/python bench/documents.py [pages]

Pages are A4 at 300 DPI (2480x3508 px) filled with lines of prose, as a scanned letter.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ocr_core import runtime
from ocr_core.recognition.documents import PDF, ocr_pages, open_document
from tests.documents import FILLER, text_pdf


def a4_scan_pdf(pages: int) -> bytes:
    font = ImageFont.load_default(size=42)
    images = []
    for number in range(1, pages + 1):
        im = Image.new("L", (2480, 3508), 255)
        draw = ImageDraw.Draw(im)
        draw.text((200, 200), f"Page {number}", fill=0, font=font)
        for line in range(40):
            draw.text((200, 320 + line * 72), FILLER, fill=0, font=font)
        images.append(im.convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=300)
    return out.getvalue()


def run(data: bytes, pages: int, threads: int, text_layer: bool) -> float:
    os.environ["ENGINE_THREADS"] = str(threads)
    os.environ["PDF_USE_TEXT_LAYER"] = "true" if text_layer else "false"
    ctx = runtime.reload()
    started = time.perf_counter()
    with open_document(data, PDF, ctx.settings) as document:
        result = ocr_pages(ctx.jobs.engines, document, 1, pages)
    elapsed = time.perf_counter() - started
    assert len(result) == pages and all(f"Page {n}" in p["text"] for n, p in enumerate(result, 1))
    return elapsed


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    scan = a4_scan_pdf(pages)
    born_digital = text_pdf(pages)
    cores = os.cpu_count() or 1
    run(scan, 1, cores, False)  # warm up: engine pool, PDFium
    one = run(scan, pages, 1, False)
    many = run(scan, pages, cores, False)
    layer = run(born_digital, pages, cores, True)
    print(f"{pages} A4 pages at 300 DPI, {cores} cores, Tesseract")
    print(f"  OCR, 1 engine thread     {one:7.2f} s  {pages / one:6.2f} pages/s")
    speedup = one / many
    rate = pages / many
    print(f"  OCR, {cores} engine threads    {many:7.2f} s  {rate:6.2f} pages/s  x{speedup:.2f}")
    print(f"  text layer, no OCR       {layer:7.3f} s  {pages / layer:6.0f} pages/s")


if __name__ == "__main__":
    main()
