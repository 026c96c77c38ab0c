"""Local events: the ``gsutil cp`` -> Eventarc path of the laptop.

Polls the input bucket's folder and, for each object that has settled (not modified for
``settle_s``) and has no result for its generation yet, POSTs a binary-mode
``google.cloud.storage.object.v1.finalized`` CloudEvent to the OCR function, as Eventarc
would. Objects found at start without a result are delivered too, so nothing is lost
across a restart.

A delivery the function refuses for good (a 4xx other than 408/429) is not retried, with a
log line. One that fails for a passing reason (5xx, connection refused) is retried with
backoff until ``max_age_s``, but never by sleeping in a worker: the retry is due at a time
that a later scan looks at, so a poisoned object never holds a worker that a normal file
needs. A retry whose object was deleted or replaced meanwhile is dropped. Objects whose
names the service keeps for itself (``ocr_core.jobs.layout``) are never delivered.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ocr_core.config import Settings
from ocr_core.errors import OcrError
from ocr_core.jobs.events import FINALIZED
from ocr_core.jobs.layout import reserved_reason
from ocr_core.logs import get_logger
from ocr_core.storage.base import ObjectInfo
from ocr_core.storage.local import LocalBucket

from .polling import Poller

log = get_logger("local.watcher")


def finalized_event(info: ObjectInfo) -> tuple[dict[str, str], bytes]:
    """Headers and body of the CloudEvent Eventarc sends for a finalized object."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    headers = {
        "ce-specversion": "1.0",
        "ce-id": uuid.uuid4().hex,
        "ce-type": FINALIZED,
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{info.bucket}",
        "ce-subject": f"objects/{info.name}",
        "ce-time": now,
        "Content-Type": "application/json",
    }
    body = {
        "kind": "storage#object",
        "bucket": info.bucket,
        "name": info.name,
        "generation": str(info.generation),
        "metageneration": "1",
        "size": str(info.size),
        "contentType": info.content_type or "application/octet-stream",
        "timeCreated": info.updated,
        "updated": info.updated,
    }
    return headers, json.dumps(body).encode()


#: Answers that mean "the same event will be refused again": not retried.
_RETRYABLE_4XX = (408, 429)
MAX_BACKOFF_S = 30.0


@dataclass(order=True)
class _Retry:
    due: float
    order: int
    info: ObjectInfo = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    body: bytes = field(compare=False)
    started: float = field(compare=False)
    attempt: int = field(compare=False)
    delay: float = field(compare=False)


class Watcher(Poller):
    def __init__(
        self,
        settings: Settings,
        ocr_url: str,
        *,
        interval_s: float = 0.3,
        settle_s: float = 0.5,
        max_age_s: float = 3600.0,
        workers: int = 2,
    ) -> None:
        super().__init__("watcher", interval_s, workers)
        self.settings = settings
        self.ocr_url = ocr_url
        self.settle_s = settle_s
        self.max_age_s = max_age_s
        self.input = LocalBucket(settings.data_dir, settings.input_bucket)
        self.results = LocalBucket(settings.data_dir, settings.results_bucket)
        self._seen: set[tuple[str, int]] = set()
        self._retries: list[_Retry] = []  # a heap, soonest first
        self._retries_guard = threading.Lock()
        self._order = itertools.count()

    def scan(self) -> int:
        """Deliver every settled object that has no result yet, and the retries now due;
        returns how many deliveries were started."""
        delivered = self._resubmit_due()
        now_ns = time.time_ns()
        for info in self.input.list():
            key = (info.name, info.generation)
            if key in self._seen:
                continue
            reason = reserved_reason(info.name, self.settings)
            if reason is not None:
                self._seen.add(key)
                if not self._is_results_area(info.name):
                    log.warning(
                        "object not delivered: its name is reserved",
                        extra={"object": info.name[:300], "reason": reason},
                    )
                continue
            if now_ns - info.generation < self.settle_s * 1e9:
                continue  # still being written (cp in progress): look again next scan
            self._seen.add(key)
            if self._has_result(info):
                continue
            # One event, redelivered as is: same id and time on every retry, as Eventarc
            # does (the OCR function drops events older than EVENT_MAX_AGE_S by that time).
            headers, body = finalized_event(info)
            first = _Retry(0.0, 0, info, headers, body, time.monotonic(), 0, 0.5)
            self._pool.submit(self._deliver, first)
            delivered += 1
        return delivered

    def pending_retries(self) -> int:
        with self._retries_guard:
            return len(self._retries)

    def _resubmit_due(self) -> int:
        now = time.monotonic()
        due: list[_Retry] = []
        with self._retries_guard:
            while self._retries and self._retries[0].due <= now:
                due.append(heapq.heappop(self._retries))
        started = 0
        for retry in due:
            try:
                current = self.input.stat(retry.info.name)
            except OcrError:  # cannot tell (the disk is busy): let the delivery find out
                current = retry.info
            if current is None or current.generation != retry.info.generation:
                log.info(
                    "retry dropped: the object was deleted or replaced",
                    extra={"object": retry.info.name, "attempts": retry.attempt},
                )
                continue
            self._pool.submit(self._deliver, retry)
            started += 1
        return started

    def _is_results_area(self, name: str) -> bool:
        s = self.settings
        return s.results_bucket_is_input and name.startswith(s.results_prefix)

    def _has_result(self, info: ObjectInfo) -> bool:
        name = self.settings.result_name(info.name)
        try:
            doc = json.loads(self.results.read(name))
            return int(doc["object"]["generation"]) >= info.generation
        except Exception:  # noqa: BLE001 - absent or unreadable result: deliver again
            return False

    def _deliver(self, retry: _Retry) -> None:
        """One attempt; a passing failure is scheduled again, never waited for here."""
        if self._stop.is_set():
            return
        retry.attempt += 1
        name = retry.info.name
        request = urllib.request.Request(
            self.ocr_url, data=retry.body, headers=retry.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                response.read()
            log.info("event delivered", extra={"object": name, "attempt": retry.attempt})
            return
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
                log.error(
                    "event refused by the OCR function; not retried",
                    extra={"object": name, "status": exc.code, "attempt": retry.attempt},
                )
                return
            reason = f"HTTP {exc.code}"
        except ValueError as exc:  # urllib refuses the request itself: it always will
            log.error(
                "event cannot be sent; not retried", extra={"object": name, "reason": str(exc)}
            )
            return
        except (urllib.error.URLError, OSError) as exc:
            reason = type(exc).__name__
        if time.monotonic() - retry.started > self.max_age_s:
            log.error(
                "event dropped after retries",
                extra={"object": name, "attempts": retry.attempt, "reason": reason},
            )
            return
        log.warning(
            "event delivery failed; will retry",
            extra={
                "object": name,
                "attempt": retry.attempt,
                "reason": reason,
                "retry_in_s": retry.delay,
            },
        )
        retry.due = time.monotonic() + retry.delay
        retry.order = next(self._order)
        retry.delay = min(retry.delay * 2, MAX_BACKOFF_S)
        with self._retries_guard:
            heapq.heappush(self._retries, retry)
