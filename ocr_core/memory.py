"""glibc malloc settings for processes that OCR: a few large, short-lived buffers per image.

glibc gives each thread that allocates its own arena, up to 8 per core, and keeps the
pages freed inside an arena resident until ``malloc_trim`` returns them. Every gunicorn
thread that decoded an image or ran an engine so kept the pages of its last image. The
upload function's engine on the corpus, 8 requests in flight on 2 engine threads, peaked
at 678 MiB with glibc's defaults, 561 MiB with two arenas, and 525 MiB when each image's
pages are also handed back as it finishes (``malloc_trim`` takes about 5 ms).

``MALLOC_ARENA_MAX`` in the environment (glibc's own knob) wins over the value here.
Elsewhere than glibc (musl, macOS) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

#: Arenas for the whole process (glibc's default: 8 per core).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h

_libc: ctypes.CDLL | None = None
_loaded = False
_load_lock = threading.Lock()


def _glibc() -> ctypes.CDLL | None:
    global _libc, _loaded
    with _load_lock:
        if not _loaded:
            _loaded = True
            name = ctypes.util.find_library("c")
            try:
                libc = ctypes.CDLL(name) if name else None
            except OSError:
                libc = None
            if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
                _libc = libc
        return _libc


def limit_arenas() -> None:
    """Cap malloc's arenas; call before threads start allocating (at import, at fork)."""
    libc = _glibc()
    if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def release_free_memory() -> None:
    """Give the pages malloc holds free back to the system (after an image is done)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
