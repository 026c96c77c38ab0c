"""Property-based fuzzing of the image intake: whatever the bytes, load_image either returns
a decoded image or raises one of the project's own errors, quickly."""

from __future__ import annotations

import io
import time
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ocr_core import errors
from ocr_core.recognition.intake import load_image

from .conftest import image_bytes
from .hostile import gif_with_frames, png_bytes, png_with_size


def _small(fmt: str) -> bytes:
    im = Image.open(io.BytesIO(image_bytes("receipt.png"))).convert("RGB")
    im.thumbnail((160, 160))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


SEEDS = {
    "jpeg": _small("JPEG"),
    "png": _small("PNG"),
    "gif": _small("GIF"),
    "bmp": _small("BMP"),
    "tiff": _small("TIFF"),
    "webp": _small("WEBP"),
    "many-frames": gif_with_frames(50),
    "bomb": png_with_size(40_000, 40_000),
    "one-pixel": png_bytes(Image.new("L", (1, 1))),
}
LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 50_000_000}
FUZZ = settings(
    max_examples=150,
    deadline=2000,  # ms per example: any slow decode path is a finding too
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _intake(data: bytes) -> None:
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on some damaged files; not our concern
        try:
            image = load_image(data, **LIMITS)
        except errors.OcrError as exc:
            assert exc.permanent and 400 <= exc.status < 500, exc
        else:
            assert image.image.mode in ("L", "RGB") and image.width >= 8 and image.height >= 8
    assert time.monotonic() - started < 2


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 8))):
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "truncate":
            del data[at:]
        elif action == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_real_images_only_raise_our_errors(data: bytes) -> None:
    _intake(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_only_raise_our_errors(data: bytes) -> None:
    _intake(data)


@FUZZ
@given(
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\x00"]),
    st.binary(max_size=2048),
)
def test_valid_signatures_with_random_bodies_only_raise_our_errors(
    magic: bytes, rest: bytes
) -> None:
    _intake(magic + rest)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_truncation_of_each_seed_only_raises_our_errors(name: str) -> None:
    data = SEEDS[name]
    step = max(1, len(data) // 60)
    for cut in range(0, len(data), step):
        _intake(data[:cut])
