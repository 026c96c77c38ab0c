"""Engine registry: engines are built once per process, on first use, and shared."""

from __future__ import annotations

import os
import threading

from .. import memory
from ..config import Settings, get_settings
from ..logs import get_logger
from .base import Engine, OcrOutput

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "OcrOutput",
    "get_engine",
    "preload_in_workers",
]

log = get_logger("engines")

ENGINE_NAMES = ("auto", "tesseract", "rapidocr", "vision")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _build(name: str, settings: Settings) -> Engine:
    memory.limit_arenas()
    if name == "tesseract":
        from .tesseract import TesseractEngine

        return TesseractEngine(default_lang=settings.ocr_lang, pool_size=settings.engine_pool_size)
    if name == "auto":
        from .auto import build_auto

        return build_auto(settings.ocr_lang, settings.engine_pool_size)
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


_preload_registered = False


def preload_in_workers() -> None:
    """Build the engine in the background in each worker process forked from this one.

    functions-framework imports the function in gunicorn's master, which then opens the
    port and forks the worker that serves. Building the engine at import would hold the
    port shut for the model load (~0.2 s for Tesseract, more for Vision's client library);
    building it on the first request makes that request wait for all of it. Started as the
    worker is forked, the load overlaps the worker's boot and the first request's arrival,
    and a request that comes sooner waits on the registry's lock, never builds twice. Not
    in the master itself: a thread there could be forked mid-build, lock held. Processes
    that never fork (test clients) keep building on first use. ``ENGINE_PRELOAD=false``
    turns it off.
    """
    global _preload_registered
    memory.limit_arenas()  # before gunicorn's threads start allocating
    if _preload_registered or not get_settings().engine_preload:
        return
    _preload_registered = True
    os.register_at_fork(after_in_child=_preload_in_background)


def _preload_in_background() -> None:
    threading.Thread(target=_preload, name="engine-preload", daemon=True).start()


def _preload() -> None:
    try:
        get_engine()
    except Exception:  # the first request builds it again and answers the error
        log.warning("engine preload failed; the first request will build it", exc_info=True)
