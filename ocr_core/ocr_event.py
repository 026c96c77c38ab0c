"""The OCR function's body: one storage event -> one stored result document."""

from __future__ import annotations

from typing import Any

from .config import get_settings
from .document_jobs import run_task
from .events import EventError, parse_cloud_event
from .logs import get_logger, log_context, setup_logging
from .pipeline import Outcome, process_object
from .tasks import parse_task

log = get_logger("ocr")


def handle(cloud_event: Any) -> Outcome | None:
    """Process one delivery. Returns normally to acknowledge it; raises to have it retried."""
    setup_logging(get_settings().log_level)
    with log_context(event_id=str(cloud_event["id"]), event_type=cloud_event["type"]):
        try:
            task = parse_task(cloud_event)
            if task is not None:  # a page-range task of an operation (document_jobs)
                return Outcome(f"task:{run_task(task)}")
            event = parse_cloud_event(cloud_event)
        except EventError as exc:
            # Malformed deliveries cannot succeed later: acknowledge them, loudly.
            log.error("unusable event acknowledged without processing", extra={"reason": str(exc)})
            return None
        if event is None:
            log.info("event type not handled; acknowledged")
            return None
        with log_context(bucket=event.bucket, object=event.name, generation=event.generation):
            return process_object(event.bucket, event.name, event.generation)
