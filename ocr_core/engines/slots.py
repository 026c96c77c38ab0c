"""Admission to the engine: one image in work per engine thread, within a budget of pixels.

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

import collections
import threading

#: Decoded pixels in work per engine thread, on average. With two threads (12 MP): two of
#: the corpus's 5 MP scans run side by side, two letter pages at 300 dpi (8.4 MP each) do
#: not, and an image larger than the whole budget (up to MAX_IMAGE_PIXELS, 50 MP: 150 MB
#: as RGB before any copy) is worked on alone. At 4.5 MP a thread the corpus's two scans
#: took turns: throughput with two threads fell from 1.78x to 1.62-1.74x one thread, and
#: peak memory did not measurably fall.
PIXELS_PER_THREAD = 6_000_000


class Gate:
    """Slots for images in work, first come first served, within a budget of pixels."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.pixel_budget = slots * PIXELS_PER_THREAD
        self._busy = 0
        self._pixels = 0
        self._line: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    def _admits(self, ticket: object, pixels: int) -> bool:
        if self._line[0] is not ticket or self._busy >= self.slots:
            return False
        return self._busy == 0 or self._pixels + pixels <= self.pixel_budget

    def acquire(self, pixels: int) -> None:
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            try:
                self._changed.wait_for(lambda: self._admits(ticket, pixels))
            finally:
                self._line.remove(ticket)
                self._changed.notify_all()  # the next in line may fit too
            self._busy += 1
            self._pixels += pixels

    def release(self, pixels: int) -> None:
        with self._changed:
            self._busy -= 1
            self._pixels -= pixels
            self._changed.notify_all()
