"""Answers for identical images, by content hash, bounded in memory, computed once.

The key is the image's sha256 plus everything that changes the answer: engine name and
version, language, and the intake/preprocessing version. Entries are evicted least
recently used first, by count and by the size of their JSON. Concurrent requests for one
key wait for the first one's answer instead of running the engine again (single flight);
a failure is not cached, so the next request tries afresh.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Document = dict[str, Any]


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.document: Document | None = None


class ResultCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Document, int]] = OrderedDict()
        self._bytes = 0
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.computed = 0  # how many times compute ran (tests and logs)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get_or_compute(self, key: str, compute: Callable[[], Document]) -> tuple[Document, bool]:
        """(document, came from cache). Documents handed out are copies."""
        if not self.enabled:
            self.computed += 1
            return compute(), False
        while True:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None:
                    self._entries.move_to_end(key)
                    return copy.deepcopy(hit[0]), True
                flight = self._flights.get(key)
                leader = flight is None
                if leader:
                    flight = self._flights[key] = _Flight()
            assert flight is not None
            if leader:
                break
            flight.done.wait()
            if flight.document is not None:
                return copy.deepcopy(flight.document), True
            # The leader failed: loop and become (or follow) the next leader.
        try:
            self.computed += 1
            document = compute()
            flight.document = document
            self._store(key, document)
            return copy.deepcopy(document), False
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _store(self, key: str, document: Document) -> None:
        size = len(json.dumps(document, ensure_ascii=False).encode("utf-8"))
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (copy.deepcopy(document), size)
            self._bytes += size
            while self._entries and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.computed = 0
