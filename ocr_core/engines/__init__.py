"""Engine registry: engines are built once per process, on first use, and shared; the
gate that admits images to them (``slots``) belongs to the registry."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from .. import memory
from ..config import Settings
from ..logs import get_logger
from .base import Engine, OcrOutput
from .slots import Gate

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "Engines",
    "OcrOutput",
]

log = get_logger("engines")

ENGINE_NAMES = ("auto", "tesseract", "rapidocr", "vision")

_built: dict[tuple[str, str, int, str], Engine] = {}
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


def _engine(name: str, settings: Settings) -> Engine:
    # Engines are dear to build (models, pools) and depend only on these parameters: one
    # per distinct set, shared by every registry of the process (tests build many).
    key = (name, settings.ocr_lang, settings.engine_pool_size, settings.vision_endpoint)
    engine = _built.get(key)
    if engine is None:
        with _lock:
            engine = _built.get(key)
            if engine is None:
                engine = _built[key] = _build(name, settings)
    return engine


class Engines:
    """This process's engines and the gate in front of them, built from its settings.

    One is made at the function's entry (``ocr_core.runtime``) and passed down; nothing
    below reads the settings or a registry of its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gate = Gate(settings.engine_pool_size)

    def get(self, name: str | None = None) -> Engine:
        """The engine ``name`` (default: ``OCR_ENGINE``), built on first use."""
        return _engine((name or self.settings.ocr_engine).lower(), self.settings)

    @contextlib.contextmanager
    def slot(self, engine: object = None, pixels: int = 0) -> Iterator[None]:
        """Hold a slot while decoding and recognising an image of ``pixels`` pixels (no
        engine: decoding alone, which is CPU work too). See ``slots``."""
        if not getattr(engine, "cpu_bound", True):
            yield
            return
        if pixels > self.settings.max_image_pixels:
            pixels = 0  # intake refuses it from the header at once: not worth a wait in line
        self.gate.acquire(pixels)
        try:
            yield
        finally:
            self.gate.release(pixels)
            memory.release_free_memory()  # the image's pages, kept by malloc otherwise

    def preload_in_workers(self) -> None:
        """Build the engine in the background in each worker process forked from this one.

        functions-framework imports the function in gunicorn's master, which then opens the
        port and forks the worker that serves. Building the engine at import would hold the
        port shut for the model load (~0.2 s for Tesseract, more for Vision's client
        library); building it on the first request makes that request wait for all of it.
        Started as the worker is forked, the load overlaps the worker's boot and the first
        request's arrival, and a request that comes sooner waits on the registry's lock,
        never builds twice. Not in the master itself: a thread there could be forked
        mid-build, lock held. Processes that never fork (test clients) keep building on
        first use. ``ENGINE_PRELOAD=false`` turns it off.
        """
        global _preload_registered
        memory.limit_arenas()  # before gunicorn's threads start allocating
        if _preload_registered or not self.settings.engine_preload:
            return
        _preload_registered = True
        os.register_at_fork(after_in_child=lambda: _preload_in_background(self))


_preload_registered = False


def _preload_in_background(engines: Engines) -> None:
    threading.Thread(target=_preload, args=(engines,), name="engine-preload", daemon=True).start()


def _preload(engines: Engines) -> None:
    try:
        engines.get()
    except Exception:  # the first request builds it again and answers the error
        log.warning("engine preload failed; the first request will build it", exc_info=True)
