"""Local events: the ``gsutil cp`` -> Eventarc path of the laptop.

Polls the input bucket's folder and, for each object that has settled (not modified for
``settle_s``) and has no result for its generation yet, POSTs a binary-mode
``google.cloud.storage.object.v1.finalized`` CloudEvent to the OCR function, as Eventarc
would. Deliveries that fail are retried with backoff until ``max_age_s``; objects found at
start without a result are delivered too, so nothing is lost across a restart.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

from ocr_core.config import Settings
from ocr_core.jobs.events import FINALIZED
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

    def scan(self) -> int:
        """Deliver every settled object that has no result yet; returns how many."""
        delivered = 0
        now_ns = time.time_ns()
        for info in self.input.list():
            key = (info.name, info.generation)
            if key in self._seen:
                continue
            if self._is_results_area(info.name):
                self._seen.add(key)
                continue
            if now_ns - info.generation < self.settle_s * 1e9:
                continue  # still being written (cp in progress): look again next scan
            self._seen.add(key)
            if self._has_result(info):
                continue
            self._pool.submit(self._deliver, info)
            delivered += 1
        return delivered

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

    def _deliver(self, info: ObjectInfo) -> None:
        started = time.monotonic()
        delay = 0.5
        attempt = 0
        # One event, redelivered as is: same id and time on every retry, as Eventarc does
        # (the OCR function drops events older than EVENT_MAX_AGE_S by that time).
        headers, body = finalized_event(info)
        while not self._stop.is_set():
            attempt += 1
            request = urllib.request.Request(
                self.ocr_url, data=body, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    response.read()
                log.info("event delivered", extra={"object": info.name, "attempt": attempt})
                return
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                reason = type(exc).__name__
            if time.monotonic() - started > self.max_age_s:
                log.error(
                    "event dropped after retries",
                    extra={"object": info.name, "attempts": attempt, "reason": reason},
                )
                return
            log.warning(
                "event delivery failed; will retry",
                extra={
                    "object": info.name,
                    "attempt": attempt,
                    "reason": reason,
                    "retry_in_s": delay,
                },
            )
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)
