"""The result document: one schema for the inline response and the stored result.

Mandatory fields fixed by the challenge: ``success``, ``text``, ``confidence`` (0..1),
``processing_time_ms``. The README documents every field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocr_core import __version__
from ocr_core.errors import OcrError

if TYPE_CHECKING:  # types only: the results function never imports Pillow or the engines
    from ocr_core.engines.base import OcrOutput
    from ocr_core.recognition.intake import IntakeImage

SCHEMA_VERSION = 1


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def object_ref(bucket: str, name: str, generation: int | str | None) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "name": name,
        "generation": str(generation) if generation is not None else None,
    }


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
    text = output.text.strip()
    doc: dict[str, Any] = {
        "success": True,
        "status": "done",
        "text": text,
        "confidence": round(output.confidence, 4) if text else 0.0,
        "no_text_found": not text,
        "processing_time_ms": round(processing_time_ms, 1),
        "language": output.language if text else None,
        "word_count": output.word_count,
        "image": image.metadata(),
        "engine": {"name": engine_name, "version": engine_version},
        "cached": cached,
        "pages": output.pages_as_dicts(),
        "created_at": utc_now(),
        "schema_version": SCHEMA_VERSION,
        "service_version": __version__,
    }
    if obj is not None:
        doc["object"] = obj
    return doc


def failed_document(
    error: OcrError, *, processing_time_ms: float, obj: dict[str, Any] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "success": False,
        "status": "failed",
        "error": error.to_dict(),
        "text": "",
        "confidence": 0.0,
        "processing_time_ms": round(processing_time_ms, 1),
        "created_at": utc_now(),
        "schema_version": SCHEMA_VERSION,
        "service_version": __version__,
    }
    if obj is not None:
        doc["object"] = obj
    return doc


def error_body(error: OcrError) -> dict[str, Any]:
    return {"success": False, "error": error.to_dict()}
