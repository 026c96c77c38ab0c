"""Page images as PDF image objects, kept as they came wherever PDF can hold them.

A JPEG is embedded byte for byte (DCTDecode) and a plain PNG's compressed data is
reused as is (FlateDecode with the PNG predictor), both turned upright by the drawing
matrix rather than by re-encoding. Anything else is decoded once and stored losslessly
(Flate); its EXIF orientation is applied to the pixels.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageOps

#: Stored pixels are compressed at this zlib level: 1 is ~4x faster than 6 for ~10% more
#: bytes on scans, and rendering must stay a small fraction of the OCR time.
FLATE_LEVEL = 1
DEFAULT_DPI = 300.0
#: PDF viewers cap a page side at 200 inches (14,400 units); images are scaled to fit.
MAX_PAGE_UNITS = 14_400.0


@dataclass
class PdfImage:
    """One image XObject: dictionary entries, stream data, and how to draw it upright."""

    entries: bytes
    data: bytes
    width: int  # stored pixels
    height: int
    orientation: int = 1  # EXIF orientation still to apply when drawing (1: none)
    dpi: tuple[float, float] = (DEFAULT_DPI, DEFAULT_DPI)
    smask: PdfImage | None = None
    passthrough: bool = field(default=False)

    @property
    def upright_size(self) -> tuple[int, int]:
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    def page_size(self) -> tuple[float, float]:
        """The page's size in points: the image at its own resolution."""
        up_w, up_h = self.upright_size
        dx, dy = self.dpi if self.orientation not in (5, 6, 7, 8) else self.dpi[::-1]
        width, height = up_w * 72.0 / dx, up_h * 72.0 / dy
        shrink = max(width / MAX_PAGE_UNITS, height / MAX_PAGE_UNITS, 1.0)
        return width / shrink, height / shrink

    def draw_matrix(self, page_w: float, page_h: float) -> tuple[float, ...]:
        """``cm`` operands mapping the image's unit square onto the upright page.

        PDF draws the stored image with its first row at the top of the unit square;
        each EXIF orientation is one of the eight symmetries of that square.
        """
        w, h = page_w, page_h
        return {
            1: (w, 0, 0, h, 0, 0),
            2: (-w, 0, 0, h, w, 0),  # mirrored left-right
            3: (-w, 0, 0, -h, w, h),  # rotated 180
            4: (w, 0, 0, -h, 0, h),  # mirrored top-bottom
            5: (0, -h, -w, 0, w, h),  # transposed
            6: (0, -h, w, 0, 0, h),  # rotated 90 clockwise to be upright
            7: (0, h, w, 0, 0, 0),  # transversed
            8: (0, h, -w, 0, w, 0),  # rotated 90 counter-clockwise to be upright
        }[self.orientation]


def _dpi(info: dict[str, object]) -> tuple[float, float]:
    raw = info.get("dpi")
    try:
        dx, dy = (float(v) for v in raw)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return DEFAULT_DPI, DEFAULT_DPI
    # Many files carry 72 or 96 "DPI" from a camera or a screenshot, or nonsense: only
    # values a scanner would write are believed.
    if not (100 <= dx <= 4800 and 100 <= dy <= 4800):
        return DEFAULT_DPI, DEFAULT_DPI
    return dx, dy


def from_bytes(data: bytes, orientation: int) -> PdfImage:
    """The image file ``data`` (a single image), with the EXIF ``orientation`` intake read."""
    with Image.open(io.BytesIO(data)) as im:
        if im.format == "JPEG" and im.mode in ("L", "RGB", "CMYK"):
            return _jpeg(data, im, orientation)
        if im.format == "PNG":
            png = _png_passthrough(data, im, orientation)
            if png is not None:
                return png
        im.load()
        dpi = _dpi(im.info)
        upright = ImageOps.exif_transpose(im) if orientation != 1 else im
        return from_pil(upright, dpi)


