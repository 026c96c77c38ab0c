"""Multi-page documents: PDF and multi-page TIFF in, one OCR result per page out.

PDFs are rendered with PDFium (pypdfium2's wheel bundles it: no system package) at
``PDF_RENDER_DPI``, scaled down when a page would pass ``DOCUMENT_PAGE_MAX_PIXELS`` (a
poster-sized page at 300 DPI would cost minutes and gigabytes for no better text). A PDF
page that already carries a text layer is read from it instead, when
``PDF_USE_TEXT_LAYER`` allows. TIFF pages are decoded with Pillow, one frame at a time.

PDFium is not thread-safe, so every call into it holds one process-wide lock; pages are
rendered one after the other and OCRed in parallel on the engine's pool.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image, ImageOps

from ocr_core import errors
from ocr_core.config import MIB, Settings
from ocr_core.engines import Engines
from ocr_core.engines.base import Block, Box, Line, Word, mean_confidence, recognize_guarded
from ocr_core.logs import get_logger
from ocr_core.recognition.intake import MAX_JPEG_SCANS, MAX_SIDE, _normalise_mode
from ocr_core.recognition.jpeg import check_structure

log = get_logger("documents")

PDF, TIFF = "pdf", "tiff"
POINTS_PER_INCH = 72.0
#: A text layer with fewer letters or digits than this is treated as absent (a scan with
#: a stray page number, an empty invisible layer): the page is OCRed instead.
MIN_TEXT_LAYER_CHARS = 3
#: PDFium's document-load error codes (fpdfview.h).
PDFIUM_ERR_PASSWORD, PDFIUM_ERR_SECURITY = 4, 5

_pdfium_lock = threading.RLock()


def document_kind(data: bytes) -> str | None:
    """``pdf`` or ``tiff`` when ``data`` is a document with pages, else None (an image)."""
    if data[:5] == b"%PDF-":
        return PDF
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        try:
            with Image.open(io.BytesIO(data), formats=["TIFF"]) as im:
                return TIFF if getattr(im, "n_frames", 1) > 1 else None
        except Exception:  # noqa: BLE001 - a broken TIFF is the image path's to report
            return None
    return None


@dataclass
class PageImage:
    """One page ready for the engine, or its text when the PDF's text layer serves."""

    number: int
    width: int
    height: int
    image: Image.Image | None = None
    text_layer: dict[str, Any] | None = None


