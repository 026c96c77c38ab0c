"""What every HTTP handler runs with: the jobs' context (settings, recognizer, buckets) and
this process's rate limiter. Built once per process at the function's entry
(``ocr_core.runtime``) and handed to each request's dispatch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_core.config import Settings
from ocr_core.http.access import RateLimiter
from ocr_core.jobs.context import JobContext

if TYPE_CHECKING:
    from ocr_core.recognition.extract import Recognizer


@dataclass(frozen=True)
class HttpContext:
    jobs: JobContext
    limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings) -> HttpContext:
        return cls(
            JobContext(settings),
            RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst),
        )

    @property
    def settings(self) -> Settings:
        return self.jobs.settings

    @property
    def recognizer(self) -> Recognizer:
        return self.jobs.recognizer
