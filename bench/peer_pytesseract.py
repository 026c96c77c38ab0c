"""The peers' way, for comparison in bench/speed.py: a plain pytesseract-in-Flask handler.

What the seed projects do: a Flask route that reads ``request.files['image']``, opens it
with PIL and returns ``pytesseract.image_to_string``, which runs the ``tesseract`` CLI
(model loaded again on every call). Served by functions-framework like our functions, so
the web server is the same on both sides of the comparison. Not part of the service.
"""

from __future__ import annotations

import flask
import functions_framework
import pytesseract
from PIL import Image


@functions_framework.http
def extract_text(request: flask.Request) -> flask.Response:
    image = Image.open(request.files["image"])
    return flask.jsonify({"success": True, "text": pytesseract.image_to_string(image)})
