"""OCR function (CloudEvent): object finalized in the input bucket -> result document.

Takes Eventarc's storage CloudEvent and Pub/Sub pushes of GCS notifications (which
functions-framework turns into a messagePublished CloudEvent). Logic: ocr_core.jobs.dispatch.
"""

from __future__ import annotations

import json

import flask
import functions_framework
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException

from ocr_core import runtime
from ocr_core.jobs import dispatch

# The engine model loads in each worker as it starts, not on the first event.
runtime.current().jobs.engines.preload_in_workers()


@functions_framework.cloud_event
def on_object_finalized(cloud_event: CloudEvent) -> None:
    # The process's settings and what is built from them, read once (ocr_core.runtime).
    dispatch.on_delivery(runtime.current().jobs, cloud_event)


@functions_framework.errorhandler(Exception)
def answer_json(exc: Exception) -> flask.Response:
    """Every failure answers JSON, never the framework's HTML; what can never succeed is
    acknowledged (dispatch.failed_delivery says which)."""
    if isinstance(exc, HTTPException):
        status = exc.code
    elif isinstance(exc, CloudEventError):  # the SDK could not read it (data past any parser)
        status = 400
    else:
        status = None
    status, body = dispatch.failed_delivery(exc, status)
    return flask.Response(json.dumps(body), status, mimetype="application/json")


def acknowledge_in_json(response: flask.Response) -> flask.Response:
    """functions-framework answers a handled event with a plain "OK" (text/html): say the
    same in JSON, as every other answer is."""
    if response.status_code == 200 and response.mimetype == "text/html":
        response.set_data(json.dumps({"acknowledged": True}))
        response.mimetype = "application/json"
    return response


# functions-framework loads this module inside its app's context (a bare import has none).
if flask.has_app_context():
    flask.current_app.after_request(acknowledge_in_json)
