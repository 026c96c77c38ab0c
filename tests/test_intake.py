"""Image intake on real bytes: formats from signatures, orientation, alpha, hostile files."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from ocr_core import errors
from ocr_core.recognition.intake import load_image, sniff_format

from .conftest import image_bytes

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 50_000_000}


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    "fmt, ours",
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
        ("WEBP", "webp"),
    ],
)
def test_every_accepted_format_is_read_from_its_bytes(fmt: str, ours: str) -> None:
    source = Image.open(io.BytesIO(image_bytes("hello.jpg"))).convert("RGB")
    data = encode(source, fmt)
    image = load_image(data, **LIMITS)
    assert image.format == ours
    assert (image.width, image.height) == source.size
    assert image.image.mode in ("L", "RGB")


def test_format_comes_from_bytes_not_from_the_name() -> None:
    # A PNG's bytes are a PNG whatever the client calls the file.
    assert sniff_format(image_bytes("receipt.png")) == "PNG"
    with pytest.raises(errors.NotAnImage):
        load_image(image_bytes("not_an_image.jpg"), **LIMITS)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"%PDF-1.7\n1 0 obj\n", "unsupported_format"),
        (
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
            "unsupported_format",
        ),
        (b"<svg width='10' height='10'></svg>", "unsupported_format"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "unsupported_format"),
        (b"hello, world", "not_an_image"),
        (b"", "empty_file"),
    ],
)
def test_non_images_get_precise_errors(data: bytes, code: str) -> None:
    with pytest.raises(errors.OcrError) as caught:
        load_image(data, **LIMITS)
    assert caught.value.code == code
    assert caught.value.status in (400, 415)


def test_truncated_jpeg_is_corrupt() -> None:
    data = image_bytes("hello.jpg")
    with pytest.raises(errors.CorruptImage):
        load_image(data[: len(data) // 2], **LIMITS)


def test_png_with_broken_crc_is_corrupt() -> None:
    data = bytearray(image_bytes("receipt.png"))
    data[29] ^= 0xFF  # inside the IHDR chunk's CRC
    with pytest.raises(errors.CorruptImage):
        load_image(bytes(data), **LIMITS)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims an enormous picture: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


def test_decompression_bomb_is_refused_before_decoding() -> None:
    data = _png_header_only(100_000, 100_000)
    assert len(data) < 200
    with pytest.raises(errors.ImageTooLarge) as caught:
        load_image(data, **LIMITS)
    assert caught.value.status == 413


def test_tiny_image_is_refused() -> None:
    with pytest.raises(errors.ImageTooSmall):
        load_image(encode(Image.new("L", (1, 1), 255), "PNG"), **LIMITS)


def test_size_limit() -> None:
    with pytest.raises(errors.FileTooLarge):
        load_image(image_bytes("hello.jpg"), max_bytes=1000, max_pixels=50_000_000)


def test_exif_orientation_is_applied() -> None:
    image = load_image(image_bytes("rotated_exif.jpg"), **LIMITS)
    stored = Image.open(io.BytesIO(image_bytes("rotated_exif.jpg")))
    assert image.orientation == 6
    # Stored sideways (tall); upright after the EXIF rotation (wide).
    assert stored.height > stored.width
    assert (image.width, image.height) == (stored.height, stored.width)


def test_text_held_in_alpha_is_flattened_onto_white(samples) -> None:
    image = load_image((samples / "pyt_test_la.png").read_bytes(), **LIMITS)
    lo, hi = image.image.convert("L").getextrema()
    assert (lo, hi) == (0, 255), "alpha-only text must become dark text on a white page"


def test_sha256_and_metadata() -> None:
    data = image_bytes("receipt.png")
    meta = load_image(data, **LIMITS).metadata()
    import hashlib

    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["size_bytes"] == len(data)
    assert meta["format"] == "png" and meta["mime_type"] == "image/png"
