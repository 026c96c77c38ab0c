"""A JPEG's marker structure, read without decoding: how much work its decoding would be.

A JPEG is a list of segments (``FF xx`` + length) and, after each start-of-scan, coded
data that runs to the next marker. Two facts there bound a decoder's work before it
starts: the number of scans (each a pass over every block of the image) and the amount
of coded data (every block costs at least one bit of Huffman-coded data in the first scan
that covers it, so a 50-megapixel header over a few hundred bytes is a damaged file the
decoder would silently fill with grey, at the memory cost of 50 megapixels).
"""

from __future__ import annotations

from ocr_core import errors

SOS, EOI = 0xDA, 0xD9
#: Frame markers whose coding is Huffman (baseline, extended, progressive, lossless).
HUFFMAN_FRAMES = (0xC0, 0xC1, 0xC2, 0xC3)
#: Arithmetic-coded and hierarchical frames: rare, and arithmetic coding can describe a
#: whole image in almost no bytes, so the data-size floor cannot hold for them.
OTHER_FRAMES = (0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and the restart markers
#: The data-size floor is one bit per 8x8 block; allow half of it (slack for rounding,
#: and for subsampled or odd-sized images).
FLOOR_SHARE = 0.5


def check_structure(
    data: bytes, size: tuple[int, int], *, max_scans: int, huffman_only: bool = True
) -> None:
    """Raise ImageTooComplex past ``max_scans``, CorruptImage when the coded data is far too
    little for ``size``, UnsupportedFormat for arithmetic or hierarchical coding (with
    ``huffman_only=False`` such a file is let through the data-size floor instead: PDFium
    decodes them)."""
    scans = 0
    huffman = True
    coded_bytes = 0
    pos = 2  # after SOI
    end = len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            break  # garbage between segments: the decoder reports the damage
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == EOI:
            break
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if pos + 4 > end:
            break
        segment_end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in OTHER_FRAMES:
            huffman = False
        if marker in OTHER_FRAMES and huffman_only:
            raise errors.UnsupportedFormat(
                "Arithmetic-coded and hierarchical JPEG files are not supported; "
                "save the image as a baseline or progressive JPEG",
                detected="jpeg-arithmetic",
            )
        if marker == SOS:
            scans += 1
            if scans > max_scans:
                raise errors.ImageTooComplex(
                    f"The JPEG file has more than {max_scans} progressive scans; encoders "
                    "write about 10, and each one is another pass over the whole image",
                    limit_scans=max_scans,
                )
            data_end = _coded_data_end(data, segment_end)
            coded_bytes += data_end - segment_end
            segment_end = data_end
        pos = segment_end
    width, height = size
    blocks = -(-width // 8) * -(-height // 8)
    floor = int(blocks / 8 * FLOOR_SHARE)
    if huffman and coded_bytes < floor:
        raise errors.CorruptImage(
            f"The JPEG file is damaged or truncated: its header says {width}x{height} pixels "
            f"but it holds {coded_bytes} bytes of image data (at least {floor} needed)",
            width=width,
            height=height,
        )


def _coded_data_end(data: bytes, pos: int) -> int:
    """Where the coded data starting at ``pos`` ends: at the first marker that is neither
    a stuffed ``FF 00`` nor a restart marker (or at the end of the file)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos
