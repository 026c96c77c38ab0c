"""A stand-in for the Cloud Vision service that replays a recorded real response.

Cloud Vision is the one thing the tests fake (there is no emulator). Two seams:

* ``RecordedVisionClient``: an object with the client's ``batch_annotate_images``, built
  from the recorded JSON through the library's own response types;
* ``VisionReplayServer``: Vision's REST API (``POST /v1/images:annotate``) on 127.0.0.1,
  which the real client reaches through ``VISION_ENDPOINT=http://127.0.0.1:PORT``, so the
  library's transport and JSON parsing run for real.

Both answer an image by its pixel size: the recorded response for ``document.jpg``'s
size, a configured error for sizes listed in ``errors``, and an empty response (what
Vision returns for an image without text) for anything else.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from .conftest import VISION_FIXTURES

FIXTURE = VISION_FIXTURES / "document.vision.json"
FIXTURE_IMAGE = VISION_FIXTURES / "document.jpg"


def recorded_json() -> str:
    return FIXTURE.read_text(encoding="utf-8")


def fixture_size() -> tuple[int, int]:
    with Image.open(FIXTURE_IMAGE) as im:
        return im.size


class _Answers:
    def __init__(self) -> None:
        self.size = fixture_size()
        self.recorded = json.loads(recorded_json())
        self.errors: dict[tuple[int, int], dict[str, Any]] = {}
        #: (HTTP status, google.rpc status name) to fail whole requests with, or None.
        self.fail_with: tuple[int, str] | None = None
        self.requests: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def answer(self, content: bytes) -> dict[str, Any]:
        with Image.open(io.BytesIO(content)) as im:
            size = im.size
        if size in self.errors:
            return {"error": self.errors[size]}
        return self.recorded if size == self.size else {}


class RecordedVisionClient:
    """Fake of the Vision service behind the client's ``batch_annotate_images``."""

    def __init__(self) -> None:
        from google.cloud import vision

        self._vision = vision
        self._answers = _Answers()
        self.errors = self._answers.errors
        self.calls: list[Any] = []

    def batch_annotate_images(self, requests: list[Any], **_call_options: Any) -> Any:
        vision = self._vision
        self.calls.append(list(requests))
        responses = [
            vision.AnnotateImageResponse.from_json(
                json.dumps(self._answers.answer(r.image.content)), ignore_unknown_fields=True
            )
            for r in requests
        ]
        return vision.BatchAnnotateImagesResponse(responses=responses)


class VisionReplayServer:
    """Vision's REST ``images:annotate`` on a loopback port, for the real client library."""

    def __init__(self) -> None:
        answers = self.answers = _Answers()
        self.errors = answers.errors

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.split("?")[0] != "/v1/images:annotate":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                requests = body.get("requests", [])
                with answers.lock:
                    answers.requests.append(requests)
                if answers.fail_with is not None:
                    code, status = answers.fail_with
                    error = {"error": {"code": code, "message": "replayed", "status": status}}
                    self._send(code, error)
                    return
                responses = [
                    answers.answer(base64.b64decode(r["image"]["content"])) for r in requests
                ]
                self._send(200, {"responses": responses})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[list[dict[str, Any]]]:
        return self.answers.requests

    def __enter__(self) -> VisionReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def available() -> bool:
    return FIXTURE.is_file() and FIXTURE_IMAGE.is_file()
