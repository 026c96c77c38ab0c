"""Stored JSON documents: one loader with one error policy, and one conditional write.

Every document the service stores for an object (a result, a shard) names the object
generation it is for. ``write_if_newer`` is the one place that reads which generation is
stored and writes with a precondition on what it read, so that a stale or duplicate
delivery never overwrites a newer result, whatever the order events arrive in.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from ocr_core import errors
from ocr_core.storage import Bucket, PreconditionFailed

#: What ``load_json`` does with an object that is there but is not a JSON object.
Unreadable = Literal["absent", "error"]


def load_json(
    bucket: Bucket, name: str, *, unreadable: Unreadable = "absent", what: str = "document"
) -> dict[str, Any] | None:
    """The JSON object stored at ``name``; None when there is none. An object that is not
    JSON is absent too (``"absent"``: a foreign or damaged document is not ours to serve),
    or a ``StorageError`` (``"error"``: where a client must hear that it is damaged; ``what``
    names it in the message, which never carries the object's name)."""
    try:
        raw = bucket.read(name)
    except errors.NotFound:
        return None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        if unreadable == "error":
            raise errors.StorageError(f"The stored {what} is unreadable") from exc
        return None
    return body if isinstance(body, dict) else None


def stored_generation(bucket: Bucket, name: str) -> tuple[int | None, int]:
    """(the object generation the document at ``name`` is for, the document's own storage
    generation): (None, 0) when there is none; (None, its generation) when it names none."""
    info = bucket.stat(name)
    if info is None:
        return None, 0
    body = load_json(bucket, name)
    try:
        return int(body["object"]["generation"]), info.generation  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        # Unreadable or foreign document: treat as absent but keep the precondition exact.
        return None, info.generation


def write_if_newer(
    bucket: Bucket,
    name: str,
    body: dict[str, Any],
    generation: int,
    *,
    keep_same: bool = False,
    known: tuple[int | None, int] | None = None,
    attempts: int = 5,
) -> bool:
    """Store ``body`` (a document for object ``generation``) at ``name`` unless one for a
    newer generation (with ``keep_same``, also for this one) is there. ``known`` is what
    ``stored_generation`` said a moment ago, which saves reading it again. Returns whether
    it wrote; raises ``StorageError`` when other writers keep winning the race."""
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    for _ in range(attempts):
        stored, storage_generation = known or stored_generation(bucket, name)
        known = None
        if stored is not None and (stored > generation or (keep_same and stored == generation)):
            return False
        try:
            bucket.write(name, payload, "application/json", if_generation_match=storage_generation)
            return True
        except PreconditionFailed:
            continue  # another writer came first: look at what it wrote
    raise errors.StorageError(f"Writing {name[:200]!r} kept racing with other writers; retry")
