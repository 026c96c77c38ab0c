"""Engine registry: engines are built once per process, on first use, and shared."""

from __future__ import annotations

import threading

from ..config import Settings, get_settings
from .base import Engine, OcrOutput, recognize_many

__all__ = ["ENGINE_NAMES", "Engine", "OcrOutput", "get_engine", "recognize_many"]

ENGINE_NAMES = ("auto", "tesseract", "rapidocr", "vision")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _build(name: str, settings: Settings) -> Engine:
    if name in ("auto", "tesseract"):
        from .tesseract import TesseractEngine

        tesseract = TesseractEngine(
            default_lang=settings.ocr_lang, pool_size=settings.engine_pool_size
        )
        if name == "tesseract":
            return tesseract
        from .auto import AutoEngine

        return AutoEngine(tesseract)
    if name == "rapidocr":
        from .rapid import RapidOcrEngine

        return RapidOcrEngine()
    if name == "vision":
        from .vision import VisionEngine

        return VisionEngine(endpoint=settings.vision_endpoint)
    raise ValueError(f"OCR_ENGINE must be one of {', '.join(ENGINE_NAMES)}; got {name!r}")


def get_engine(name: str | None = None) -> Engine:
    settings = get_settings()
    name = (name or settings.ocr_engine).lower()
    # Vision's client is bound to its endpoint: another endpoint is another engine.
    key = f"{name}@{settings.vision_endpoint}" if name == "vision" else name
    engine = _engines.get(key)
    if engine is None:
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = _engines[key] = _build(name, settings)
    return engine
