"""Answering with a file instead of JSON: ``GET /results/<name>?format=pdf|hocr|alto|txt``
and ``POST /extract-text?format=...``. The renderers live in ``render``; this is the
HTTP side: the headers, streaming, and the stored copy when one is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flask

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.jobs.renditions import rendition_name, shard_loader, source_of
from ocr_core.recognition.render import (
    Format,
    content_disposition,
    download_name,
    render,
    require_done,
)
from ocr_core.storage import open_bucket

#: A stored file is read whole (the bucket port reads objects whole): past this size it
#: is rendered again instead, which streams in flat memory.
STORED_MAX_BYTES = 32 * 1024 * 1024


def file_response(
    settings: Settings,
    fmt: Format,
    result: dict[str, Any],
    name: str,
    source: bytes | None = None,
) -> flask.Response:
    """``result`` rendered in ``fmt`` as a download. ``source``: the bytes OCRed, when the
    caller has them (an upload); otherwise the input bucket's object is read."""
    require_done(result)
    loader = None
    if source is None:  # a stored result (not an upload's): its files may lie beside it
        results = open_bucket(settings, settings.results_bucket)
        stored = _stored(settings, results, fmt, result, name)
        if stored is not None:
            return _attachment(stored, fmt, name)
        loader = shard_loader(results)
        if fmt.needs_source:
            source = source_of(settings, result)
    chunks = render(fmt, result, name=name, source=source, load_shard=loader)
    return _attachment(_started(chunks), fmt, name)


def _started(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run the renderer to its first chunk now, so that what fails early (a failed
    result, a missing shard) is still a JSON error and not a cut-off download."""
    first = next(chunks, b"")

    def rest() -> Iterator[bytes]:
        yield first
        yield from chunks

    return rest()


def _stored(
    settings: Settings, results: Any, fmt: Format, result: dict[str, Any], name: str
) -> Iterator[bytes] | None:
    """The copy written beside the result (``OUTPUT_FORMATS``), if it is newer than the
    result itself: an older one belongs to an earlier version of the object."""
    info = results.stat(rendition_name(settings, name, fmt))
    own = results.stat(settings.result_name(name))
    if info is None or own is None or info.generation < own.generation:
        return None
    if info.size > STORED_MAX_BYTES:
        return None
    try:
        data = results.read(info.name)
    except errors.NotFound:
        return None
    return iter([data])


def _attachment(chunks: Iterator[bytes], fmt: Format, name: str) -> flask.Response:
    response = flask.Response(chunks, mimetype=None, content_type=fmt.media_type)
    response.headers["Content-Disposition"] = content_disposition(download_name(name, fmt))
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