class Document:
    """An opened document. Use as a context manager; ``pages`` yields in page order."""

    def __init__(self, data: bytes, kind: str, settings: Settings) -> None:
        self.kind = kind
        self.settings = settings
        self.size_bytes = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self._pdf: Any = None
        self._tiff: Image.Image | None = None
        if kind == PDF:
            self._open_pdf(data)
        else:
            self._open_tiff(data)
        if self.page_count == 0:
            raise errors.CorruptDocument(f"The {kind.upper()} file has no pages")
        limit = settings.max_document_pages
        if self.page_count > limit:
            raise errors.TooManyPages(
                f"The document has {self.page_count} pages; the limit is {limit}",
                pages=self.page_count,
                limit_pages=limit,
            )

    def _open_pdf(self, data: bytes) -> None:
        import pypdfium2  # only the OCR function needs PDFium

        with _pdfium_lock:
            try:
                self._pdf = pypdfium2.PdfDocument(data)
            except pypdfium2.PdfiumError as exc:
                if exc.err_code in (PDFIUM_ERR_PASSWORD, PDFIUM_ERR_SECURITY):
                    raise errors.EncryptedDocument(
                        "The PDF is encrypted with a password; upload an unprotected copy"
                    ) from exc
                raise errors.CorruptDocument(
                    "The PDF file is damaged or truncated and cannot be read"
                ) from exc
            self.page_count = len(self._pdf)

    def _open_tiff(self, data: bytes) -> None:
        try:
            self._tiff = Image.open(io.BytesIO(data), formats=["TIFF"])
            self.page_count = int(getattr(self._tiff, "n_frames", 1))
        except Exception as exc:
            raise errors.CorruptDocument(
                "The TIFF file is damaged or truncated and cannot be read"
            ) from exc

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pdf is not None:
            with _pdfium_lock:
                self._pdf.close()
            self._pdf = None
        if self._tiff is not None:
            self._tiff.close()
            self._tiff = None

    def pages(self, first: int, last: int) -> Iterator[PageImage]:
        """Pages ``first``..``last`` (1-based, inclusive); a page that cannot be decoded
        raises CorruptDocument."""
        for number in range(first, min(last, self.page_count) + 1):
            if self.kind == PDF:
                yield self._pdf_page(number)
            else:
                yield self._tiff_page(number)

    def _scale_for(self, width_pt: float, height_pt: float) -> float:
        scale = self.settings.pdf_render_dpi / POINTS_PER_INCH
        limit = self.settings.document_page_max_pixels
        if limit and width_pt * height_pt * scale * scale > limit:
            scale = math.sqrt(limit / (width_pt * height_pt))
        return scale

    def _pdf_page(self, number: int) -> PageImage:
        with _pdfium_lock:
            try:
                page = self._pdf[number - 1]
            except Exception as exc:  # PDFium reports a bad page tree this way
                raise errors.CorruptDocument(f"Page {number} of the PDF cannot be read") from exc
            try:
                width_pt, height_pt = page.get_size()
                if width_pt <= 0 or height_pt <= 0:
                    raise errors.CorruptDocument(f"Page {number} of the PDF has no area")
                scale = self._scale_for(width_pt, height_pt)
                width, height = round(width_pt * scale), round(height_pt * scale)
                if self.settings.pdf_use_text_layer:
                    layer = _text_layer(page, scale, height_pt)
                    if layer is not None:
                        return PageImage(number, width, height, text_layer=layer)
                _check_page_images(page, number, self.settings.pdf_max_image_bytes)
                bitmap = page.render(scale=scale, grayscale=True)
                image = bitmap.to_pil().convert("L")
                bitmap.close()
            except errors.OcrError:
                raise
            except Exception as exc:  # any PDFium failure is a damaged page
                raise errors.CorruptDocument(f"Page {number} of the PDF cannot be drawn") from exc
            finally:
                page.close()
        return PageImage(number, image.width, image.height, image=image)

    def _tiff_page(self, number: int) -> PageImage:
        assert self._tiff is not None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self._tiff.seek(number - 1)
                width, height = self._tiff.size
                if width * height > self.settings.max_image_pixels or max(width, height) > MAX_SIDE:
                    raise errors.ImageTooLarge(
                        f"Page {number} is {width}x{height} pixels; the limit is "
                        f"{self.settings.max_image_pixels} pixels",
                        page=number,
                    )
                frame = self._tiff.copy()
            frame = _normalise_mode(ImageOps.exif_transpose(frame) or frame)
        except errors.OcrError:
            raise
        except Exception as exc:  # a damaged frame, whatever the decoder says
            raise errors.CorruptDocument(f"Page {number} of the TIFF cannot be decoded") from exc
        limit = self.settings.document_page_max_pixels
        if limit and frame.width * frame.height > limit:
            factor = math.sqrt(limit / (frame.width * frame.height))
            frame = frame.resize(
                (max(1, int(frame.width * factor)), max(1, int(frame.height * factor))),
                Image.Resampling.LANCZOS,
            )
        return PageImage(number, frame.width, frame.height, image=frame)


