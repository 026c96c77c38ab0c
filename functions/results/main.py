"""Results function (HTTP): GET /results/<object name>. The logic lives in ocr_core.http.results."""

from __future__ import annotations

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from ocr_core import runtime
from ocr_core.http import guard, results

# Routing errors Flask raises before the function runs answer JSON too, like ours.
functions_framework.errorhandler(HTTPException)(guard.http_error)
# Settings are read as the function loads: a bad one stops it here, by name.
runtime.current()


@functions_framework.http
def get_result(request: flask.Request) -> flask.Response:
    # The process's settings and what is built from them, read once (ocr_core.runtime).
    return results.dispatch(request, runtime.current())
