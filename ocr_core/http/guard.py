"""HTTP plumbing shared by the upload and results functions: errors -> HTTP, once.

Errors become JSON in one place (``guarded``): an ``OcrError`` keeps its code and status,
a werkzeug HTTP error keeps its status with a stable code, anything else is logged with
its traceback and answered as a bare 500 JSON body, never with the trace.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ocr_core import errors
from ocr_core.http import routes
from ocr_core.http.context import HttpContext
from ocr_core.logs import get_logger, log_context, trace_fields
from ocr_core.schema import Error, ErrorDetail, error_body

log = get_logger("http")


_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "file_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

Handler = Callable[[flask.Request, HttpContext], flask.Response]


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> flask.Response:
    response = flask.Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(error: errors.OcrError, headers: dict[str, str] | None = None) -> flask.Response:
    return json_response(error_body(error), error.status, headers)


def http_error_response(exc: HTTPException) -> flask.Response:
    code = exc.code or 500
    detail = ErrorDetail(_HTTP_CODES.get(code, "http_error"), exc.description or exc.name)
    return json_response(Error(False, detail).to_dict(), code)


def _request_id(request: flask.Request) -> str:
    trace = request.headers.get("X-Cloud-Trace-Context", "").split("/", 1)[0]
    supplied = request.headers.get("X-Request-Id", "")
    candidate = trace or supplied
    if candidate and len(candidate) <= 128 and candidate.replace("-", "").isalnum():
        return candidate
    return uuid.uuid4().hex


def guarded(handler: Handler) -> Handler:
    """Wrap an HTTP entry point: request id, timing header, JSON errors, access log."""

    @functools.wraps(handler)
    def wrapper(request: flask.Request, ctx: HttpContext) -> flask.Response:
        request_id = _request_id(request)
        started = time.perf_counter()
        with log_context(request_id=request_id, **trace_fields(request.headers)):
            try:
                response = handler(request, ctx)
            except errors.RateLimited as exc:
                response = error_response(exc, {"Retry-After": str(exc.retry_after_s)})
            except errors.Unauthorized as exc:
                response = error_response(exc, {"WWW-Authenticate": "X-API-Key"})
            except errors.MethodNotAllowed as exc:
                allowed = exc.details.get("allowed") or ()
                response = error_response(exc, {"Allow": ", ".join(map(str, allowed))})
            except errors.OcrError as exc:
                response = error_response(exc)
            except RequestEntityTooLarge:
                limit = ctx.settings.max_upload_bytes
                response = error_response(
                    errors.FileTooLarge(
                        f"The request body is larger than the {limit}-byte limit", limit_bytes=limit
                    )
                )
            except HTTPException as exc:
                response = http_error_response(exc)
            except Exception:
                log.exception("unhandled error", extra={"path": request.path})
                detail = ErrorDetail(
                    "internal_error", "Internal error; it has been logged", request_id=request_id
                )
                response = json_response(Error(False, detail).to_dict(), 500)
            elapsed_ms = (time.perf_counter() - started) * 1000
            response.headers["X-Request-Id"] = request_id
            response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
            log.info(
                "request",
                extra={
                    "httpRequest": {
                        "requestMethod": request.method,
                        "requestUrl": request.path,
                        "status": response.status_code,
                        "latency": f"{elapsed_ms / 1000:.4f}s",
                    }
                },
            )
            if response.status_code >= 400:
                _leave_body_unread(response)
            return response

    return wrapper


def _leave_body_unread(response: flask.Response) -> None:
    """Keep functions-framework from reading the rest of a refused body into memory.

    Its ``after_request`` hook calls ``request.get_data()`` unless the response is
    streamed: that would buffer a 200 MB upload we refused from its Content-Length (or
    crash into a 500 on a body past ``max_content_length`` or a stalled one). As a
    one-chunk iterator the response counts as streamed; the server then discards what is
    left of the body in small reads (gunicorn) or closes the connection. ``Connection:
    close`` asks the client not to reuse it.
    """
    payload = response.get_data()
    response.response = iter((payload,))
    response.headers["Content-Length"] = str(len(payload))
    response.headers["Connection"] = "close"


#: For other modules' error handlers (the Vision surface's routing errors).
leave_body_unread = _leave_body_unread


def require_method(request: flask.Request, *allowed: str) -> None:
    if request.method not in allowed:
        raise errors.MethodNotAllowed(
            f"{request.method} is not allowed here; use {' or '.join(allowed)}",
            allowed=list(allowed),
        )


def no_route(request: flask.Request, function: str) -> errors.OcrError:
    """The 405 (another method is routed here) or 404 for a request no route of this
    function takes."""
    route = routes.function_for_path(request.path)
    allowed = routes.allowed_methods(request.path) if route == function else ()
    if allowed:
        return errors.MethodNotAllowed(
            f"{request.method} is not allowed here; use {' or '.join(allowed)}",
            allowed=list(allowed),
        )
    if route is not None:
        return errors.NotFound(f"{request.path!r} is served by the {route} function")
    return errors.NotFound(f"No route {request.path!r}; POST images to /extract-text")


def http_error(exc: HTTPException) -> flask.Response:
    """JSON for what Flask's router answers before our handler runs (a path its converter
    rejects, such as one with a newline, or a method it does not route): never its HTML page.
    Registered in each function's main.py with ``functions_framework.errorhandler``."""
    response = http_error_response(exc)
    if response.status_code == 405:
        response.headers["Allow"] = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"
    if response.status_code >= 400:
        _leave_body_unread(response)  # a POST to an unroutable path is not read either
    return response
