"""Long-running operations, stored as JSON documents in the results bucket.

Shaped like google.longrunning's ``Operation``: ``name`` (``operations/<id>``), ``done``,
``metadata`` (state, progress, timestamps, one entry per document) and, once finished,
``response`` (where the results are) or ``error``. Callers hold them typed
(``schema.Operation``, ``schema.DocumentEntry``); the store holds their JSON, written back
byte for byte as read apart from what a change set. Every function instance reads and
writes them through the Bucket port; concurrent updates go through ``update``, a
read-modify-write loop made safe by the object generation precondition.

An index object per source object generation (``by-object/<sha>.json``) names the
operation that processes it: it lets a duplicate storage event find the operation already
started, and the results function report a document's progress while it is pending.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.jobs import progress
from ocr_core.jobs.layout import operations_prefix
from ocr_core.jobs.store import load_json
from ocr_core.logs import get_logger
from ocr_core.schema import (
    DocumentEntry,
    ErrorDetail,
    ObjectRef,
    Operation,
    OperationMetadata,
    ResultRef,
    utc_now,
)
from ocr_core.storage import Bucket, PreconditionFailed, open_bucket

log = get_logger("operations")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
TERMINAL = (DONE, FAILED, CANCELLED)
#: A document's state machine: the states each may move to. Terminal states never change,
#: so a late or duplicate task cannot undo a cancel or a finished result.
NEXT: dict[str, frozenset[str]] = {
    QUEUED: frozenset({RUNNING, DONE, FAILED, CANCELLED}),
    RUNNING: frozenset({DONE, FAILED, CANCELLED}),
    DONE: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}
#: What ``move`` may set beside the state: the entry's fields.
_SETTABLE = frozenset(f.name for f in dataclasses.fields(DocumentEntry)) - {"state"}
_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,79}$")
UPDATE_ATTEMPTS = 50


def _bucket(settings: Settings) -> Bucket:
    return open_bucket(settings, settings.results_bucket)


def _path(settings: Settings, op_id: str) -> str:
    return f"{operations_prefix(settings)}{op_id}.json"


def _index_path(settings: Settings, bucket: str, name: str, generation: int | str) -> str:
    key = hashlib.sha256(f"{bucket}\0{name}\0{generation}".encode()).hexdigest()
    return f"{operations_prefix(settings)}by-object/{key}.json"


def new_id() -> str:
    """Time-ordered ids: the listing (by name) comes back in creation order."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
    return f"{stamp}{now // 1000 % 10**6:06d}Z-{secrets.token_hex(5)}"


def validate_id(op_id: str) -> str:
    if not _ID.match(op_id):
        raise errors.NotFound(f"No operation named {op_id!r}", operation=op_id)
    return op_id


def document_entry(settings: Settings, bucket: str, name: str, generation: int) -> DocumentEntry:
    return DocumentEntry(
        object=ObjectRef.of(bucket, name, generation),
        state=QUEUED,
        kind=None,
        page_count=None,
        pages_done=0,
        shards_total=None,
        shards_done=[],
        result=ResultRef(settings.results_bucket, settings.result_name(name)),
        shards=[],
        error=None,
    )


def move(
    entry: DocumentEntry, state: str, *, only_from: tuple[str, ...] = (), **fields: Any
) -> bool:
    """The one way a document entry changes state: to ``state`` (with ``fields``, named as
    ``DocumentEntry``'s) when the state machine allows it from its current state (and that
    state is in ``only_from``, when given). False, and nothing changed, otherwise."""
    if not fields.keys() <= _SETTABLE:
        raise TypeError(f"a document entry has no {sorted(fields.keys() - _SETTABLE)}")
    current = entry.state
    if state not in NEXT[current] or (only_from and current not in only_from):
        return False
    entry.state = state  # type: ignore[assignment]  # one of NEXT's, so a State
    for name, value in fields.items():
        setattr(entry, name, value)
    return True


def new_operation(
    op_id: str, documents: list[DocumentEntry], trigger: str, request: dict[str, Any]
) -> Operation:
    now = utc_now()
    op = Operation(
        name=f"operations/{op_id}",
        done=False,
        metadata=OperationMetadata(
            state=QUEUED,
            trigger=trigger,
            request=request,
            create_time=now,
            update_time=now,
            end_time=None,
            progress={},
            documents=documents,
        ),
    )
    refresh_progress(op)
    return op


def store_id(op: Operation) -> str:
    """The store id of ``op`` (its name without ``operations/``)."""
    return op.name.split("/", 1)[1]


