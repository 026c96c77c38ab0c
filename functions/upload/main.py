"""Upload function (HTTP): POST /extract-text. The logic lives in ocr_core.http.upload."""

from __future__ import annotations

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from ocr_core import engines
from ocr_core.http import guard, upload

# Routing errors Flask raises before the function runs answer JSON too, like ours.
functions_framework.errorhandler(HTTPException)(guard.http_error)
# The engine model loads in each worker as it starts, not on the first request.
engines.preload_in_workers()


@functions_framework.http
def extract_text(request: flask.Request) -> flask.Response:
    return upload.dispatch(request)