def _check_page_images(page: Any, number: int, budget: int) -> None:
    """Refuse a page whose images would not fit ``budget`` once decoded: PDFium decodes
    each image whole to draw it, however small the page renders (a 20000x20000 grey image,
    a few hundred KB compressed, is 400 MB decoded). Called with the PDFium lock held."""
    import pypdfium2.raw as pdfium_c

    total = 0
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        width, height = image.get_px_size()
        if "DCTDecode" in image.get_filters():
            # A JPEG inside: the same scan bomb as a JPEG upload, decoded under the lock.
            try:
                check_structure(
                    bytes(image.get_data(decode_simple=False)),
                    (width, height),
                    max_scans=MAX_JPEG_SCANS,
                    huffman_only=False,
                )
            except errors.ImageTooComplex as exc:
                raise errors.ImageTooComplex(f"Page {number}: {exc.message}", page=number) from exc
            except errors.CorruptImage as exc:
                raise errors.CorruptDocument(f"Page {number}: {exc.message}", page=number) from exc
        bits = image.get_metadata().bits_per_pixel
        total += width * height * (1 if 0 < bits <= 8 else 4)  # grey, or PDFium's BGRA
        if total > budget:
            raise errors.DocumentTooLarge(
                f"Page {number} embeds images of {width}x{height} pixels and more, over "
                f"{budget // MIB} MiB once decoded (PDF_MAX_IMAGE_MIB); rescan it at a lower "
                "resolution",
                page=number,
                limit_bytes=budget,
            )


def open_document(data: bytes, kind: str, settings: Settings) -> Document:
    if len(data) > settings.max_document_bytes:
        raise errors.FileTooLarge(
            f"The document is {len(data)} bytes; the limit is {settings.max_document_bytes}",
            limit_bytes=settings.max_document_bytes,
        )
    return Document(data, kind, settings)


def _text_layer(page: Any, scale: float, height_pt: float) -> dict[str, Any] | None:
    """The page's own text as one block of lines and words with boxes in rendered pixels,
    or None when the layer is empty. Called with the PDFium lock held."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count > 0 else ""
        if sum(ch.isalnum() for ch in text) < MIN_TEXT_LAYER_CHARS:
            return None
        boxes = [textpage.get_charbox(i) for i in range(count)] if len(text) == count else None
    finally:
        textpage.close()

    def to_px(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        left, bottom, right, top = box
        return left * scale, (height_pt - top) * scale, right * scale, (height_pt - bottom) * scale

    lines: list[Line] = []
    words: list[Word] = []
    corners: list[tuple[float, float, float, float]] = []
    current: list[str] = []

    def union(items: list[tuple[float, float, float, float]]) -> Box:
        if not items:
            return Box(0, 0, 0, 0)
        return Box.from_corners(
            min(b[0] for b in items),
            min(b[1] for b in items),
            max(b[2] for b in items),
            max(b[3] for b in items),
        )

    word_boxes: list[tuple[float, float, float, float]] = []

    def end_word() -> None:
        if current:
            box = union(corners)
            words.append(Word("".join(current), 1.0, box))
            word_boxes.append((box.x, box.y, box.x + box.width, box.y + box.height))
        current.clear()
        corners.clear()

    def end_line() -> None:
        end_word()
        if words:
            lines.append(Line(" ".join(w.text for w in words), 1.0, union(word_boxes), list(words)))
        words.clear()
        word_boxes.clear()

    for i, ch in enumerate(text):
        if ch == "\n":
            end_line()
        elif ch.isspace():
            end_word()
        else:
            current.append(ch)
            if boxes is not None:
                corners.append(to_px(boxes[i]))
    end_line()
    page_text = "\n".join(line.text for line in lines)
    block = Block(page_text, 1.0, union([_corners(line.box) for line in lines]), lines)
    return {
        "text": page_text,
        "blocks": [asdict(block)],
        "word_count": sum(len(ln.words) for ln in lines),
    }


def _corners(box: Box) -> tuple[float, float, float, float]:
    return box.x, box.y, box.x + box.width, box.y + box.height


def ocr_pages(
    engines: Engines, document: Document, first: int, last: int, lang: str | None = None
) -> list[dict]:
    """OCR pages ``first``..``last``: rendered in order, recognised in parallel on the
    engine's pool. Returns one page entry per page, in page order."""
    engine = engines.get()
    if getattr(engine, "recognize_many", None) is not None:
        return _ocr_pages_batched(engine, document, first, last, lang)
    settings = document.settings
    results: list[dict[str, Any] | Future[dict[str, Any]]] = []
    with ThreadPoolExecutor(
        max_workers=settings.engine_pool_size, thread_name_prefix="page-ocr"
    ) as pool:
        for page in document.pages(first, last):
            if page.text_layer is not None:
                results.append(_text_layer_entry(page))
            else:
                results.append(pool.submit(_recognise, engines, engine, page, lang))
            # Rendering runs ahead of OCR by at most the pool's width: bounded memory.
            pending = [r for r in results if isinstance(r, Future) and not r.done()]
            if len(pending) > settings.engine_pool_size:
                pending[0].result()
        return [r.result() if isinstance(r, Future) else r for r in results]