def _payload(op: Operation) -> bytes:
    return json.dumps(op.to_dict(), ensure_ascii=False).encode()


def create(settings: Settings, op: Operation) -> Operation:
    _bucket(settings).write(
        _path(settings, store_id(op)), _payload(op), "application/json", if_generation_match=0
    )
    return op


def get(settings: Settings, op_id: str) -> Operation | None:
    op, _ = _read(settings, validate_id(op_id))
    return op


def require(settings: Settings, op_id: str) -> Operation:
    """The operation as clients see it: with its running documents' page progress."""
    op = get(settings, op_id)
    if op is None:
        raise errors.NotFound(f"No operation named {op_id!r}", operation=op_id)
    return with_progress(settings, op)


def _read(settings: Settings, op_id: str) -> tuple[Operation | None, int]:
    bucket = _bucket(settings)
    info = bucket.stat(_path(settings, op_id))
    if info is None:
        return None, 0
    stored = load_json(
        bucket, _path(settings, op_id), unreadable="error", what=f"operation {op_id}"
    )
    if stored is None and not bucket.stat(_path(settings, op_id)):
        return None, 0  # deleted between the two looks
    op = _operation(stored)
    if op is None:
        # Not one of ours (written over by hand?): absent, rather than a 500 for ever.
        log.error("stored operation is not an operation; ignored", extra={"operation": op_id})
        return None, info.generation
    return op, info.generation


def _operation(stored: Any) -> Operation | None:
    meta = stored.get("metadata") if isinstance(stored, dict) else None
    if not (
        isinstance(meta, dict)
        and isinstance(meta.get("documents"), list)
        and isinstance(stored.get("name"), str)
        and "done" in stored
    ):
        return None
    try:
        return Operation.from_dict(stored)
    except ValueError:
        return None


def update(
    settings: Settings, op_id: str, mutate: Callable[[Operation], bool | None]
) -> Operation | None:
    """Apply ``mutate`` to the stored operation and write it back, retrying when another
    writer got there first. ``mutate`` returns False to leave the operation unchanged.
    Returns the operation as stored afterwards (None when it does not exist)."""
    bucket = _bucket(settings)
    for attempt in range(UPDATE_ATTEMPTS):
        op, generation = _read(settings, op_id)
        if op is None:
            return None
        if mutate(op) is False:
            return op
        op.metadata.update_time = utc_now()
        refresh_progress(op)
        payload = _payload(op)
        try:
            bucket.write(
                _path(settings, op_id), payload, "application/json", if_generation_match=generation
            )
            return op
        except PreconditionFailed:
            time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + secrets.randbelow(100) / 100))
    raise errors.StorageError(f"Operation {op_id} is too busy to update; retry")


def refresh_progress(op: Operation) -> None:
    """Recompute ``metadata.progress`` after the documents' counts changed."""
    meta = op.metadata
    docs = meta.documents
    total = sum(d.page_count or 0 for d in docs)
    done_pages = sum(d.pages_done for d in docs)
    meta.progress = {
        "pages_done": done_pages,
        "pages_total": total,
        "documents_done": sum(d.state in TERMINAL for d in docs),
        "documents_total": len(docs),
        # Pages of documents not yet opened are unknown: the percentage counts documents
        # until every page count is known.
        "percent": _percent(docs, done_pages, total),
    }


