"""Real text images of exact byte sizes, for transport tests: the pixels are one of the
project's own photos (so the OCR text is checkable), the size is made up with JPEG comment
segments, which every decoder skips."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image

from .conftest import TEST_IMAGES

#: What test_images/phone_photo.jpg says, a few words OCR gets right at every size.
PHONE_WORDS = ("printer", "second", "floor", "invoices", "friday", "marco")
HELLO_WORDS = ("hello", "world", "optical", "character", "recognition")


def pad_jpeg(data: bytes, size: int) -> bytes:
    """The same JPEG, exactly ``size`` bytes long: COM segments right after its SOI marker."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    need = size - len(data)
    if need < 0 or 0 < need < 4:
        raise ValueError(f"cannot pad {len(data)} bytes to {size}")
    segments = []
    while need:
        body = min(need - 4, 65533)
        if 0 < need - body - 4 < 4:  # leave room for one more whole segment
            body -= 4
        segments.append(b"\xff\xfe" + (body + 2).to_bytes(2, "big") + b"p" * body)
        need -= body + 4
    return data[:2] + b"".join(segments) + data[2:]


@cache
def _encoded(name: str, scale: float, quality: int) -> bytes:
    with Image.open(TEST_IMAGES / name) as image:
        image = image.convert("RGB")
        if scale != 1:
            image = image.resize((int(image.width * scale), int(image.height * scale)))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        return out.getvalue()


def phone_photo(size: int) -> bytes:
    """The phone photo at ``size`` bytes (from 1 MB up), its pixels re-encoded to fit."""
    data = (TEST_IMAGES / "phone_photo.jpg").read_bytes()
    if size < len(data):
        data = _encoded("phone_photo.jpg", 0.75, 80)
    return pad_jpeg(data, size)


def hello(size: int) -> bytes:
    """test_images/hello.jpg at ``size`` bytes (from 10 KB up)."""
    data = (TEST_IMAGES / "hello.jpg").read_bytes()
    if size < len(data):
        data = _encoded("hello.jpg", 0.8, 50)
    return pad_jpeg(data, size)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
