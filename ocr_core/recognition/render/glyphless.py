"""The invisible text layer of a searchable PDF: Tesseract's GlyphLessFont and the text
operators that place each recognised word over its box.

The font has one empty glyph, 500/1000 em wide, that every character code maps to, so a
word's width is ``0.5 x characters x size`` and the text matrix can stretch it to its box
exactly. The characters themselves survive copy and paste through the ToUnicode map:
codes are UTF-16 code units (Identity-H), and characters beyond the Basic Multilingual
Plane get codes from the (otherwise unused) surrogate range, mapped one by one.
"""

from __future__ import annotations

import base64
import functools
import zlib
from collections.abc import Iterable
from typing import Any

#: Tesseract's ``pdf.ttf`` (GlyphLessFont, Apache-2.0, the font OCRmyPDF ships too):
#: 572 bytes, two glyphs, the second empty and 1024/2048 em wide.
FONT_FILE = base64.b64decode(
    "AAEAAAAKAIAAAwAgT1MvMlbeyJQAAAEoAAAAYGNtYXAACgA0AAABkAAAAB5nbHlmFSJBJAAAAbgAAAAYaGVhZAt48WUAAACs"
    "AAAANmhoZWEMAgQCAAAA5AAAACRobXR4BAAAAAAAAYgAAAAIbG9jYQAMAAAAAAGwAAAABm1heHAABAAFAAABCAAAACBuYW1l"
    "8usW2gAAAdAAAABLcG9zdAABAAEAAAIcAAAAIAABAAAAAQAAsJRxEF8PPPUEBwgAAAAAAM+a/G4AAAAA1MOn8gAAAAAEAAgA"
    "AAAAEAACAAAAAAAAAAEAAAgA//8AAAQAAAAAAAQAAAEAAAAAAAAAAAAAAAAAAAACAAEAAAACAAQAAQAAAAAAAQAAAAAAAAAA"
    "AAAAAAAAAAAAAwAAAZAABQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAUAAQABAAAAAAAAAAAAAAAAAAAAAAAAAAAAR09PRwBA"
    "AAAAAAAB//8AAAABAAGAAAAAAAAAAAAAAAAAAAABAAAAAAAABAAAAAAAAAIAAQAAAAAAFAADAAAAAAAUAAYACgAAAAAAAAAA"
    "AAAAAAAMAAAAAQAAAAAEAAgAAAMAADEhESEEAPwACAAAAAADACoAAAADAAAABQAWAAAAAQAAAAAABQALABYAAwABBAkABQAW"
    "AAAAVgBlAHIAcwBpAG8AbgAgADEALgAwVmVyc2lvbiAxLjAAAAEAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAA="
)
#: Glyph width in text space units (thousandths of the font size).
GLYPH_WIDTH = 500
SURROGATES = range(0xD800, 0xE000)
SPACE = "0020"