def _percent(docs: list[DocumentEntry], done_pages: int, total: int) -> int:
    if docs and all(d.state in TERMINAL for d in docs):
        return 100
    if total and all(d.page_count is not None or d.state in TERMINAL for d in docs):
        return min(99, done_pages * 100 // total)
    return min(99, sum(d.state in TERMINAL for d in docs) * 100 // max(1, len(docs)))


def settle(op: Operation) -> None:
    """Mark ``op`` finished once every document is: done if any document succeeded,
    failed (with the first document's error) if all failed."""
    meta = op.metadata
    if op.done or meta.state == CANCELLED:
        return
    docs = meta.documents
    if any(d.state in (QUEUED, RUNNING) for d in docs):
        if meta.state == QUEUED and any(d.state != QUEUED for d in docs):
            meta.state = RUNNING
        return
    op.done = True
    meta.end_time = utc_now()
    if docs and all(d.state == FAILED for d in docs):
        meta.state = FAILED
        first = docs[0]
        error = first.error or ErrorDetail("internal_error", "failed")
        message = error.message
        if len(docs) > 1:
            message = f"Every document failed; the first: {message}"
        op.error = ErrorDetail(error.code, message, {"object": first.object.name})
    else:
        meta.state = DONE
    op.response = {
        "documents": [
            {
                "object": d.object.to_dict(),
                "state": d.state,
                "result": d.result.to_dict(),
                "shards": list(d.shards),
                **({"error": d.error.to_dict()} if d.error else {}),
            }
            for d in docs
        ]
    }


def cancel(settings: Settings, op_id: str) -> tuple[Operation, list[DocumentEntry]]:
    """Cancel ``op_id``: pending pages are skipped from now on. Returns the operation and
    the documents this cancel stopped. Cancelling twice is harmless; a finished operation
    cannot be cancelled."""
    stopped: list[DocumentEntry] = []

    def mutate(op: Operation) -> bool:
        stopped.clear()
        meta = op.metadata
        if meta.state == CANCELLED:
            return False
        if op.done:
            raise errors.OperationFinished(
                f"Operation {op_id} has already finished ({meta.state})",
                state=meta.state,
            )
        meta.state = CANCELLED
        meta.end_time = utc_now()
        op.done = True
        op.error = ErrorDetail("cancelled", "The operation was cancelled")
        for doc in meta.documents:
            if move(doc, CANCELLED):
                stopped.append(doc)
        return True

    op = update(settings, validate_id(op_id), mutate)
    if op is None:
        raise errors.NotFound(f"No operation named {op_id!r}", operation=op_id)
    return with_progress(settings, op), list(stopped)


def list_page(
    settings: Settings, page_size: int, page_token: str | None
) -> tuple[list[Operation], str | None]:
    """Operations in creation order, ``page_size`` at a time; the token is opaque."""
    after = _decode_token(page_token) if page_token else ""
    prefix = operations_prefix(settings)
    names = []
    for info in _bucket(settings).list(prefix):
        rest = info.name[len(prefix) :]
        if "/" in rest or not rest.endswith(".json"):
            continue  # the by-object index, or something that is not ours
        op_id = rest[: -len(".json")]
        if op_id > after:
            names.append(op_id)
    names.sort()
    page = names[:page_size]
    ops = [
        with_progress(settings, op)
        for op in (get(settings, op_id) for op_id in page)
        if op is not None
    ]
    next_token = _encode_token(page[-1]) if len(names) > page_size else None
    return ops, next_token


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not _ID.match(value):
        raise errors.InvalidRequest(
            "page_token is not one this service gave", parameter="page_token"
        )
    return value


# --- which operation processes an object generation ----------------------------------


def claim_object(
    settings: Settings, bucket: str, name: str, generation: int, op_id: str, *, replace: bool
) -> str:
    """Record ``op_id`` as the operation for this object generation and return the
    operation that holds it: ours, or with ``replace=False`` one that claimed it first."""
    path = _index_path(settings, bucket, name, generation)
    payload = json.dumps({"operation": op_id}).encode()
    results = _bucket(settings)
    try:
        results.write(path, payload, "application/json", if_generation_match=None if replace else 0)
        return op_id
    except PreconditionFailed:
        holder = operation_for_object(settings, bucket, name, generation)
        return holder or op_id


def operation_for_object(
    settings: Settings, bucket: str, name: str, generation: int | str
) -> str | None:
    op_id = (
        load_json(_bucket(settings), _index_path(settings, bucket, name, generation)) or {}
    ).get("operation")
    return op_id if isinstance(op_id, str) and _ID.match(op_id) else None


def progress_for_object(
    settings: Settings, bucket: str, name: str, generation: int | str
) -> dict[str, Any]:
    """For a pending result: the operation processing the object and its pages done."""
    op_id = operation_for_object(settings, bucket, name, generation)
    if op_id is None:
        return {}
    op = get(settings, op_id)
    if op is None:
        return {}
    with_progress(settings, op)
    for doc in op.metadata.documents:
        if doc.object.name == name and doc.object.generation == str(generation):
            return {
                "operation": op.name,
                "progress": {"pages_done": doc.pages_done, "pages_total": doc.page_count},
            }
    return {"operation": op.name}


def with_progress(settings: Settings, op: Operation) -> Operation:
    """Fill the ``shards_done`` and ``pages_done`` of documents running (or cancelled while
    running) from their markers: the operation document is not rewritten per shard.
    Returns ``op``, changed in place."""
    changed = False
    for index, doc in enumerate(op.metadata.documents):
        if doc.state not in (RUNNING, CANCELLED) or not doc.shards_total:
            continue
        done = progress.shards_done(settings, store_id(op), index)
        doc.shards_done = sorted(set(doc.shards_done) | set(done))
        doc.pages_done = max(doc.pages_done, progress.pages_done(done))
        changed = True
    if changed:
        refresh_progress(op)
    return op
