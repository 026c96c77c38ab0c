"""Image intake: untrusted bytes in, one oriented, decoded picture out (or an OcrError).

The format is read from the bytes' signature, never from a file name or a client's
Content-Type. Pixel counts are checked from the header before any pixel is decoded, so a
decompression bomb costs nothing. Every decoder failure becomes an ``OcrError``.

``check_header`` does every check that needs no decoding (the format, the header's sides,
and for a JPEG its markers: how many scans, how much coded data) in milliseconds, before
the image waits for an engine slot: a file whose decoding would cost far more than its
size says (thousands of progressive scans, a 50-megapixel header over a few bytes of data)
is refused there, and never holds a slot a normal image needs.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps

from ocr_core import errors
from ocr_core.logs import get_logger
from ocr_core.recognition.jpeg import check_structure

log = get_logger("intake")

#: Formats the engines take, by the name Pillow gives them -> (our name, MIME type).
SUPPORTED = {
    "JPEG": ("jpeg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tiff", "image/tiff"),
    "WEBP": ("webp", "image/webp"),
}

MIN_SIDE = 8
MAX_SIDE = 30_000
#: Longest side over shortest side. A line of text scanned alone is rarely past 50:1
#: (the corpus' line image is about 25:1); 10,000 x 10 slivers are junk or an attack.
MAX_ASPECT_RATIO = 100
#: Bump when intake or preprocessing changes what an engine sees: it is part of the
#: result cache's key, so old cached answers are not served for new behaviour.
PREPROCESSING_VERSION = "3"
EXIF_ORIENTATION = 0x0112
#: Scans a progressive JPEG may have. Encoders write 6-10 (libjpeg's default scripts:
#: 6 grey, 10 colour); each scan is a pass over every block, so 20,000 scans of a
#: 4000x4000 image decoded for 250 s here. libjpeg's own djpeg offers -maxscans for this.
MAX_JPEG_SCANS = 100


def sniff_format(data: bytes) -> str:
    """Pillow's format name for ``data`` from its signature, or raise.

    Raises UnsupportedFormat for files we recognise but do not read as images (PDF, SVG,
    HEIC...) and NotAnImage for everything else.
    """
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    other = _known_unsupported(data)
    if other:
        raise errors.UnsupportedFormat(
            f"{other} files are not supported here; send a JPEG, PNG, GIF, BMP, TIFF or WebP image",
            detected=other.lower(),
        )
    raise errors.NotAnImage(
        "The file is not an image: send a JPEG, PNG, GIF, BMP, TIFF or WebP image"
    )


def _known_unsupported(data: bytes) -> str | None:
    head = data[:64]
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith(b"%!PS"):
        return "PostScript"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "AVIF" if brand in (b"avif", b"avis") else "HEIC"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG 2000"
    text = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "SVG"
    return None


@dataclass
class IntakeImage:
    """A decoded image ready for an engine: mode L or RGB, upright, alpha flattened."""

    image: Image.Image
    format: str
    mime_type: str
    width: int
    height: int
    orientation: int
    sha256: str
    size_bytes: int

    def metadata(self) -> dict[str, object]:
        return {
            "format": self.format,
            "mime_type": self.mime_type,
            "width": self.width,
            "height": self.height,
            "orientation_applied": self.orientation,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
        }


def check_header(data: bytes, *, max_bytes: int, max_pixels: int) -> int:
    """Every check that decodes no pixel; returns the image's pixel count. Raises the
    OcrError ``load_image`` would, in milliseconds (call it before taking a slot)."""
    if not data:
        raise errors.EmptyFile("The uploaded file is empty")
    if len(data) > max_bytes:
        raise errors.FileTooLarge(
            f"The file is {len(data)} bytes; the limit is {max_bytes} bytes", limit_bytes=max_bytes
        )
    pil_format = sniff_format(data)
    our_format = SUPPORTED[pil_format][0]
    if pil_format == "PNG":
        _check_png_chunks(data)
    elif pil_format == "BMP":
        _check_bmp_header(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pil_format]) as im:
                size = im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise errors.ImageTooLarge(
            f"The image has too many pixels; the limit is {max_pixels}", limit_pixels=max_pixels
        ) from exc
    except Exception as exc:
        log.info(
            "image header unreadable", extra={"format": our_format, "error": type(exc).__name__}
        )
        raise errors.CorruptImage(
            f"The {our_format.upper()} file is damaged or truncated and cannot be decoded"
        ) from exc
    _check_size(size, max_pixels)
    if pil_format == "JPEG":
        check_structure(data, size, max_scans=MAX_JPEG_SCANS)
    return size[0] * size[1]


def load_image(data: bytes, *, max_bytes: int, max_pixels: int) -> IntakeImage:
    """Validate and decode ``data``; every failure is an ``OcrError`` subclass."""
    check_header(data, max_bytes=max_bytes, max_pixels=max_pixels)
    pil_format = sniff_format(data)
    our_format, mime = SUPPORTED[pil_format]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[pil_format])
            _check_size(im.size, max_pixels)
            im.seek(0)
            im.load()
            orientation = _orientation(im)
            upright = ImageOps.exif_transpose(im) if orientation != 1 else im
            prepared = _normalise_mode(upright)
    except errors.OcrError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise errors.ImageTooLarge(
            f"The image has too many pixels; the limit is {max_pixels}", limit_pixels=max_pixels
        ) from exc
    except Exception as exc:
        log.info("image decode failed", extra={"format": our_format, "error": type(exc).__name__})
        raise errors.CorruptImage(
            f"The {our_format.upper()} file is damaged or truncated and cannot be decoded"
        ) from exc
    return IntakeImage(
        image=prepared,
        format=our_format,
        mime_type=mime,
        width=prepared.width,
        height=prepared.height,
        orientation=orientation,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


_PNG_CRITICAL = (b"IHDR", b"PLTE", b"IDAT", b"IEND")


def pixel_count(data: bytes) -> int:
    """Width x height from the file's header, without decoding it; 0 when the header
    cannot be read (``load_image`` then says why)."""
    try:
        pil_format = sniff_format(data)
        with Image.open(io.BytesIO(data), formats=[pil_format]) as im:
            return int(im.width) * int(im.height)
    except Exception:  # noqa: BLE001 - a header PIL cannot read is load_image's to report
        return 0


def _check_png_chunks(data: bytes) -> None:
    """Verify the CRC of every critical PNG chunk, as libpng does.

    Pillow checks only the chunks it parses itself, not the image data, so a flipped bit
    in IDAT would be decoded into silently wrong pixels. A few ms for a 10 MB file.
    """
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 8 + length
        if end + 4 > len(data):
            return  # truncated: the decoder reports it as such
        if kind in _PNG_CRITICAL:
            crc = int.from_bytes(data[end : end + 4], "big")
            if zlib.crc32(data[pos + 4 : end]) != crc:
                raise errors.CorruptImage(
                    f"The PNG file is damaged: the CRC of its {kind.decode('ascii')} chunk "
                    "does not match"
                )
        if kind == b"IEND":
            return
        pos = end + 4


def _check_bmp_header(data: bytes) -> None:
    """Pillow reads a BMP's width as unsigned: a negative one (invalid) looks like four
    billion pixels and would be refused as too large instead of as the damage it is."""
    header_size = int.from_bytes(data[14:18], "little")
    if header_size >= 40 and len(data) >= 26:
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = int.from_bytes(data[22:26], "little", signed=True)
        if width <= 0 or height in (0, -(2**31)):
            raise errors.CorruptImage(
                f"The BMP file is damaged: its header says {width}x{height} pixels"
            )


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise errors.CorruptImage(f"The image header says {width}x{height} pixels")
    if width * height > max_pixels or max(width, height) > MAX_SIDE:
        raise errors.ImageTooLarge(
            f"The image is {width}x{height} pixels; the limit is {max_pixels} pixels "
            f"and {MAX_SIDE} pixels a side",
            width=width,
            height=height,
            limit_pixels=max_pixels,
        )
    if min(width, height) < MIN_SIDE:
        raise errors.ImageTooSmall(
            f"The image is {width}x{height} pixels; text needs at least {MIN_SIDE} pixels a side",
            width=width,
            height=height,
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise errors.InvalidDimensions(
            f"The image is {width}x{height} pixels; sides more than {MAX_ASPECT_RATIO} times "
            "longer than the other are not read",
            width=width,
            height=height,
            max_aspect_ratio=MAX_ASPECT_RATIO,
        )


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not sink a readable image
        return 1
    return value if 1 <= value <= 8 else 1


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Grey or RGB on white: engines misread alpha, palettes and 16-bit samples."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        im = (
            ImageOps.autocontrast(im.convert("F").convert("L")) if im.mode == "F" else _scale_16(im)
        )
    if im.mode in ("LA", "RGBA") and im.getchannel("A").getextrema() == (255, 255):
        # Fully opaque (screenshots and renders often carry an unused alpha channel):
        # dropping it gives the same pixels as compositing, in a fraction of the time.
        im = im.convert("L" if im.mode == "LA" else "RGB")
    if im.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        # Composite onto white: text drawn only through the alpha channel (black, fully
        # transparent background) becomes dark text on white instead of a black page.
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode == "1":
        im = im.convert("L")
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    return im


def _scale_16(im: Image.Image) -> Image.Image:
    lo, hi = im.getextrema()
    span = max(1, hi - lo)
    return im.point(lambda v: (v - lo) * 255 / span).convert("L")
