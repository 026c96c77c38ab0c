"""Upload function (HTTP): POST /extract-text. The logic lives in ocr_core.http.upload."""

from __future__ import annotations

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from ocr_core import runtime
from ocr_core.http import guard, upload
from ocr_core.http.vision import dispatch as vision_api

# Routing errors Flask raises before the function runs answer JSON too, like ours (under
# /v1 in Google's shape).
functions_framework.errorhandler(HTTPException)(vision_api.routing_error(guard.http_error))
# The engine model loads in each worker as it starts, not on the first request.
runtime.current().jobs.engines.preload_in_workers()


@functions_framework.http
def extract_text(request: flask.Request) -> flask.Response:
    # The process's settings and what is built from them, read once (ocr_core.runtime).
    return upload.dispatch(request, runtime.current())
