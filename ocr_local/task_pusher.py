"""Local Pub/Sub for operation tasks: the laptop's push subscription.

The functions queue tasks as files in ``DATA_DIR/.queue/ocr-tasks/`` (``ocr_core.jobs.tasks``).
This pusher delivers each to the OCR function as a Pub/Sub push (the JSON envelope a push
subscription POSTs), several at a time, and deletes a file only once the function
acknowledged it (2xx). A failed delivery is retried with backoff, as Pub/Sub does: the
retry is due at a later time, and the worker goes on to other tasks meanwhile, so a task
that keeps failing never holds up the rest of the queue. A task the function refuses for
good (a 4xx other than 408/429) is dropped with a log line. A task in flight when the
stack dies is still a file, so it is delivered again after a restart: that is how a
document resumes where it stopped.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocr_core.jobs.tasks import ATTRIBUTE
from ocr_core.logs import get_logger

from .polling import Poller

log = get_logger("local.tasks")

SUBSCRIPTION = "projects/local/subscriptions/ocr-tasks-push"

#: Delivers one push envelope; returns normally when acknowledged, raises otherwise.
Deliver = Callable[[dict[str, Any]], None]


def push_envelope(path: Path) -> dict[str, Any]:
    """What a Pub/Sub push subscription POSTs for the task stored in ``path``."""
    data = path.read_bytes()
    kind = json.loads(data).get("kind", "")
    published = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": {ATTRIBUTE: kind},
            "messageId": path.stem,
            "publishTime": published.isoformat().replace("+00:00", "Z"),
        },
        "subscription": SUBSCRIPTION,
    }


def http_deliver(url: str, timeout_s: float = 900) -> Deliver:
    def deliver(envelope: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url,
            data=json.dumps(envelope).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()

    return deliver


def pending(folder: Path) -> list[Path]:
    """Queued task files, oldest first (names start with the publish time)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))


def drain(folder: Path, deliver: Deliver, max_rounds: int = 1000) -> int:
    """Deliver queued tasks one by one until the queue is empty (tests, tools); tasks
    queued by a delivery are delivered too. Returns how many were delivered."""
    count = 0
    for _ in range(max_rounds):
        files = pending(folder)
        if not files:
            return count
        for path in files:
            deliver(push_envelope(path))
            path.unlink(missing_ok=True)
            count += 1
    raise RuntimeError(f"task queue {folder} did not drain in {max_rounds} rounds")


#: Answers after which the same task would be refused again: dropped, not retried.
_RETRYABLE_4XX = (408, 429)


class TaskPusher(Poller):
    def __init__(
        self,
        folder: Path,
        deliver: Deliver,
        *,
        workers: int = 2,
        interval_s: float = 0.2,
        max_backoff_s: float = 30.0,
    ) -> None:
        super().__init__("task-pusher", interval_s, workers)
        self.folder = folder
        self.deliver = deliver
        self.workers = workers
        self.max_backoff_s = max_backoff_s
        self._in_flight: set[str] = set()
        #: Task file -> (when its retry is due, the backoff after that, attempts so far).
        self._retry: dict[str, tuple[float, float, int]] = {}
        self._guard = threading.Lock()
        self._slots = threading.Semaphore(workers)

    def scan(self) -> None:
        for path in pending(self.folder):
            now = time.monotonic()
            with self._guard:
                waiting = self._retry.get(path.name)
                if path.name in self._in_flight or (waiting and waiting[0] > now):
                    continue
            # Oldest first, at most ``workers`` at a time: a document's plan runs before
            # its pages, and pages run in order.
            while not self._slots.acquire(timeout=0.5):
                if self._stop.is_set():
                    return
            with self._guard:
                self._in_flight.add(path.name)
            self._pool.submit(self._push, path)

    def _push(self, path: Path) -> None:
        """One delivery; a failed one is scheduled again rather than waited for here."""
        try:
            with self._guard:
                _, delay, attempt = self._retry.get(path.name, (0.0, 0.5, 0))
            attempt += 1
            try:
                envelope = push_envelope(path)
            except (FileNotFoundError, ValueError, AttributeError):
                # Gone (delivered meanwhile), or not a task at all: nothing to deliver.
                self._forget(path)
                return
            try:
                self.deliver(envelope)
                self._forget(path)
                return
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
                    log.error(
                        "task refused by the OCR function; dropped",
                        extra={"task": path.name, "status": exc.code, "attempt": attempt},
                    )
                    self._forget(path)
                    return
                reason = str(exc.code)
            except (urllib.error.URLError, OSError, RuntimeError) as exc:
                reason = str(getattr(exc, "code", "")) or type(exc).__name__
            log.warning(
                "task delivery failed; will retry",
                extra={
                    "task": path.name,
                    "attempt": attempt,
                    "reason": reason,
                    "retry_in_s": delay,
                },
            )
            with self._guard:
                self._retry[path.name] = (
                    time.monotonic() + delay,
                    min(delay * 2, self.max_backoff_s),
                    attempt,
                )
        finally:
            with self._guard:
                self._in_flight.discard(path.name)
            self._slots.release()

    def _forget(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        with self._guard:
            self._retry.pop(path.name, None)
