"""Cloud Vision's REST surface (``/v1/...``), served by the upload function, so programs
written for Cloud Vision run here with only the endpoint changed.

Routes (in ``ocr_core.http.routes``, each also under ``/v1/projects/{p}/`` and
``/v1/projects/{p}/locations/{l}/``):

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
from dataclasses import dataclass
from typing import Any

import flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ocr_core import errors
from ocr_core.http import routes
from ocr_core.http.access import check_api_key, rate_limit
from ocr_core.http.context import HttpContext
from ocr_core.http.guard import json_response, leave_body_unread
from ocr_core.http.vision import files, images, sources
from ocr_core.http.vision.openapi import base_name
from ocr_core.jobs import vision_operations
from ocr_core.logs import get_logger
from ocr_core.recognition import vision_wire

PREFIX = "/v1/"
_PARENT = re.compile(r"^((?:projects/[^/]+/)?(?:locations/[^/]+/)?)(.*)$")

log = get_logger("vision.http")


def owns(path: str) -> bool:
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def split(path: str) -> tuple[str, str]:
    """``/v1/projects/p/locations/l/images:annotate`` -> (``projects/p/locations/l``,
    ``images:annotate``)."""
    match = _PARENT.match(path[len(PREFIX) :])
    assert match is not None  # the pattern matches every string
    return match.group(1).rstrip("/"), match.group(2)


def dispatch(request: flask.Request, ctx: HttpContext) -> flask.Response:
    """Answer one ``/v1`` request; never lets an error out in the service's own shape."""
    try:
        return _route(request, ctx)
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


def routing_error(
    fallback: Callable[[HTTPException], flask.Response],
) -> Callable[[HTTPException], flask.Response]:
    """The upload function's handler of what Flask's router refuses before any handler runs
    (a path with a newline, say): Google's shape under /v1, ``fallback`` elsewhere."""

    def handler(exc: HTTPException) -> flask.Response:
        if not owns(flask.request.path):
            return fallback(exc)
        status = exc.code or 400
        error: errors.OcrError = (
            errors.NotFound(f"No method {flask.request.method} {flask.request.path!r}")
            if status in (404, 405)
            else errors.InvalidRequest(exc.description or exc.name)
        )
        response = _error(error, status=404 if status == 405 else status)
        leave_body_unread(response)
        return response

    return handler


def _error(
    error: errors.OcrError, headers: dict[str, str] | None = None, status: int | None = None
) -> flask.Response:
    code, body = vision_wire.error_body(error)
    if status is not None and status < 500:
        code = body["error"]["code"] = status
    return json_response(body, code, headers)


@dataclass(frozen=True)
class Call:
    """One request to a Vision route, as its handler needs it."""

    request: flask.Request
    ctx: HttpContext
    route: routes.Route
    params: dict[str, str]
    parent: str  # "projects/p/locations/l" from the path, or ""
    ints: bool  # enums as integers ($alt=json;enum-encoding=int)

    def body(self) -> dict[str, Any]:
        settings = self.ctx.settings
        return sources.read_json(self.request, self.route.max_body(settings), settings)


def _route(request: flask.Request, ctx: HttpContext) -> flask.Response:
    settings = ctx.settings
    if request.method == "POST":
        rate_limit(request, settings, ctx.limiter)  # before the key check, as on every POST route
    check_api_key(request, settings)
    route = routes.match(request.method, request.path)
    if route is None or "vision" not in route.tags:
        raise errors.NotFound(f"No method {request.method} {request.path} in Vision's v1 API")
    call = Call(
        request,
        ctx,
        route,
        route.params(request.path) or {},
        split(request.path)[0],
        "enum-encoding=int" in request.args.get("$alt", ""),
    )
    headers = {"Cache-Control": "no-store"} if "GET" in route.methods else None
    return json_response(HANDLERS[base_name(route.name)](call), 200, headers)


def _not_found(call: Call) -> dict[str, Any]:
    request = call.request
    raise errors.NotFound(f"No method {request.method} {request.path} in Vision's v1 API")


def _async_files(call: Call) -> dict[str, Any]:
    return vision_operations.render(
        files.start_files(call.ctx, *_with_parent(call.body(), call.parent)), call.ints
    )


def _async_images(call: Call) -> dict[str, Any]:
    op = files.start_images(call.ctx, *_with_parent(call.body(), call.parent))
    return vision_operations.render(op, call.ints)


#: The Vision routes of ``routes.ROUTES`` by name (all forms of one method share it); a
#: test checks that each has its handler here.
HANDLERS: dict[str, Callable[[Call], dict[str, Any]]] = {
    "visionAnnotateImages": lambda c: images.annotate(c.ctx, c.body(), c.ints),
    "visionAnnotateFiles": lambda c: files.annotate(c.ctx, c.body(), c.ints),
    "visionAsyncBatchAnnotateFiles": _async_files,
    "visionAsyncBatchAnnotateImages": _async_images,
    "visionListOperations": lambda c: vision_operations.list_operations(
        c.ctx.jobs, c.request.args, c.ints
    ),
    "visionGetOperation": lambda c: vision_operations.get(c.ctx.jobs, c.params["id"], c.ints),
    "visionCancelOperation": lambda c: vision_operations.cancel(c.ctx.jobs, c.params["id"]),
    "visionNotFound": _not_found,
}


def _with_parent(body: dict[str, Any], parent: str) -> tuple[dict[str, Any], str]:
    """The body and the parent it names (in the path, or its ``parent`` field)."""
    named = body.get("parent")
    if named is not None and not isinstance(named, str):
        raise errors.InvalidRequest("parent must be a string", parameter="parent")
    chosen = parent or (named or "")
    if chosen and not re.fullmatch(r"projects/[\w.-]+(/locations/[\w-]+)?", chosen):
        raise errors.InvalidRequest(f"Invalid parent {chosen!r}", parameter="parent")
    return body, chosen
