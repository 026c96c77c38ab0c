"""OCR function (CloudEvent): object finalized in the input bucket -> result document.

Takes Eventarc's storage CloudEvent and Pub/Sub pushes of GCS notifications (which
functions-framework turns into a messagePublished CloudEvent). Logic: ocr_core.jobs.dispatch.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from ocr_core import engines
from ocr_core.jobs import dispatch

# The engine model loads in each worker as it starts, not on the first event.
engines.preload_in_workers()


@functions_framework.cloud_event
def on_object_finalized(cloud_event: CloudEvent) -> None:
    dispatch.handle(cloud_event)
