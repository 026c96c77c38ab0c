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


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment of a JPEG written by Pillow; a scan's segment
    runs to the end of its coded data."""
    out, pos = [], 2
    while pos < len(data):
        marker = data[pos + 1]
        if marker == 0xD9:
            out.append((marker, pos, pos + 2))
            break
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
        out.append((marker, pos, end))
        pos = end
    return out


def scan_bomb(scans: int, side: int = 4000) -> bytes:
    """A progressive JPEG of a blank ``side`` x ``side`` page whose last scan (a refinement
    pass that costs 31 bytes) is repeated until the file has ``scans`` scans: a decoder
    makes a pass over every block for each (20,000 scans: 0.7 MB, minutes to decode)."""
    buf = io.BytesIO()
    Image.new("L", (side, side), 255).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    scan_segments = [s for s in jpeg_segments(data) if s[0] == 0xDA]
    _, start, end = scan_segments[-1]
    extra = data[start:end] * (scans - len(scan_segments))
    return data[:end] + extra + data[end:]


def tiff_holding_jpeg(jpeg: bytes, side: int) -> bytes:
    """A one-strip grey TIFF (Compression 7) whose strip is ``jpeg``, whole: libtiff hands
    the strip to libjpeg, progressive scans and all."""
    tags = [  # (tag, type, value): 3 SHORT, 4 LONG
        (256, 4, side),  # ImageWidth
        (257, 4, side),  # ImageLength
        (258, 3, 8),  # BitsPerSample
        (259, 3, 7),  # Compression: JPEG
        (262, 3, 1),  # PhotometricInterpretation: BlackIsZero
        (273, 4, 8 + 2 + 9 * 12 + 4),  # StripOffsets: right after the header and 9-entry IFD
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, side),  # RowsPerStrip
        (279, 4, len(jpeg)),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + jpeg


def jpeg_claiming(width: int, height: int) -> bytes:
    """hello.jpg's header with its frame saying ``width`` x ``height`` and a few bytes of
    its coded data: what a decoder fills with grey at the memory cost of the whole size."""
    data = image_bytes("hello.jpg")
    segments = jpeg_segments(data)
    out = bytearray()
    for marker, start, end in segments:
        segment = bytearray(data[start:end])
        if marker in (0xC0, 0xC2):
            segment[5:9] = struct.pack(">HH", height, width)
        if marker == 0xDA:
            length = int.from_bytes(segment[2:4], "big")
            segment = segment[: 2 + length + 16]
            out += segment
            break
        out += segment
    return bytes(data[:2] + out + b"\xff\xd9")


def bmp_with_width(width: int) -> bytes:
    """A real 100x50 BMP whose header says ``width`` (a negative width is invalid)."""
    buf = io.BytesIO()
    Image.new("L", (100, 50), 255).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    data[18:22] = struct.pack("<i", width)
    return bytes(data)
