"""The searchable PDF: each page the original image (or the PDF's own page), with the
recognised words over it as invisible text, so that search and selection hit the words.

Two writers, both page by page:

- images and TIFF pages become new pages drawn at the image's own resolution (JPEG and
  plain PNG data embedded as they are: ``pdf_images``);
- a PDF keeps its own bytes untouched and gets an *incremental update* appended: per
  page, one new content stream with the text and the page dictionary pointing at it.
  Nothing of the original is re-encoded or even rewritten, and a reader that ignores
  the update still sees the original file. pikepdf (qpdf) reads the page tree; a file
  that qpdf had to repair, or an encrypted one, is first written anew by qpdf.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from ocr_core import __version__
from ocr_core.recognition.render.glyphless import FONT_PARTS, CodeMap, font_objects, text_operators
from ocr_core.recognition.render.pages import RenderPage
from ocr_core.recognition.render.pdf_images import PdfImage, from_bytes, from_pil
from ocr_core.recognition.render.pdf_syntax import PdfWriter, literal

FONT_KEY = "OCRText"
PRODUCER = f"ocr-pipeline {__version__}"
Matrix = tuple[float, float, float, float, float, float]


def render_pdf(
    result: dict[str, Any], pages: Iterator[RenderPage], source: bytes
) -> Iterator[bytes]:
    """The searchable PDF of ``result`` over ``source`` (the bytes that were OCRed)."""
    if source[:5] == b"%PDF-":
        return _pdf_with_text(source, pages)
    document = result.get("document")
    if isinstance(document, dict) and document.get("format") == "tiff":
        return _image_pdf(_tiff_images(source, pages))
    orientation = int((result.get("image") or {}).get("orientation_applied") or 1)
    return _image_pdf((from_bytes(source, orientation), page) for page in pages)


# --- pages made from images ----------------------------------------------------------------


def _tiff_images(
    source: bytes, pages: Iterator[RenderPage]
) -> Iterator[tuple[PdfImage, RenderPage]]:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(source), formats=["TIFF"]) as tiff:
        for page in pages:
            tiff.seek(page.number - 1)
            frame = tiff.copy()
            dpi = tiff.info.get("dpi")
            upright = ImageOps.exif_transpose(frame) or frame
            if dpi is not None:
                upright.info["dpi"] = dpi
            yield from_pil(upright), page


def _image_pdf(items: Iterator[tuple[PdfImage, RenderPage]]) -> Iterator[bytes]:
    w = PdfWriter()
    w.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    catalog, root, info = w.reserve(), w.reserve(), w.reserve()
    font = {part: w.reserve() for part in FONT_PARTS}
    codes = CodeMap()
    kids: list[int] = []
    for image, page in items:
        page_w, page_h = image.page_size()
        frame_w, frame_h = (
            (page.width, page.height) if page.width and page.height else (image.upright_size)
        )
        image_number = w.reserve()
        entries = image.entries
        if image.smask is not None:
            smask_number = w.reserve()
            w.stream(smask_number, image.smask.entries, image.smask.data)
            entries += b" /SMask %d 0 R" % smask_number
        w.stream(image_number, entries, image.data)
        draw = (
            "q " + " ".join(_num(v) for v in image.draw_matrix(page_w, page_h)) + " cm /Im0 Do Q\n"
        )
        scale: Matrix = (page_w / frame_w, 0.0, 0.0, page_h / frame_h, 0.0, 0.0)
        text = text_operators(_page_lines(page), frame_h, scale, FONT_KEY, codes)
        content = w.reserve()
        w.stream(content, b"", draw.encode("ascii") + text, compress=True)
        page_number = w.reserve()
        w.obj(
            page_number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R"
            b" /Resources << /XObject << /Im0 %d 0 R >> /Font << /%s %d 0 R >> >> >>"
            % (
                root,
                _num(page_w).encode(),
                _num(page_h).encode(),
                content,
                image_number,
                FONT_KEY.encode(),
                font["type0"],
            ),
        )
        kids.append(page_number)
        yield w.drain()
    _write_font(w, font, codes)
    w.obj(
        root,
        b"<< /Type /Pages /Count %d /Kids [%s] >>"
        % (len(kids), b" ".join(b"%d 0 R" % k for k in kids)),
    )
    w.obj(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % root)
    w.obj(info, b"<< /Producer %s >>" % literal(PRODUCER))
    w.xref_table(b"/Root %d 0 R /Info %d 0 R" % (catalog, info))
    yield w.drain()


def _write_font(w: PdfWriter, numbers: dict[str, int], codes: CodeMap) -> None:
    for number, entries, data in font_objects(numbers, codes):
        if data is None:
            w.obj(number, entries)
        else:
            w.stream(number, entries.removeprefix(b"<< ").removesuffix(b" >>"), data)


def _page_lines(page: RenderPage) -> Iterator[list[dict[str, Any]]]:
    for _, lines in page.lines():
        for line in lines:
            yield list(line.get("words") or [])


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


# --- a PDF's own pages ---------------------------------------------------------------------

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_OBJ_HEADER = re.compile(rb"\s*\d+\s+\d+\s+obj\b")


def _last_xref(source: bytes) -> tuple[int, bool] | None:
    """(offset of the last cross-reference section, whether it is a stream), or None
    when the file's tail does not say where it is (then the file was repaired)."""
    match = _STARTXREF.search(source[-1024:])
    if match is None:
        return None
    offset = int(match.group(1))
    if source[offset : offset + 4] == b"xref":
        return offset, False
    if _OBJ_HEADER.match(source, offset):
        return offset, True
    return None


def _pdf_with_text(source: bytes, pages: Iterator[RenderPage]) -> Iterator[bytes]:
    import pikepdf  # only what renders PDFs from PDFs needs qpdf

    pdf = pikepdf.open(io.BytesIO(source))
    try:
        last = _last_xref(source)
        if pdf.is_encrypted or last is None or pdf.get_warnings():
            # No sound cross-reference to append to (qpdf repaired it), or encrypted:
            # qpdf writes the file anew first, streams copied as they are (not decoded,
            # so not re-encoded), unencrypted; the update then goes on that copy.
            clean = io.BytesIO()
            pdf.save(clean, encryption=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
            pdf.close()
            source = clean.getvalue()
            pdf = pikepdf.open(io.BytesIO(source))
            last = _last_xref(source)
            if last is None:
                raise ValueError("qpdf wrote a file without a cross-reference")
        yield from _updated(pdf, source, last, pages)
    finally:
        pdf.close()


def _updated(
    pdf: Any, source: bytes, last: tuple[int, bool], pages: Iterator[RenderPage]
) -> Iterator[bytes]:
    import pikepdf

    base = source if source.endswith((b"\n", b"\r")) else source + b"\n"
    yield base
    prev, xref_is_stream = last
    w = PdfWriter(start_offset=len(base), first_number=int(pdf.trailer.Size))
    font = {part: w.reserve() for part in FONT_PARTS}
    save, restore = w.reserve(), w.reserve()
    # The page's own content may leave the graphics state changed (a scale, a clip):
    # wrapped in q/Q, it cannot move the text drawn after it.
    w.stream(save, b"", b"q\n")
    w.stream(restore, b"", b"Q\n")
    codes = CodeMap()
    generations: dict[int, int] = {}
    for page in pages:
        if page.source == "text_layer" or not any(True for _ in page.words()):
            continue  # the page has its text already, or there is none to add
        obj = pdf.pages[page.number - 1].obj
        number, generation = obj.objgen
        content = w.reserve()
        matrix = _frame_matrix(obj, page.width, page.height)
        resources = _inherited(obj, "/Resources")
        fonts = resources.get("/Font") if resources is not None else None
        key = FONT_KEY
        while fonts is not None and pikepdf.Name("/" + key) in fonts:
            key += "X"
        w.stream(
            content,
            b"",
            text_operators(_page_lines(page), page.height, matrix, key, codes),
            compress=True,
        )
        old = obj.get("/Contents")
        if old is None:
            parts: list[bytes] = []
        elif isinstance(old, pikepdf.Array):
            parts = [item.unparse() for item in old]
        else:
            parts = [old.unparse()]
        contents = b"[%d 0 R %s %d 0 R %d 0 R]" % (save, b" ".join(parts), restore, content)
        entries = [
            pikepdf.Name(k).unparse() + b" " + _unparse(obj.get(k))
            for k in obj.keys()  # noqa: SIM118 - a pikepdf Dictionary
            if k not in ("/Contents", "/Resources")
        ]
        entries.append(b"/Contents " + contents)
        entries.append(b"/Resources " + _resources_with(resources, key, font["type0"]))
        w.obj(number, b"<< " + b"\n".join(entries) + b" >>", generation)
        generations[number] = generation
        yield w.drain()
    _write_font(w, font, codes)
    trailer = [b"/Root " + pdf.trailer.get("/Root").unparse(), b"/Prev %d" % prev]
    for key in ("/Info", "/ID"):
        value = pdf.trailer.get(key)
        if value is not None:
            trailer.append(key.encode() + b" " + value.unparse())
    if xref_is_stream:
        w.xref_stream(b" ".join(trailer), generations)
    else:
        w.xref_table(b" ".join(trailer), generations)
    yield w.drain()


def _unparse(value: Any) -> bytes:
    """PDF syntax of a value pikepdf handed over: references stay references. Scalars
    come as Python numbers and booleans, so they are wrapped to be written."""
    import pikepdf

    if isinstance(value, pikepdf.Object):
        return bytes(value.unparse())
    return bytes(pikepdf.Array([value]).unparse()).strip()[1:-1].strip()


def _inherited(obj: Any, key: str) -> Any:
    """A page attribute, from the page or the nearest page-tree node that has it."""
    node, hops = obj, 0
    while node is not None and hops < 64:
        value = node.get(key)
        if value is not None:
            return value
        node, hops = node.get("/Parent"), hops + 1
    return None


def _resources_with(resources: Any, key: str, font_number: int) -> bytes:
    import pikepdf

    entries: list[bytes] = []
    font_entry = b"/%s %d 0 R" % (key.encode(), font_number)
    had_fonts = False
    for name in list(resources.keys()) if resources is not None else []:
        value = resources.get(name)
        if name == "/Font" and isinstance(value, pikepdf.Dictionary):
            had_fonts = True
            fonts = [
                pikepdf.Name(k).unparse() + b" " + _unparse(value.get(k))
                for k in value.keys()  # noqa: SIM118
            ]
            entries.append(b"/Font << " + b" ".join([*fonts, font_entry]) + b" >>")
        else:
            entries.append(pikepdf.Name(name).unparse() + b" " + _unparse(value))
    if not had_fonts:
        entries.append(b"/Font << " + font_entry + b" >>")
    return b"<< " + b" ".join(entries) + b" >>"


def _box(obj: Any) -> tuple[float, float, float, float]:
    """The page's visible box: the crop box inside the media box, as PDFium draws it."""
    media = _rect(_inherited(obj, "/MediaBox")) or (0.0, 0.0, 612.0, 792.0)
    crop = _rect(_inherited(obj, "/CropBox"))
    if crop is None:
        return media
    box = (
        max(crop[0], media[0]),
        max(crop[1], media[1]),
        min(crop[2], media[2]),
        min(crop[3], media[3]),
    )
    return box if box[2] > box[0] and box[3] > box[1] else media


def _rect(value: Any) -> tuple[float, float, float, float] | None:
    try:
        x0, y0, x1, y1 = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _frame_matrix(obj: Any, frame_w: int, frame_h: int) -> Matrix:
    """Maps the page as rendered for OCR (``frame_w`` x ``frame_h`` pixels, y up, the
    page's /Rotate applied) onto its default user space."""
    llx, lly, urx, ury = _box(obj)
    try:
        rotate = int(_inherited(obj, "/Rotate") or 0) % 360
    except (TypeError, ValueError):
        rotate = 0
    rotate = (rotate // 90) * 90
    box_w, box_h = urx - llx, ury - lly
    disp_w, disp_h = (box_h, box_w) if rotate in (90, 270) else (box_w, box_h)
    ku, kv = disp_w / max(frame_w, 1), disp_h / max(frame_h, 1)
    return {
        0: (ku, 0.0, 0.0, kv, llx, lly),
        90: (0.0, ku, -kv, 0.0, llx + disp_h, lly),
        180: (-ku, 0.0, 0.0, -kv, urx, ury),
        270: (0.0, -ku, kv, 0.0, llx, ury),
    }[rotate]
