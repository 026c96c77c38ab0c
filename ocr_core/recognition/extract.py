"""Bytes -> a result document: the inline path, and the image part of every job.

Identical bytes with the same engine, language and preprocessing are answered from this
process's cache; the cache is built from the settings and reset through ``result_cache``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from ocr_core import errors
from ocr_core.config import get_settings, on_reload
from ocr_core.engines import Engine, get_engine
from ocr_core.engines.base import OcrOutput, recognize_guarded
from ocr_core.engines.slots import engine_slot
from ocr_core.logs import get_logger
from ocr_core.recognition.cache import ResultCache
from ocr_core.recognition.intake import (
    PREPROCESSING_VERSION,
    IntakeImage,
    check_header,
    load_image,
)
from ocr_core.schema import UNSET, ImageMetadata, ResultDocument, utc_now
from ocr_core.schema import Engine as EngineInfo

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
    """This process's cache of answers, built from the settings on first use."""
    global _cache
    with _cache_guard:
        if _cache is None:
            settings = get_settings()
            _cache = ResultCache(settings.cache_max_entries, settings.cache_max_bytes)
        return _cache


@on_reload
def _drop_cache() -> None:
    global _cache
    with _cache_guard:
        _cache = None


def done_document(
    output: OcrOutput,
    image: IntakeImage,
    *,
    engine_name: str,
    engine_version: str,
    processing_time_ms: float,
    obj: dict[str, Any] | None = None,
    cached: bool = False,
) -> dict[str, Any]:
    """The result of one image the engine read."""
    text = output.text.strip()
    return ResultDocument(
        success=True,
        status="done",
        text=text,
        confidence=round(output.confidence, 4) if text else 0.0,
        no_text_found=not text,
        processing_time_ms=round(processing_time_ms, 1),
        language=output.language if text else None,
        word_count=output.word_count,
        image=ImageMetadata(**image.metadata()),  # type: ignore[arg-type]
        engine=EngineInfo(engine_name, engine_version),
        cached=cached,
        pages=output.pages_as_dicts(),  # type: ignore[arg-type]
        object=obj if obj is not None else UNSET,
    ).to_dict()
