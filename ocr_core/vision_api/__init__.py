"""Cloud Vision's REST surface (``/v1/...``), served by the upload function, so programs
written for Cloud Vision run here with only the endpoint changed.

Routes (each also under ``/v1/projects/{p}/`` and ``/v1/projects/{p}/locations/{l}/``):

* ``POST /v1/images:annotate``, ``POST /v1/files:annotate`` (``images``, ``files``);
* ``POST /v1/files:asyncBatchAnnotate``, ``POST /v1/images:asyncBatchAnnotate`` (``files``);
* ``GET /v1/operations``, ``GET /v1/operations/{id}``, ``POST /v1/operations/{id}:cancel``
  (``longrunning``).

Errors are Google's: ``{"error": {"code", "message", "status"}}`` with Google's HTTP
codes, answered here rather than by ``web.guarded`` (which speaks the service's own shape).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import errors
from ..access import check_api_key, rate_limit
from ..config import get_settings
from ..logs import get_logger
from ..web import json_response
from . import files, images, longrunning, sources, wire

PREFIX = "/v1/"
_PARENT = re.compile(r"^((?:projects/[^/]+/)?(?:locations/[^/]+/)?)(.*)$")
_OPERATION = re.compile(r"^operations/([^/:]+)(:cancel)?$")
#: ``gcloud beta ml vision operations describe <id>`` asks for ``/v1/<id>``.
_BARE_OPERATION = re.compile(r"^(\d{8}T\d{12}Z-[0-9a-f]{10})(:cancel)?$")

log = get_logger("vision.http")


def owns(path: str) -> bool:
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def split(path: str) -> tuple[str, str]:
    """``/v1/projects/p/locations/l/images:annotate`` -> (``projects/p/locations/l``,
    ``images:annotate``)."""
    match = _PARENT.match(path[len(PREFIX) :])
    assert match is not None  # the pattern matches every string
    return match.group(1).rstrip("/"), match.group(2)


def handle(request: flask.Request) -> flask.Response:
    """Answer one ``/v1`` request; never lets an error out in the service's own shape."""
    try:
        return _route(request)
    except errors.RateLimited as exc:
        return _error(exc, {"Retry-After": str(exc.retry_after_s)})
    except errors.OcrError as exc:
        return _error(exc)
    except RequestEntityTooLarge:
        return _error(errors.FileTooLarge("Request payload size exceeds the limit"))
    except HTTPException as exc:
        status = exc.code or 400
        return _error(errors.InvalidRequest(exc.description or exc.name), status=status)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return _error(errors.OcrError("Internal error; it has been logged"))


def _error(
    error: errors.OcrError, headers: dict[str, str] | None = None, status: int | None = None
) -> flask.Response:
    code, body = wire.error_body(error)
    if status is not None and status < 500:
        code = body["error"]["code"] = status
    return json_response(body, code, headers)


def _route(request: flask.Request) -> flask.Response:
    settings = get_settings()
    if request.method == "POST":
        rate_limit(request, settings)  # before the key check, as on every POST route
    check_api_key(request, settings)
    parent, method = split(request.path)
    ints = "enum-encoding=int" in request.args.get("$alt", "")
    routes: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
        "images:annotate": ("POST", lambda: images.annotate(sources.read_json(request), ints)),
        "files:annotate": ("POST", lambda: files.annotate(sources.read_json(request), ints)),
        "files:asyncBatchAnnotate": (
            "POST",
            lambda: longrunning.render(
                files.start_files(*_with_parent(sources.read_json(request), parent)), ints
            ),
        ),
        "images:asyncBatchAnnotate": (
            "POST",
            lambda: longrunning.render(
                files.start_images(*_with_parent(sources.read_json(request), parent)), ints
            ),
        ),
        "operations": ("GET", lambda: longrunning.list_operations(request.args, ints)),
    }
    operation = _OPERATION.match(method) or _BARE_OPERATION.match(method)
    if operation is not None:
        name = operation.group(1)
        if operation.group(2):
            routes[method] = ("POST", lambda: longrunning.cancel(name))
        else:
            routes[method] = ("GET", lambda: longrunning.get(name, ints))
    found = routes.get(method)
    if found is None or (request.method != found[0] and not _is_head(request, found[0])):
        raise errors.NotFound(f"No method {request.method} {request.path} in Vision's v1 API")
    headers = {"Cache-Control": "no-store"} if found[0] == "GET" else None
    return json_response(found[1](), 200, headers)


def _is_head(request: flask.Request, method: str) -> bool:
    return request.method == "HEAD" and method == "GET"


def _with_parent(body: dict[str, Any], parent: str) -> tuple[dict[str, Any], str]:
    """The body and the parent it names (in the path, or its ``parent`` field)."""
    named = body.get("parent")
    if named is not None and not isinstance(named, str):
        raise errors.InvalidRequest("parent must be a string", parameter="parent")
    chosen = parent or (named or "")
    if chosen and not re.fullmatch(r"projects/[\w.-]+(/locations/[\w-]+)?", chosen):
        raise errors.InvalidRequest(f"Invalid parent {chosen!r}", parameter="parent")
    return body, chosen
