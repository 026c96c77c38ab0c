"""The OCR function's body: one delivery -> a task run, or one object's stored result.

The one place that tells the kinds of work apart, and the only module that knows both the
image job and the document jobs (``tests/test_architecture.py`` holds it so):

* a task message: ``pages`` goes to the document jobs, ``plan`` to ``plan`` here;
* an object of a storage event goes to the image job, which hands it to
  ``start_for_object`` here once its bytes turn out to be a PDF or a multi-page TIFF;
* an object of an operation (a ``plan`` task) is told apart here, by its bytes: an image
  goes to the image job and its result is recorded in the operation, a document is
  planned page range by page range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocr_core import errors
from ocr_core.jobs import documents, operations
from ocr_core.jobs.context import JobContext
from ocr_core.jobs.events import EventError, parse_cloud_event
from ocr_core.jobs.images import Outcome
from ocr_core.jobs.images import process_object as process_image
from ocr_core.jobs.renditions import write_renditions
from ocr_core.jobs.store import load_json
from ocr_core.jobs.tasks import Task, parse_task
from ocr_core.jobs.vision_operations import after_task as vision_outputs_after_task
from ocr_core.logs import get_logger, log_context
from ocr_core.recognition.documents import document_kind
from ocr_core.schema import DocumentEntry, Error, ErrorDetail, Operation, error_body

log = get_logger("ocr")


def on_delivery(ctx: JobContext, cloud_event: Any) -> Outcome | None:
    """Process one delivery. Returns normally to acknowledge it; raises to have it retried."""
    with log_context(event_id=str(cloud_event["id"]), event_type=cloud_event["type"]):
        try:
            task = parse_task(cloud_event)
            if task is not None:  # a task of an operation (plan, or a page range)
                outcome = run_task(ctx, task)
                vision_outputs_after_task(ctx, task.operation)  # Vision's output files, once done
                return Outcome(f"task:{outcome}")
            event = parse_cloud_event(cloud_event)
        except EventError as exc:
            # Malformed deliveries cannot succeed later: acknowledge them, loudly.
            log.error("unusable event acknowledged without processing", extra={"reason": str(exc)})
            return None
        if event is None:
            log.info("event type not handled; acknowledged")
            return None
        with log_context(bucket=event.bucket, object=event.name, generation=event.generation):
            age_s = event_age_s(event.event_time)
            max_age_s = ctx.settings.event_max_age_s
            if max_age_s and age_s is not None and age_s > max_age_s:
                # Retries of an event that kept failing must end somewhere: acknowledge it.
                log.error(
                    "event older than EVENT_MAX_AGE_S dropped without processing",
                    extra={"age_s": round(age_s, 1), "max_age_s": max_age_s},
                )
                return None
            try:
                return process_object(ctx, event.bucket, event.name, event.generation)
            except errors.OcrError as exc:
                if not exc.permanent:
                    raise  # the platform delivers it again
                # Nothing a retry could change (the object cannot be read as one): say so once.
                log.error(
                    "object cannot be processed; event acknowledged",
                    extra={"code": exc.code, "reason": exc.message},
                )
                return None


def failed_delivery(exc: BaseException, http_status: int | None) -> tuple[int, dict[str, Any]]:
    """The JSON answer to a delivery that failed before or inside ``on_delivery``.

    What functions-framework could not even read as an event (a bad ``specversion``, a
    body that is not JSON or is nested past any parser, a push it cannot convert) will
    fail the same way on every redelivery: it is acknowledged with a 200 and a log line,
    so Pub/Sub and Eventarc do not redeliver it for days. A passing fault answers 503 and
    anything else 500, so that the platform retries (bounded by ``EVENT_MAX_AGE_S``).
    """
    # The first line only: functions-framework's own 400 goes on with the request's
    # headers (an Authorization header among them), which belong in no log.
    summary = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    permanent = isinstance(exc, errors.OcrError) and exc.permanent
    unreadable = permanent or (
        http_status in (400, 413, 415)
        or isinstance(exc, (RecursionError, UnicodeDecodeError, EventError))
    )
    if unreadable:
        log.error(
            "unusable delivery acknowledged without processing",
            extra={"reason": summary},
        )
        return 200, {
            "acknowledged": True,
            "error": {"code": "invalid_event", "message": "The delivery is not a usable event"},
        }
    if http_status is not None:  # not a delivery at all: a GET, an unknown path
        return http_status, Error(False, ErrorDetail("invalid_request", summary)).to_dict()
    if isinstance(exc, errors.OcrError):
        log.warning("delivery failed; it will be retried", extra={"code": exc.code})
        return exc.status, error_body(exc)
    log.exception("unhandled error processing a delivery; it will be retried")
    detail = ErrorDetail("internal_error", "Internal error; it has been logged")
    return 500, Error(False, detail).to_dict()


def event_age_s(event_time: str | None, now: datetime | None = None) -> float | None:
    """Seconds since the event happened (CloudEvent ``time`` / Pub/Sub ``publishTime``)."""
    if not event_time or not isinstance(event_time, str):
        return None
    try:
        happened = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except ValueError:
        log.warning("event time unreadable; age not checked", extra={"time": event_time[:64]})
        return None
    if happened.tzinfo is None:
        happened = happened.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - happened).total_seconds()


def process_object(ctx: JobContext, bucket: str, name: str, generation: int | None) -> Outcome:
    """One object of the input bucket -> its result (an image) or its operation (a document)."""
    return process_image(ctx, bucket, name, generation, on_document=start_for_object)


def start_for_object(
    ctx: JobContext, bucket: str, name: str, generation: int, data: bytes
) -> Operation:
    """A document landed in the input bucket: start (or find) its operation and plan it
    with the bytes already read. A duplicate event finds the first operation."""
    op, tasks = documents.open_operation(ctx, bucket, name, generation)
    for task in tasks:
        plan(ctx, task, data)
    return operations.get(ctx.settings, operations.store_id(op)) or op


def run_task(ctx: JobContext, task: Task) -> str:
    """Run one delivered task; returns what happened. Raises TransientError to be retried."""
    with log_context(operation=task.operation, document=task.index, task=task.kind):
        if task.kind == "plan":
            return plan(ctx, task)
        return documents.run_pages(ctx, task)


def plan(ctx: JobContext, task: Task, data: bytes | None = None) -> str:
    """Plan one object of an operation (``data``: its bytes, when read already): an image
    is done whole by the image job, a document is queued page range by page range."""
    found = documents.queued(ctx, task)
    if isinstance(found, str):
        return found
    op, entry = found

    def route() -> str:
        current = documents.current_bytes(ctx, task, entry, data)
        if current is None:
            return "reused"
        kind = document_kind(current)
        if kind is None:
            return _image_of_operation(ctx, task, op, entry)
        return documents.plan_document(ctx, task, entry, current, kind)

    return documents.fail_on_permanent(ctx, task, route)


def _image_of_operation(ctx: JobContext, task: Task, op: Operation, entry: DocumentEntry) -> str:
    """A plain image in an operation: the image job does it, one page, and the operation
    records its result."""
    obj = entry.object
    generation = int(obj.generation or 0)
    outcome = process_image(ctx, obj.bucket, obj.name, generation, on_document=start_for_object)
    if outcome.action == "ignored":  # a name no result can be stored under: never retried
        raise errors.InvalidObjectName(f"The object name {obj.name[:200]!r} is not usable")
    # A duplicate or a stale delivery carries no document: the stored one is the result.
    result = outcome.document or load_json(ctx.results, ctx.settings.result_name(obj.name))
    if result is None:
        raise errors.StorageError("The image result did not appear; retry")
    formats = (op.metadata.request or {}).get("output_formats")
    if formats:  # the operation's own choice of files (docs/formats.md)
        write_renditions(ctx.settings, result, tuple(formats), retry=False)
    documents.record_result(ctx, task, result)
    return "image"
