"""Bytes -> a result document: the inline path, and the image part of every job.

Identical bytes with the same engine, language and preprocessing are answered from the
``Recognizer``'s cache, built with it from the settings at the function's entry.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.engines import Engine, Engines
from ocr_core.engines.base import OcrOutput, recognize_guarded
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


class Recognizer:
    """Bytes -> result documents for this process: its engines, and its cache of answers,
    built from its settings at the function's entry (``ocr_core.runtime``)."""

    def __init__(self, settings: Settings, engines: Engines) -> None:
        self.settings = settings
        self.engines = engines
        self.cache = ResultCache(settings.cache_max_entries, settings.cache_max_bytes)

    def engine(self) -> Engine:
        """The configured engine; EngineError (retried later) when it cannot be built."""
        try:
            return self.engines.get()
        except (ValueError, RuntimeError, OSError) as exc:
            # A broken install or configuration (missing traineddata...): not the client's
            # fault, and an event must be retried once it is fixed, not marked failed.
            log.exception("engine unavailable")
            raise errors.EngineError("The OCR engine is unavailable; try again later") from exc

    def extract(
        self, data: bytes, *, lang: str | None = None, obj: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """OCR one image's bytes: the inline path. Raises OcrError for bad input.

        Identical bytes with the same engine, language and preprocessing are answered from
        the in-memory cache (``cached: true``); concurrent identical requests OCR once.
        """
        settings = self.settings
        started = time.perf_counter()
        if len(data) > settings.max_upload_bytes:
            raise errors.FileTooLarge(
                f"The file is {len(data)} bytes; the limit is {settings.max_upload_bytes} bytes",
                limit_bytes=settings.max_upload_bytes,
            )
        engine = self.engine()
        key = ":".join(
            (
                hashlib.sha256(data).hexdigest(),
                engine.name,
                engine.version,
                lang or settings.ocr_lang,
                PREPROCESSING_VERSION,
            )
        )
        document, cached = self.cache.get_or_compute(
            key, lambda: self._extract_uncached(data, lang, engine, started)
        )
        if cached:
            document["cached"] = True
            document["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 1)
            document["created_at"] = utc_now()
        if obj is not None:
            document["object"] = obj
        return document

    def _extract_uncached(
        self, data: bytes, lang: str | None, engine: Engine, started: float
    ) -> dict[str, Any]:
        settings = self.settings
        # Refused from its header (a bomb, a scan bomb, a fake size) before taking a slot.
        pixels = check_header(
            data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
        )
        with self.engines.slot(engine, pixels):
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
