"""Writing PDF objects one after the other: the streaming half of the PDF renderer.

Objects are written as soon as they are made and forgotten; only their byte offsets are
kept (a few bytes per object) for the cross-reference section at the end. That is what
lets a 2,000-page document be written page by page in flat memory.
"""

from __future__ import annotations

import zlib


class PdfWriter:
    """Numbered objects into a growing byte stream, drained by the caller as it goes.

    ``start_offset`` and ``first_number`` let it continue an existing file (an
    incremental update appended to a PDF's own bytes).
    """

    def __init__(self, start_offset: int = 0, first_number: int = 1) -> None:
        self.position = start_offset
        self.next_number = first_number
        self.offsets: dict[int, int] = {}
        self._chunks: list[bytes] = []

    def reserve(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number

    def write(self, data: bytes) -> None:
        self._chunks.append(data)
        self.position += len(data)

    def drain(self) -> bytes:
        """What was written since the last drain."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data

    def obj(self, number: int, body: bytes, generation: int = 0) -> None:
        self.offsets[number] = self.position
        self.write(b"%d %d obj\n%s\nendobj\n" % (number, generation, body))

    def stream(self, number: int, entries: bytes, data: bytes, *, compress: bool = False) -> None:
        """A stream object; ``entries`` are its dictionary's entries less /Length."""
        if compress:
            data = zlib.compress(data, 6)
            entries += b" /Filter /FlateDecode"
        self.offsets[number] = self.position
        self.write(b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, entries, len(data)))
        self.write(data)
        self.write(b"\nendstream\nendobj\n")

    def xref_table(self, trailer: bytes, generations: dict[int, int] | None = None) -> None:
        """A classic cross-reference table of every object written, then the trailer;
        ``trailer`` holds the trailer dictionary's entries less /Size."""
        generations = generations or {}
        start = self.position
        numbers = sorted(self.offsets)
        lines = [b"xref\n"]
        if 0 not in self.offsets and (not numbers or numbers[0] == 1):
            numbers = [0, *numbers]
        for first, run in _runs(numbers):
            lines.append(b"%d %d\n" % (first, len(run)))
            for number in run:
                if number == 0:
                    lines.append(b"0000000000 65535 f \n")
                else:
                    gen = generations.get(number, 0)
                    lines.append(b"%010d %05d n \n" % (self.offsets[number], gen))
        size = max(self.offsets) + 1
        lines.append(
            b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, start)
        )
        self.write(b"".join(lines))

    def xref_stream(self, trailer: bytes, generations: dict[int, int] | None = None) -> None:
        """A cross-reference stream (PDF 1.5) of every object written, itself included:
        the form an update to a file that uses one must take."""
        generations = generations or {}
        number = self.reserve()
        start = self.position
        self.offsets[number] = start
        numbers = sorted(self.offsets)
        index: list[bytes] = []
        rows = bytearray()
        for first, run in _runs(numbers):
            index.append(b"%d %d" % (first, len(run)))
            for n in run:
                rows += (
                    b"\x01"
                    + self.offsets[n].to_bytes(8, "big")
                    + (generations.get(n, 0).to_bytes(2, "big"))
                )
        data = zlib.compress(bytes(rows))
        self.write(
            b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 8 2] /Index [%s] %s"
            b" /Filter /FlateDecode /Length %d >>\nstream\n"
            % (number, number + 1, b" ".join(index), trailer, len(data))
        )
        self.write(data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % start)


def _runs(numbers: list[int]) -> list[tuple[int, list[int]]]:
    """Consecutive runs of sorted object numbers: the subsections of a cross-reference."""
    runs: list[tuple[int, list[int]]] = []
    for number in numbers:
        if runs and runs[-1][1][-1] == number - 1:
            runs[-1][1].append(number)
        else:
            runs.append((number, [number]))
    return runs


def literal(text: str) -> bytes:
    """A PDF text string (UTF-16BE with BOM: any character, e.g. in /Title)."""
    data = b"\xfe\xff" + text.encode("utf-16-be")
    return b"<" + data.hex().upper().encode("ascii") + b">"