def _text_layer_entry(page: PageImage) -> dict[str, Any]:
    layer = page.text_layer or {}
    return {
        "page_number": page.number,
        "source": "text_layer",
        "width": page.width,
        "height": page.height,
        "text": layer.get("text", ""),
        "confidence": 1.0,
        "language": None,
        "word_count": layer.get("word_count", 0),
        "processing_time_ms": 0.0,
        "blocks": layer.get("blocks", []),
    }


def _ocr_pages_batched(
    engine: Any, document: Document, first: int, last: int, lang: str | None
) -> list[dict[str, Any]]:
    """Engines that take several images per request (Cloud Vision: 16) get the pages in
    batches: one request per batch instead of one per page. Rendering is bounded by the
    batch size; a page the engine fails on fails the range, as on the one-by-one path."""
    per_request = max(1, int(getattr(engine, "max_batch_images", 16)))
    entries: list[dict[str, Any] | None] = []
    batch: list[tuple[int, PageImage]] = []

    def flush() -> None:
        started = time.perf_counter()
        try:
            outputs = engine.recognize_many([page.image for _, page in batch], lang=lang)
        except errors.OcrError:
            raise
        except Exception as exc:
            log.exception("engine failed on a batch of pages", extra={"pages": len(batch)})
            raise errors.EngineError("The OCR engine failed on a batch of pages") from exc
        share_ms = (time.perf_counter() - started) * 1000 / len(batch)
        for (slot, page), output in zip(batch, outputs, strict=True):
            page.image = None
            if isinstance(output, errors.OcrError):
                raise output
            entries[slot] = _ocr_entry(page, output, share_ms)
        batch.clear()

    for page in document.pages(first, last):
        if page.text_layer is not None:
            entries.append(_text_layer_entry(page))
            continue
        entries.append(None)
        batch.append((len(entries) - 1, page))
        if len(batch) >= per_request:
            flush()
    if batch:
        flush()
    return [entry for entry in entries if entry is not None]


def _recognise(engines: Engines, engine: Any, page: PageImage, lang: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with engines.slot(engine, page.width * page.height):
            output = recognize_guarded(engine, page.image, lang, what=f"page {page.number}")
    finally:
        page.image = None  # release the bitmap as soon as the engine is done with it
    return _ocr_entry(page, output, (time.perf_counter() - started) * 1000)


def _ocr_entry(page: PageImage, output: Any, processing_time_ms: float) -> dict[str, Any]:
    text = output.text.strip()
    blocks: list[dict[str, Any]] = []
    for ocr_page in output.pages_as_dicts():
        blocks.extend(ocr_page.get("blocks", []))  # type: ignore[arg-type]
    return {
        "page_number": page.number,
        "source": "ocr",
        "width": page.width,
        "height": page.height,
        "text": text,
        "confidence": round(output.confidence, 4) if text else 0.0,
        "language": output.language if text else None,
        "word_count": output.word_count,
        "processing_time_ms": round(processing_time_ms, 1),
        "blocks": blocks,
    }


def page_ranges(page_count: int, shard_pages: int) -> list[tuple[int, int]]:
    return [
        (first, min(first + shard_pages - 1, page_count))
        for first in range(1, page_count + 1, shard_pages)
    ]


def document_confidence(pages: list[dict[str, Any]]) -> float:
    """Page confidences weighted by the length of each page's text."""
    return mean_confidence([(p.get("text", ""), float(p.get("confidence", 0.0))) for p in pages])
