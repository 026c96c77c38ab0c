"""Storage events in, one ``ObjectEvent`` out.

Two deliveries reach the OCR function:

* an Eventarc CloudEvent ``google.cloud.storage.object.v1.finalized`` (binary mode), whose
  data is the object's JSON resource;
* a Pub/Sub push of a Cloud Storage notification, which functions-framework hands over as
  a ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent; the object is named by
  the message attributes (``bucketId``, ``objectId``, ``objectGeneration``, ``eventType``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
NOTIFICATION_FINALIZE = "OBJECT_FINALIZE"


class EventError(ValueError):
    """The delivery cannot name an object; retrying it will not help."""


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    name: str
    generation: int | None
    event_id: str
    event_time: str | None


def _generation(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise EventError(f"generation is not a number: {value!r}") from exc


def _time(value: Any) -> str | None:
    """An event time as sent; one that is not a string (``publishTime: 1733222400``) stays
    visible, as text that the age check reports as unreadable."""
    if value is None or isinstance(value, str):
        return value
    return repr(value)[:64]


def _as_dict(data: Any) -> dict[str, Any]:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = json.loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EventError("event data is not JSON") from exc
    if not isinstance(data, dict):
        raise EventError("event data is not a JSON object")
    return data


def parse_cloud_event(event: Any) -> ObjectEvent | None:
    """The object a CloudEvent is about, or None for events this function does not handle."""
    event_type = event["type"]
    event_id = str(event["id"])
    event_time = event.get("time") if hasattr(event, "get") else None
    if event_type == FINALIZED:
        data = _as_dict(event.data)
        bucket, name = data.get("bucket"), data.get("name")
        if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
            raise EventError("storage event without bucket or name")
        return ObjectEvent(
            bucket,
            name,
            _generation(data.get("generation")),
            event_id,
            _time(event_time),
        )
    if event_type == PUBSUB_PUBLISHED:
        return _from_pubsub(_as_dict(event.data), event_id, event_time)
    return None


def _from_pubsub(data: dict[str, Any], event_id: str, event_time: str | None) -> ObjectEvent | None:
    message = data.get("message")
    if not isinstance(message, dict):
        raise EventError("Pub/Sub event without a message")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise EventError("Pub/Sub message attributes are not an object")
    if attributes.get("eventType", NOTIFICATION_FINALIZE) != NOTIFICATION_FINALIZE:
        return None  # deletes, archives and metadata updates are not ours
    bucket, name = attributes.get("bucketId"), attributes.get("objectId")
    generation = attributes.get("objectGeneration")
    if not (bucket and name) and message.get("data"):
        try:
            resource = json.loads(base64.b64decode(message["data"], validate=True))
        except (binascii.Error, ValueError, TypeError, RecursionError) as exc:
            raise EventError("Pub/Sub message data is not base64 JSON") from exc
        if isinstance(resource, dict):
            bucket, name = resource.get("bucket"), resource.get("name")
            generation = resource.get("generation")
    if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
        raise EventError("Pub/Sub message names no object")
    message_id = str(message.get("messageId") or event_id)
    times = (attributes.get("eventTime"), message.get("publishTime"), event_time)
    return ObjectEvent(
        bucket,
        name,
        _generation(generation),
        message_id,
        _time(next((t for t in times if t), None)),
    )
