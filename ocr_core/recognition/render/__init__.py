"""Results people can file: searchable PDF, hOCR, ALTO and plain text, rendered from the
one result document (and, for the PDF, the bytes that were OCRed).

Every renderer is a generator of byte chunks that reads the pages one at a time, so a
long document streams out in flat memory (docs/formats.md has the figures).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ocr_core import errors
from ocr_core.config import OUTPUT_FORMATS
from ocr_core.recognition.render.pages import RenderPage, ShardLoader, iter_pages


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    suffix: str  # beside the result in the results bucket: <object name><suffix>
    needs_source: bool = False  # the PDF draws the original pages


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("pdf", "application/pdf", ".pdf", needs_source=True),
        Format("hocr", "text/vnd.hocr+html; charset=utf-8", ".hocr"),
        Format("alto", "application/alto+xml; charset=utf-8", ".alto.xml"),
        Format("txt", "text/plain; charset=utf-8", ".txt"),
    )
}
#: Formats that can be written beside a document's result when it completes.
STORABLE = OUTPUT_FORMATS


def get_format(name: str) -> Format:
    try:
        return FORMATS[name.strip().lower()]
    except KeyError:
        raise errors.InvalidRequest(
            f"format must be one of json, {', '.join(FORMATS)}", parameter="format"
        ) from None


def parse_formats(raw: object, *, parameter: str = "output_formats") -> tuple[str, ...]:
    """A list of formats from a setting or a request: ``"pdf,hocr"`` or ``["pdf"]``."""
    if raw is None or raw == "":
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        raise errors.InvalidRequest(f"{parameter} must be a list of formats", parameter=parameter)
    names: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name not in STORABLE:
            raise errors.InvalidRequest(
                f"{parameter} may hold {', '.join(STORABLE)}; got {name!r}", parameter=parameter
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def require_done(result: dict[str, Any]) -> None:
    """Only a ``done`` result has anything to render."""
    if result.get("status") != "done":
        raise errors.ResultFailed(
            "OCR failed for this object, so there is nothing to render",
            cause=(result.get("error") or {}).get("code"),
        )


def render(
    fmt: Format,
    result: dict[str, Any],
    *,
    name: str,
    source: bytes | None = None,
    load_shard: ShardLoader | None = None,
) -> Iterator[bytes]:
    """The file of ``result`` in ``fmt``, as chunks. ``name`` is the object's name."""
    require_done(result)
    if fmt.name == "txt":
        from ocr_core.recognition.render.text import render_text

        return render_text(result)
    pages = iter_pages(result, load_shard)
    if fmt.name == "pdf":
        if source is None:
            raise ValueError("the PDF needs the source bytes")
        from ocr_core.recognition.render.pdf import render_pdf

        return render_pdf(result, pages, source)
    if fmt.name == "hocr":
        from ocr_core.recognition.render.hocr import render_hocr

        return render_hocr(result, pages, name)
    from ocr_core.recognition.render.alto import render_alto

    return render_alto(result, pages, name)


def download_name(object_name: str, fmt: Format) -> str:
    """``scans/contract.pdf`` -> ``contract.pdf.hocr``: the last part, plus the suffix."""
    base = object_name.rsplit("/", 1)[-1] or "result"
    return base + fmt.suffix


def content_disposition(filename: str) -> str:
    """An attachment header any browser reads: an ASCII fallback and RFC 5987's UTF-8."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


__all__ = [
    "FORMATS",
    "STORABLE",
    "Format",
    "RenderPage",
    "content_disposition",
    "download_name",
    "get_format",
    "parse_formats",
    "render",
    "require_done",
]
