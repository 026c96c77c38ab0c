"""What every job runs with: the process's settings, its recognizer (engines, gate, cache)
and its buckets. Built once per process at the function's entry (``ocr_core.runtime``) and
passed down; no job reads the environment or a registry of its own."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ocr_core.config import Settings
from ocr_core.storage import Bucket, open_bucket

if TYPE_CHECKING:
    from ocr_core.engines import Engines
    from ocr_core.recognition.extract import Recognizer


class JobContext:
    def __init__(self, settings: Settings, recognizer: Recognizer | None = None) -> None:
        self.settings = settings
        self._recognizer = recognizer
        self._lock = threading.Lock()

    @property
    def recognizer(self) -> Recognizer:
        """Built on first use, once: the results function never recognises anything and
        starts without Pillow or the engines loaded (tests/test_speed.py)."""
        if self._recognizer is None:
            with self._lock:
                if self._recognizer is None:
                    from ocr_core.engines import Engines
                    from ocr_core.recognition.extract import Recognizer

                    self._recognizer = Recognizer(self.settings, Engines(self.settings))
        return self._recognizer

    @property
    def engines(self) -> Engines:
        return self.recognizer.engines

    def bucket(self, name: str) -> Bucket:
        return open_bucket(self.settings, name)

    @property
    def input(self) -> Bucket:
        return self.bucket(self.settings.input_bucket)

    @property
    def results(self) -> Bucket:
        return self.bucket(self.settings.results_bucket)