def _jpeg(data: bytes, im: Image.Image, orientation: int) -> PdfImage:
    space = {"L": b"/DeviceGray", "RGB": b"/DeviceRGB", "CMYK": b"/DeviceCMYK"}[im.mode]
    entries = b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s" % (
        im.width,
        im.height,
        space,
    )
    entries += b" /BitsPerComponent 8 /Filter /DCTDecode"
    if im.mode == "CMYK" and "adobe" in im.info:
        entries += b" /Decode [1 0 1 0 1 0 1 0]"  # Adobe's CMYK JPEGs store inverted ink
    return PdfImage(entries, data, im.width, im.height, orientation, _dpi(im.info), None, True)


def _png_passthrough(data: bytes, im: Image.Image, orientation: int) -> PdfImage | None:
    """A non-interlaced PNG without transparency: its IDAT data is a valid PDF Flate
    stream with the PNG predictor, so it goes in without decoding."""
    try:
        width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    except struct.error:
        return None
    if interlace or color not in (0, 2, 3) or depth > 8 or "transparency" in im.info:
        return None
    idat = bytearray()
    palette = b""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IDAT":
            idat += body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IEND":
            break
        pos += 12 + length
    colors = 3 if color == 2 else 1
    if color == 0:
        space = b"/DeviceGray"
    elif color == 2:
        space = b"/DeviceRGB"
    else:
        if not palette:
            return None
        space = b"[/Indexed /DeviceRGB %d <%s>]" % (len(palette) // 3 - 1, palette.hex().encode())
    entries = (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s"
        b" /BitsPerComponent %d /Filter /FlateDecode"
        b" /DecodeParms << /Predictor 15 /Colors %d /BitsPerComponent %d /Columns %d >>"
        % (width, height, space, depth, colors, depth, width)
    )
    return PdfImage(entries, bytes(idat), width, height, orientation, _dpi(im.info), None, True)


def from_pil(im: Image.Image, dpi: tuple[float, float] | None = None) -> PdfImage:
    """An upright decoded image (a TIFF page, a GIF, a WebP...), stored losslessly."""
    dpi = dpi or _dpi(im.info)
    smask = None
    if im.mode == "P":
        if "transparency" in im.info:
            im = im.convert("RGBA")
        else:
            return _indexed(im, dpi)
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        from ocr_core.recognition.intake import _normalise_mode

        im = _normalise_mode(im)
    if im.mode in ("LA", "La", "RGBA", "RGBa", "PA"):
        alpha = im.getchannel("A")
        if alpha.getextrema() != (255, 255):
            smask = _raw(alpha, b"/DeviceGray", 8, dpi)
        im = im.convert("L" if im.mode in ("LA", "La") else "RGB")
    if im.mode == "1":
        return _raw(im, b"/DeviceGray", 1, dpi)
    if im.mode not in ("L", "RGB", "CMYK"):
        im = im.convert("RGB")
    if im.mode == "RGB":
        im = _gray_if_gray(im)
    space = {"L": b"/DeviceGray", "RGB": b"/DeviceRGB", "CMYK": b"/DeviceCMYK"}[im.mode]
    image = _raw(im, space, 8, dpi)
    image.smask = smask
    return image


def _gray_if_gray(im: Image.Image) -> Image.Image:
    """A grey scan saved as RGB (or RGBA) stored as one channel: a third of the bytes to
    deflate and to store, and the same pixels drawn."""
    from PIL import ImageChops

    red, green, blue = im.split()
    if ImageChops.difference(red, green).getbbox() or ImageChops.difference(red, blue).getbbox():
        return im
    return red


def _indexed(im: Image.Image, dpi: tuple[float, float]) -> PdfImage:
    palette = bytes(im.getpalette() or [])[: 256 * 3]
    space = b"[/Indexed /DeviceRGB %d <%s>]" % (len(palette) // 3 - 1, palette.hex().encode())
    return _raw(im, space, 8, dpi)


def _raw(im: Image.Image, space: bytes, bits: int, dpi: tuple[float, float]) -> PdfImage:
    entries = (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s"
        b" /BitsPerComponent %d /Filter /FlateDecode" % (im.width, im.height, space, bits)
    )
    return PdfImage(entries, zlib.compress(im.tobytes(), FLATE_LEVEL), im.width, im.height, 1, dpi)
