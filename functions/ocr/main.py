"""OCR function (CloudEvent): object finalized in the input bucket -> result document.

Takes Eventarc's storage CloudEvent and Pub/Sub pushes of GCS notifications (which
functions-framework turns into a messagePublished CloudEvent). Logic: ocr_core.ocr_event.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from ocr_core import ocr_event


@functions_framework.cloud_event
def on_object_finalized(cloud_event: CloudEvent) -> None:
    ocr_event.handle(cloud_event)
