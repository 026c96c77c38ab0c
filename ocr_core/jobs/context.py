"""What every job runs with: the process's settings, its recognizer (engines, gate, cache)
and its buckets. Built once per process at the function's entry (``ocr_core.runtime``) and
passed down; no job reads the environment or a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass

from ocr_core.config import Settings
from ocr_core.engines import Engines
from ocr_core.recognition.extract import Recognizer
from ocr_core.storage import Bucket, open_bucket


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    recognizer: Recognizer

    @classmethod
    def build(cls, settings: Settings) -> JobContext:
        return cls(settings, Recognizer(settings, Engines(settings)))

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
