"""Engine registry: engines are built once per process, on first use, and shared."""

from __future__ import annotations

import threading

from ..config import Settings, get_settings
from .base import Engine, OcrOutput

__all__ = ["ENGINE_NAMES", "Engine", "OcrOutput", "get_engine"]

ENGINE_NAMES = ("tesseract",)

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _build(name: str, settings: Settings) -> Engine:
    if name == "tesseract":
        from .tesseract import TesseractEngine

        return TesseractEngine(default_lang=settings.ocr_lang, pool_size=settings.engine_pool_size)
    raise ValueError(f"OCR_ENGINE must be one of {', '.join(ENGINE_NAMES)}; got {name!r}")


def get_engine(name: str | None = None) -> Engine:
    settings = get_settings()
    name = (name or settings.ocr_engine).lower()
    engine = _engines.get(name)
    if engine is None:
        with _lock:
            engine = _engines.get(name)
            if engine is None:
                engine = _engines[name] = _build(name, settings)
    return engine
