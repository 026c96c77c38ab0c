"""The composition root: this process's settings and everything built from them.

The function entry points (``functions/*/main.py``) and the local stack are the only
callers: they take ``current()`` and pass it down, so no module below reads the
environment or keeps a cache of its own. The settings are read once per process; tests
and tools that change the environment call ``reload()``, which builds everything afresh
(engines themselves are shared: ``engines`` keys them by what they are built from).
"""

from __future__ import annotations

import threading

from ocr_core.config import Settings
from ocr_core.http.context import HttpContext
from ocr_core.logs import setup_logging

_current: HttpContext | None = None
_lock = threading.Lock()


def build(settings: Settings) -> HttpContext:
    setup_logging(settings.log_level)
    return HttpContext.build(settings)


def current() -> HttpContext:
    """This process's context, built from the environment on first use."""
    context = _current
    if context is None:
        with _lock:
            context = _current or reload()
    return context


def reload() -> HttpContext:
    """Read the environment again and build a new context (tests, the local stack)."""
    global _current
    _current = build(Settings.from_env())
    return _current
