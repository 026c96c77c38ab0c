"""Upload function (HTTP): POST /extract-text. The logic lives in ocr_core.upload_api."""

from __future__ import annotations

import flask
import functions_framework

from ocr_core import upload_api


@functions_framework.http
def extract_text(request: flask.Request) -> flask.Response:
    return upload_api.handle(request)
