"""Admission to the engine: at most one image in work per engine instance, per process.

functions-framework's gunicorn serves four threads per core, but only ``ENGINE_THREADS``
images can be recognised at once. Without a gate every request in flight decodes and
cleans its image and then waits for an engine instance, holding pixels it cannot use yet
(a 2000x2600 scan is 15 MB as RGB and more once cleaned or enlarged): on the corpus with
eight requests in flight and two engine threads, the engine peaked at 710 MiB without the
gate and 525 MiB with it. Behind the gate a waiting request holds only its encoded bytes,
so memory is bounded by the pool size, not by the number of requests. Engines that spend
their time on the network (Cloud Vision) are not gated: their calls wait on I/O, not on
a core.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from .. import memory
from ..config import get_settings

_gate: tuple[int, threading.BoundedSemaphore] | None = None
_guard = threading.Lock()


def _semaphore() -> threading.BoundedSemaphore:
    """This process's gate, sized by the current settings (tests change them)."""
    global _gate
    size = get_settings().engine_pool_size
    with _guard:
        if _gate is None or _gate[0] != size:
            _gate = (size, threading.BoundedSemaphore(size))
        return _gate[1]


@contextlib.contextmanager
def engine_slot(engine: object = None) -> Iterator[None]:
    """Hold one of the engine's slots while decoding and recognising an image (no engine:
    decoding alone, which is CPU work too)."""
    if not getattr(engine, "cpu_bound", True):
        yield
        return
    gate = _semaphore()  # the one acquired is the one released, even if settings change
    try:
        with gate:
            yield
    finally:
        memory.release_free_memory()  # the image's pages, kept by malloc otherwise
