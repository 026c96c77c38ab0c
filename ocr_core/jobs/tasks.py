"""Work items of an operation and the queue that carries them to the OCR function.

Two kinds of task: ``plan`` (open one document of an operation, count its pages and queue
its page ranges) and ``pages`` (OCR one page range into one shard). In the cloud they are
Pub/Sub messages on ``TASKS_TOPIC`` whose push subscription reaches the OCR function, so a
long document fans out over many function instances and none is bound to one timeout;
an unacknowledged task is delivered again, which is what makes a crash lose nothing.
Locally the queue is a folder of JSON files that the local stack's task pusher delivers
the same way (``ocr_local.task_pusher``); a file is deleted only once delivered.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ocr_core.config import Settings
from ocr_core.jobs.events import PUBSUB_PUBLISHED, EventError
from ocr_core.logs import get_logger

log = get_logger("tasks")

#: The message attribute that tells a task from a storage notification on the same push.
ATTRIBUTE = "ocrTask"
KINDS = ("plan", "pages")
PUBLISH_TIMEOUT_S = 60


@dataclass(frozen=True)
class Task:
    kind: str
    operation: str  # operation id
    index: int  # which document of the operation
    first: int = 0  # pages tasks: the range, 1-based inclusive
    last: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_dict(cls, data: Any) -> Task:
        try:
            task = cls(
                kind=str(data["kind"]),
                operation=str(data["operation"]),
                index=int(data["index"]),
                first=int(data.get("first", 0)),
                last=int(data.get("last", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EventError("task message is not a task") from exc
        if task.kind not in KINDS or task.index < 0:
            raise EventError(f"unknown task kind {task.kind!r}")
        if task.kind == "pages" and not 1 <= task.first <= task.last:
            raise EventError("pages task without a valid page range")
        return task


class TaskQueue(Protocol):
    def publish(self, tasks: list[Task]) -> None: ...


class LocalQueue:
    """A folder of task files, oldest first by name; written atomically (temp + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def publish(self, tasks: list[Task]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for task in tasks:
            name = f"{time.time_ns():020d}-{secrets.token_hex(4)}-{task.kind}.json"
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(task.to_json())
            os.replace(tmp, self.folder / name)


class PubSubQueue:
    """Publishes tasks to a Pub/Sub topic (google-cloud-pubsub, imported on first use)."""

    def __init__(self, topic: str) -> None:
        from google.cloud import pubsub_v1  # no cloud SDK at module load

        self.topic = topic
        self.client = pubsub_v1.PublisherClient()

    def publish(self, tasks: list[Task]) -> None:
        futures = [
            self.client.publish(self.topic, task.to_json(), **{ATTRIBUTE: task.kind})
            for task in tasks
        ]
        for future in futures:
            # Raises on failure: the caller's own delivery is then retried, and tasks are
            # idempotent, so a task published twice costs a little time and nothing else.
            future.result(timeout=PUBLISH_TIMEOUT_S)


def local_queue_folder(settings: Settings) -> Path:
    return settings.data_dir / ".queue" / "ocr-tasks"


@functools.lru_cache(maxsize=4)
def _queue(kind: str, topic: str, folder: str) -> TaskQueue:
    if kind == "pubsub":
        return PubSubQueue(topic)
    return LocalQueue(Path(folder))


def get_queue(settings: Settings) -> TaskQueue:
    return _queue(settings.task_queue, settings.tasks_topic, str(local_queue_folder(settings)))


def publish(settings: Settings, tasks: list[Task]) -> None:
    if tasks:
        get_queue(settings).publish(tasks)
        log.info(
            "tasks queued",
            extra={"count": len(tasks), "operation": tasks[0].operation, "kind": tasks[0].kind},
        )


def parse_task(cloud_event: Any) -> Task | None:
    """The task a Pub/Sub push carries, or None when the event is something else."""
    if cloud_event["type"] != PUBSUB_PUBLISHED:
        return None
    data = cloud_event.data
    if isinstance(data, (bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            return None  # not a task: parse_cloud_event says what it is
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        return None
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or ATTRIBUTE not in attributes:
        return None
    try:
        body = json.loads(base64.b64decode(message.get("data") or "", validate=True))
    except (binascii.Error, ValueError, TypeError, RecursionError) as exc:
        raise EventError("task message data is not base64 JSON") from exc
    return Task.from_dict(body)
