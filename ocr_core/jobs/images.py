"""An image object -> its stored result document, once per (bucket, name, generation)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocr_core import errors
from ocr_core.jobs.context import JobContext
from ocr_core.jobs.layout import check_not_reserved
from ocr_core.jobs.store import stored_generation, write_if_newer
from ocr_core.logs import get_logger
from ocr_core.names import validate_object_name
from ocr_core.recognition.documents import document_kind
from ocr_core.schema import failed_document, object_ref

log = get_logger("pipeline")


@dataclass(frozen=True)
class Outcome:
    """What ``process_object`` did, for logs and tests."""

    action: str  # "written", "failed", "duplicate", "stale", "ignored", "missing", "document"
    result_name: str | None = None
    document: dict[str, Any] | None = None


_in_flight: dict[tuple[str, str, int | None], threading.Lock] = {}
_in_flight_guard = threading.Lock()


#: Takes over an object whose bytes are a document (PDF, multi-page TIFF):
#: (context, bucket, name, generation, bytes). ``dispatch`` passes the document jobs' own.
DocumentStarter = Callable[[JobContext, str, str, int, bytes], object]


def process_object(
    ctx: JobContext,
    bucket_name: str,
    name: str,
    generation: int | None,
    *,
    on_document: DocumentStarter,
) -> Outcome:
    """OCR ``bucket_name/name`` at ``generation`` and store its result document.

    Idempotent per (bucket, name, generation): duplicates and stale events are skipped,
    a permanent failure is written as a ``failed`` document, and a transient one raises
    ``TransientError`` so that the platform delivers the event again. A document is
    handed to ``on_document`` once its bytes are read.
    """
    settings = ctx.settings
    if bucket_name != settings.input_bucket:
        log.warning(
            "event for a bucket this function does not serve",
            extra={"bucket": bucket_name, "input_bucket": settings.input_bucket},
        )
        return Outcome("ignored")
    if name.endswith("/"):
        return Outcome("ignored")  # a folder placeholder
    try:
        validate_object_name(name)
        check_not_reserved(name, settings)
    except (errors.InvalidObjectName, errors.ReservedObjectName) as exc:
        # Its result could not be stored (or would overwrite one of our own documents):
        # acknowledged, never retried; GET /results answers the same code for it.
        log.warning(
            "event for an object that cannot be processed; acknowledged",
            extra={"code": exc.code, "reason": exc.message},
        )
        return Outcome("ignored")

    key = (bucket_name, name, generation)
    with _in_flight_guard:
        lock = _in_flight.setdefault(key, threading.Lock())
    # A duplicate delivered while the first is still running waits, then finds the result.
    with lock:
        try:
            return _process_locked(ctx, bucket_name, name, generation, on_document)
        finally:
            with _in_flight_guard:
                _in_flight.pop(key, None)


def _process_locked(
    ctx: JobContext,
    bucket_name: str,
    name: str,
    generation: int | None,
    on_document: DocumentStarter,
) -> Outcome:
    settings = ctx.settings
    source = ctx.bucket(bucket_name)
    results = ctx.results
    result_name = settings.result_name(name)

    info = source.stat(name)
    if info is None:
        log.info("object no longer exists; nothing to do", extra={"object": name})
        return Outcome("missing", result_name)
    if generation is None:
        generation = info.generation
    elif info.generation > generation:
        # A newer upload replaced this one; its own event will produce the result.
        log.info(
            "event is for an older generation; skipped",
            extra={"object": name, "generation": generation, "current": info.generation},
        )
        return Outcome("stale", result_name)

    existing_gen, result_storage_gen = stored_generation(results, result_name)
    if existing_gen is not None and existing_gen >= generation:
        kind = "duplicate" if existing_gen == generation else "stale"
        log.info("result already stored; skipped", extra={"object": name, "outcome": kind})
        return Outcome(kind, result_name)

    obj = object_ref(bucket_name, name, generation)
    log.info("processing object", extra={"object": name, "generation": generation})
    started = time.perf_counter()
    try:
        data = source.read(name, max_bytes=settings.max_object_bytes)
        if document_kind(data) is not None:
            # PDF or multi-page TIFF: an operation takes it page by page (jobs.documents).
            on_document(ctx, bucket_name, name, generation, data)
            return Outcome("document", result_name)
        document = ctx.recognizer.extract(data, obj=obj)
        action = "written"
    except errors.NotFound:
        return Outcome("missing", result_name)
    except errors.OcrError as exc:
        if not exc.permanent:
            raise
        elapsed = (time.perf_counter() - started) * 1000
        document = failed_document(exc, processing_time_ms=elapsed, obj=obj)
        action = "failed"
        log.info(
            "object cannot be OCRed; failed result written",
            extra={"object": name, "code": exc.code},
        )

    # Another delivery may have written meanwhile: the result for the newer generation stays.
    known = (existing_gen, result_storage_gen)
    if not write_if_newer(results, result_name, document, generation, keep_same=True, known=known):
        return Outcome("duplicate", result_name)
    log.info(
        "result stored",
        extra={
            "object": name,
            "outcome": action,
            "processing_time_ms": document["processing_time_ms"],
        },
    )
    if settings.output_formats and action == "written":  # files beside it: docs/formats.md
        from ocr_core.jobs.renditions import write_renditions

        # A retried event finds its result and would not come back here: no retry.
        write_renditions(settings, document, settings.output_formats, source=data, retry=False)
    return Outcome(action, result_name, document)
