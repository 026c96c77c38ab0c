"""A background loop that calls ``scan`` every ``interval_s`` and hands work to a thread pool:
what the local watcher (storage events) and task pusher (Pub/Sub-like pushes) share."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

from ocr_core.logs import get_logger

log = get_logger("local.polling")


class Poller(ABC):
    def __init__(self, name: str, interval_s: float, workers: int) -> None:
        self.interval_s = interval_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @abstractmethod
    def scan(self) -> object:
        """One round: look for work and submit it to ``self._pool``."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:  # one bad round must not end local events
                log.exception("scan failed", extra={"poller": self._thread.name})
            self._stop.wait(self.interval_s)
