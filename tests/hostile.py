"""Hostile inputs, made from real images: shared by the hostile-input tests and the fuzz test."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

from .conftest import image_bytes

BOUNDARY = "hostile-boundary"


def multipart(
    parts: list[tuple[str, bytes | str, bytes]], boundary: str = BOUNDARY
) -> tuple[bytes, str]:
    """A multipart body from (field, filename as raw bytes or str, content) parts, built by
    hand so that file names can be anything a client can send, non-UTF-8 included."""
    out = bytearray()
    for field, filename, content in parts:
        raw_name = filename if isinstance(filename, bytes) else filename.encode("utf-8")
        out += f"--{boundary}\r\n".encode()
        out += (
            b'Content-Disposition: form-data; name="'
            + field.encode()
            + b'"; filename="'
            + raw_name
            + b'"\r\n'
        )
        out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def png_with_size(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims width x height (a decompression bomb
    as far as the header goes: the check must refuse it before decoding anything)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def png_broken_crc() -> bytes:
    """receipt.png with one bit of its image data's CRC flipped."""
    data = bytearray(image_bytes("receipt.png"))
    at = data.index(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 + length] ^= 0x01
    return bytes(data)


# The 1x1 frame of the smallest GIF: graphic control extension, image descriptor, LZW data.
_GIF_FRAME = (
    b"\x21\xf9\x04\x00\x0a\x00\x00\x00"
    + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"
    + b"\x02\x02\x44\x01\x00"
)


def gif_with_frames(extra_frames: int) -> bytes:
    """A GIF whose first frame says FRAME ZERO, followed by ``extra_frames`` more frames."""
    first = Image.new("L", (480, 120), 255)
    ImageDraw.Draw(first).text((16, 30), "FRAME ZERO", fill=0, font_size=48)
    buf = io.BytesIO()
    first.save(buf, "GIF")
    head = buf.getvalue()
    assert head.endswith(b";")
    return head[:-1] + _GIF_FRAME * extra_frames + b";"