class CodeMap:
    """Character -> two-byte code, with the codes handed out for characters past U+FFFF."""

    def __init__(self) -> None:
        self.extra: dict[str, int] = {}

    def code(self, ch: str) -> int:
        point = ord(ch)
        if point <= 0xFFFF and point not in SURROGATES:
            return point
        code = self.extra.get(ch)
        if code is None:
            if len(self.extra) >= len(SURROGATES):
                return 0xFFFD  # 2,048 distinct astral characters in one document: give up
            code = self.extra[ch] = SURROGATES.start + len(self.extra)
        return code

    def hex(self, text: str) -> str:
        return "".join(f"{self.code(ch):04X}" for ch in text)

    def to_unicode_cmap(self) -> bytes:
        """A CMap mapping every BMP code to itself and each extra code to its character."""
        ranges = [
            f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>"
            for hi in range(256)
            if not (0xD8 <= hi <= 0xDF)
        ]
        body = []
        for start in range(0, len(ranges), 100):  # at most 100 entries per block
            chunk = ranges[start : start + 100]
            body.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
        chars = [(code, ch) for ch, code in self.extra.items()]
        for start in range(0, len(chars), 100):
            chunk = chars[start : start + 100]
            lines = [f"<{code:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for code, ch in chunk]
            body.append(f"{len(chunk)} beginbfchar\n" + "\n".join(lines) + "\nendbfchar")
        return (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            + "\n".join(body)
            + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        ).encode("ascii")


def font_objects(numbers: dict[str, int], codes: CodeMap) -> list[tuple[int, bytes, bytes | None]]:
    """The font's objects as ``(number, dictionary, stream data or None)``; ``numbers``
    holds the object numbers for type0, cidfont, descriptor, file, cidtogid, tounicode."""
    n = numbers
    to_unicode = _compressed_cmap(tuple(codes.extra.items()))
    return [
        (
            n["type0"],
            b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H"
            b" /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (n["cidfont"], n["tounicode"]),
            None,
        ),
        (
            n["cidfont"],
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont"
            b" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
            b" /FontDescriptor %d 0 R /DW %d /CIDToGIDMap %d 0 R >>"
            % (n["descriptor"], GLYPH_WIDTH, n["cidtogid"]),
            None,
        ),
        (
            n["descriptor"],
            # Ascent 1000, descent (almost) 0: a glyph spans baseline to baseline + size,
            # so a word drawn at its box's bottom, sized to its height, fills the box.
            # Not 0 itself: poppler takes a zero descent for a broken one (and -0.35).
            b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5"
            b" /FontBBox [0 0 %d 1000] /ItalicAngle 0 /Ascent 1000 /Descent -1"
            b" /CapHeight 1000 /StemV 80 /FontFile2 %d 0 R >>" % (GLYPH_WIDTH, n["file"]),
            None,
        ),
        (
            n["file"],
            b"<< /Length1 %d /Filter /FlateDecode >>" % len(FONT_FILE),
            _FONT_FILE_Z,
        ),
        (n["cidtogid"], b"<< /Filter /FlateDecode >>", _CID_TO_GID_Z),
        (n["tounicode"], b"<< /Filter /FlateDecode >>", to_unicode),
    ]


# The same in every PDF: compressed once (a tiny page's PDF is otherwise mostly this).
_FONT_FILE_Z = zlib.compress(FONT_FILE, 9)
_CID_TO_GID_Z = zlib.compress(b"\x00\x01" * 65536, 9)  # every code -> glyph 1


@functools.lru_cache(maxsize=16)
def _compressed_cmap(extra: tuple[tuple[str, int], ...]) -> bytes:
    codes = CodeMap()
    codes.extra = dict(extra)
    return zlib.compress(codes.to_unicode_cmap(), 9)


FONT_PARTS = ("type0", "cidfont", "descriptor", "file", "cidtogid", "tounicode")


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def text_operators(
    lines: Iterable[list[dict[str, Any]]],
    frame_height: float,
    matrix: tuple[float, float, float, float, float, float],
    font: str,
    codes: CodeMap,
) -> bytes:
    """Content-stream operators drawing each word invisibly (render mode 3) over its box.

    ``lines`` holds each line's words with boxes in pixels of the page frame (origin top
    left, y down, ``frame_height`` pixels high); ``matrix`` maps that frame, flipped to y
    up, onto the page's user space. A space after each word but a line's last keeps the
    words apart in extracted text. Lines of vertical text (a page scanned sideways that
    the engine read anyway) run down or up their boxes instead of across them.
    """
    ops = ["q", " ".join(_num(v) for v in matrix) + " cm", "BT", "3 Tr", f"/{font} 1 Tf"]
    for words in lines:
        placed = [w for w in words if str(w.get("text", "")).strip()]
        direction = _direction(placed)
        for index, word in enumerate(placed):
            text = str(word["text"]).strip()
            box = word["box"]
            x, y = float(box["x"]), float(box["y"])
            width = max(float(box["width"]), 1.0)
            height = max(float(box["height"]), 1.0)
            em = len(text) * GLYPH_WIDTH / 1000  # the word's advance at size 1
            if direction == "down":  # letters' tops to the right, reading downwards
                tm = (0.0, -height / em, width, 0.0, x, frame_height - y)
            elif direction == "up":  # letters' tops to the left, reading upwards
                tm = (0.0, height / em, -width, 0.0, x + width, frame_height - y - height)
            else:
                tm = (width / em, 0.0, 0.0, height, x, frame_height - y - height)
            ops.append(" ".join(_num(v) for v in tm) + " Tm")
            tail = SPACE if index < len(placed) - 1 else ""
            ops.append(f"<{codes.hex(text)}{tail}> Tj")
    ops += ["ET", "Q"]
    return ("\n".join(ops) + "\n").encode("ascii")


def _direction(words: list[dict[str, Any]]) -> str:
    """``across``, or ``down``/``up`` for a line of vertical text: one much taller than
    wide, its words following each other downwards (or upwards)."""
    if not words:
        return "across"
    boxes = [w["box"] for w in words]
    top = min(float(b["y"]) for b in boxes)
    bottom = max(float(b["y"]) + float(b["height"]) for b in boxes)
    left = min(float(b["x"]) for b in boxes)
    right = max(float(b["x"]) + float(b["width"]) for b in boxes)
    tall = (bottom - top) > 1.5 * (right - left)
    if not tall or (len(words) == 1 and len(str(words[0]["text"]).strip()) < 3):
        return "across"
    if len(words) == 1:
        return "down"
    return "down" if float(boxes[-1]["y"]) >= float(boxes[0]["y"]) else "up"
