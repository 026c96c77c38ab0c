"""Multi-page documents the tests make themselves: Pillow writes image-only PDFs and TIFFs,
and a few lines below write the PDFs Pillow cannot (a text layer, encryption, damage).

Each page carries the words ``Page N`` plus a line of its own, so a test can check page
order and the text of every page.
"""

from __future__ import annotations

import io
import zlib

from PIL import Image, ImageDraw, ImageFont

WORDS = ["apple", "river", "garden", "window", "silver", "orange", "marble", "candle"]


def page_lines(number: int) -> list[str]:
    return [f"Page {number}", f"The {WORDS[(number - 1) % len(WORDS)]} section"]


FILLER = "the quick brown fox jumps over the lazy dog while the band plays on"


def page_image(number: int, size: int = 40, filler: int = 0) -> Image.Image:
    """A page with its two lines, plus ``filler`` lines of prose for a page that takes the
    engine a while (the crash tests need pages that are not done in a blink)."""
    font = ImageFont.load_default(size=size)
    lines = page_lines(number) + [FILLER] * filler
    width = max(int(font.getbbox(line)[2]) for line in lines) + 80
    line_h = int(size * 1.5)
    im = Image.new("L", (width, line_h * len(lines) + 80), 255)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * line_h), line, fill=0, font=font)
    return im


def image_pdf(pages: int, resolution: float = 300.0, filler: int = 0) -> bytes:
    """A scanned-looking PDF: one image per page, no text layer. At ``resolution`` DPI the
    page renders back at the image's own pixel size."""
    images = [page_image(n, filler=filler).convert("RGB") for n in range(1, pages + 1)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=resolution)
    return out.getvalue()


def multipage_tiff(pages: int) -> bytes:
    images = [page_image(n) for n in range(1, pages + 1)]
    out = io.BytesIO()
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw")
    return out.getvalue()


def _pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """Serialise numbered objects (1-based, object 1 the catalog) with a correct xref."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def text_pdf(pages: int) -> bytes:
    """A born-digital PDF: every page's words are real text (Helvetica), no images."""
    count = pages
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n in range(1, count + 1):
        content_number = 4 + 2 * (n - 1) + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 150] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_number
        )
        first, second = (line.encode() for line in page_lines(n))
        stream = b"BT /F1 18 Tf 20 100 Td (%s) Tj 0 -30 Td (%s) Tj ET" % (first, second)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    return _pdf(objects)


def encrypted_pdf() -> bytes:
    """A PDF behind a user password (standard security handler): unreadable without it."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 150] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>" % (b"11" * 32, b"22" * 32),
    ]
    ident = b"<%s>" % (b"ab" * 16)
    return _pdf(objects, b"/Encrypt 4 0 R /ID [%s %s] " % (ident, ident))


def broken_pdf() -> bytes:
    """Starts like a PDF, then nothing a reader can use (a download cut short)."""
    return image_pdf(2)[:400]


def pdf_with_image(width: int, height: int, jpeg: bytes | None = None) -> bytes:
    """One letter page drawing one grey ``width`` x ``height`` image (Flate, all white:
    a few hundred KB whatever its size; or the JPEG file ``jpeg``, DCTDecode). PDFium
    decodes an image whole to draw it, at the memory cost of every pixel, however small
    the page renders."""
    if jpeg is None:
        packer = zlib.compressobj(9)
        row = b"\xff" * width
        chunks = [packer.compress(row * min(256, height - y)) for y in range(0, height, 256)]
        stream, codec = b"".join(chunks) + packer.flush(), b"/FlateDecode"
    else:
        stream, codec = jpeg, b"/DCTDecode"
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter %s /Length %d >>\nstream\n%s\nendstream"
        % (width, height, codec, len(stream), stream),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    return _pdf(objects)
