"""The two things the service does: OCR bytes now, and OCR an object into a result document."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import errors
from .cache import ResultCache
from .config import get_settings
from .documents import document_kind
from .engines import Engine, get_engine
from .engines.base import recognize_guarded
from .engines.slots import engine_slot
from .intake import PREPROCESSING_VERSION, check_header, load_image
from .layout import check_not_reserved
from .logs import get_logger
from .names import validate_object_name
from .results import done_document, failed_document, object_ref, utc_now
from .storage import ObjectInfo, PreconditionFailed, open_bucket

log = get_logger("pipeline")


def extract(
    data: bytes, *, lang: str | None = None, obj: dict[str, Any] | None = None
) -> dict[str, Any]:
    """OCR one image's bytes: the inline path. Raises OcrError for bad input.

    Identical bytes with the same engine, language and preprocessing are answered from
    the in-memory cache (``cached: true``); concurrent identical requests OCR once.
    """
    settings = get_settings()
    started = time.perf_counter()
    if len(data) > settings.max_upload_bytes:
        raise errors.FileTooLarge(
            f"The file is {len(data)} bytes; the limit is {settings.max_upload_bytes} bytes",
            limit_bytes=settings.max_upload_bytes,
        )
    try:
        engine = get_engine()
    except (ValueError, RuntimeError, OSError) as exc:
        # A broken install or configuration (missing traineddata...): not the client's
        # fault, and an event must be retried once it is fixed, not marked failed.
        log.exception("engine unavailable")
        raise errors.EngineError("The OCR engine is unavailable; try again later") from exc
    key = ":".join(
        (
            hashlib.sha256(data).hexdigest(),
            engine.name,
            engine.version,
            lang or settings.ocr_lang,
            PREPROCESSING_VERSION,
        )
    )
    document, cached = result_cache().get_or_compute(
        key, lambda: _extract_uncached(data, lang, engine, started)
    )
    if cached:
        document["cached"] = True
        document["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 1)
        document["created_at"] = utc_now()
    if obj is not None:
        document["object"] = obj
    return document


def _extract_uncached(
    data: bytes, lang: str | None, engine: Engine, started: float
) -> dict[str, Any]:
    settings = get_settings()
    # Refused from its header (a bomb, a scan bomb, a fake size) before taking a slot.
    pixels = check_header(
        data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
    )
    with engine_slot(engine, pixels):
        image = load_image(
            data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
        )
        output = recognize_guarded(engine, image.image, lang)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return done_document(
        output,
        image,
        engine_name=engine.name,
        engine_version=engine.version,
        processing_time_ms=elapsed_ms,
    )


_cache: ResultCache | None = None
_cache_guard = threading.Lock()


def result_cache() -> ResultCache:
    """This process's cache of answers, sized by the current settings."""
    global _cache
    settings = get_settings()
    with _cache_guard:
        if _cache is None or (_cache.max_entries, _cache.max_bytes) != (
            settings.cache_max_entries,
            settings.cache_max_bytes,
        ):
            _cache = ResultCache(settings.cache_max_entries, settings.cache_max_bytes)
        return _cache


@dataclass(frozen=True)
class Outcome:
    """What ``process_object`` did, for logs and tests."""

    action: str  # "written", "failed", "duplicate", "stale", "ignored", "missing", "document"
    result_name: str | None = None
    document: dict[str, Any] | None = None


_in_flight: dict[tuple[str, str, int | None], threading.Lock] = {}
_in_flight_guard = threading.Lock()


def process_object(bucket_name: str, name: str, generation: int | None) -> Outcome:
    """OCR ``bucket_name/name`` at ``generation`` and store its result document.

    Idempotent per (bucket, name, generation): duplicates and stale events are skipped,
    a permanent failure is written as a ``failed`` document, and a transient one raises
    ``TransientError`` so that the platform delivers the event again.
    """
    settings = get_settings()
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
            return _process_locked(bucket_name, name, generation)
        finally:
            with _in_flight_guard:
                _in_flight.pop(key, None)


def _process_locked(bucket_name: str, name: str, generation: int | None) -> Outcome:
    settings = get_settings()
    source = open_bucket(bucket_name)
    results = open_bucket(settings.results_bucket)
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

    existing_gen, result_storage_gen = _existing_result(results, result_name)
    if existing_gen is not None and existing_gen >= generation:
        kind = "duplicate" if existing_gen == generation else "stale"
        log.info("result already stored; skipped", extra={"object": name, "outcome": kind})
        return Outcome(kind, result_name)

    obj = object_ref(bucket_name, name, generation)
    log.info("processing object", extra={"object": name, "generation": generation})
    started = time.perf_counter()
    try:
        data = source.read(
            name, max_bytes=max(settings.max_upload_bytes, settings.max_document_bytes)
        )
        if document_kind(data) is not None:
            # PDF or multi-page TIFF: an operation takes it page by page (document_jobs).
            from .document_jobs import start_for_object  # imports us

            start_for_object(bucket_name, name, generation, data)
            return Outcome("document", result_name)
        document = extract(data, obj=obj)
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

    payload = json.dumps(document, ensure_ascii=False).encode("utf-8")
    try:
        results.write(
            result_name, payload, "application/json", if_generation_match=result_storage_gen
        )
    except PreconditionFailed:
        # Another delivery wrote first. Keep whichever result is for the newer generation.
        newer_gen, _ = _existing_result(results, result_name)
        if newer_gen is not None and newer_gen >= generation:
            return Outcome("duplicate", result_name)
        raise errors.StorageError("Result write raced with another writer; retry") from None
    log.info(
        "result stored",
        extra={
            "object": name,
            "outcome": action,
            "processing_time_ms": document["processing_time_ms"],
        },
    )
    if settings.output_formats and action == "written":  # files beside it: docs/formats.md
        from .render.store import write_renditions

        # A retried event finds its result and would not come back here: no retry.
        write_renditions(document, settings.output_formats, source=data, retry=False)
    return Outcome(action, result_name, document)


def _existing_result(results: Any, result_name: str) -> tuple[int | None, int]:
    """(object generation the stored result is for, the result's own storage generation)."""
    info: ObjectInfo | None = results.stat(result_name)
    if info is None:
        return None, 0
    try:
        doc = json.loads(results.read(result_name))
        return int(doc["object"]["generation"]), info.generation
    except (errors.NotFound, ValueError, KeyError, TypeError):
        # Unreadable or foreign document: treat as absent but keep the precondition exact.
        return None, info.generation
