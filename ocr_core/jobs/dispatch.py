"""The OCR function's body: one delivery -> a task run, or one object's stored result.

The one place that tells the kinds of work apart: a task message goes to the document jobs;
an object goes to the image job, which hands it to the document jobs once its bytes turn
out to be a PDF or a multi-page TIFF.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocr_core import errors
from ocr_core.jobs.context import JobContext
from ocr_core.jobs.documents import run_task, start_for_object
from ocr_core.jobs.events import EventError, parse_cloud_event
from ocr_core.jobs.images import Outcome
from ocr_core.jobs.images import process_object as process_image
from ocr_core.jobs.tasks import parse_task
from ocr_core.jobs.vision_operations import after_task as vision_outputs_after_task
from ocr_core.logs import get_logger, log_context
from ocr_core.schema import Error, ErrorDetail, error_body

log = get_logger("ocr")


def on_delivery(ctx: JobContext, cloud_event: Any) -> Outcome | None:
    """Process one delivery. Returns normally to acknowledge it; raises to have it retried."""
    with log_context(event_id=str(cloud_event["id"]), event_type=cloud_event["type"]):
        try:
            task = parse_task(cloud_event)
            if task is not None:  # a page-range task of an operation (jobs.documents)
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
