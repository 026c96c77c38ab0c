"""HTTP plumbing shared by the upload and results functions.

Errors become JSON in one place (``guarded``): an ``OcrError`` keeps its code and status,
a werkzeug HTTP error keeps its status with a stable code, anything else is logged with
its traceback and answered as a bare 500 JSON body, never with the trace.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from . import errors, routes
from .config import get_settings
from .logs import get_logger, log_context, setup_logging, trace_fields
from .results import error_body

log = get_logger("http")

MULTIPART_OVERHEAD = routes.MULTIPART_OVERHEAD
MAX_FORM_PARTS = 16

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

Handler = Callable[[flask.Request], flask.Response]


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
    return json_response(
        {
            "success": False,
            "error": {
                "code": _HTTP_CODES.get(code, "http_error"),
                "message": exc.description or exc.name,
            },
        },
        code,
    )


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
    def wrapper(request: flask.Request) -> flask.Response:
        setup_logging(get_settings().log_level)
        request_id = _request_id(request)
        started = time.perf_counter()
        with log_context(request_id=request_id, **trace_fields(request.headers)):
            try:
                response = handler(request)
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
                limit = get_settings().max_upload_bytes
                response = error_response(
                    errors.FileTooLarge(
                        f"The request body is larger than the {limit}-byte limit", limit_bytes=limit
                    )
                )
            except HTTPException as exc:
                response = http_error_response(exc)
            except Exception:
                log.exception("unhandled error", extra={"path": request.path})
                response = json_response(
                    {
                        "success": False,
                        "error": {
                            "code": "internal_error",
                            "message": "Internal error; it has been logged",
                            "request_id": request_id,
                        },
                    },
                    500,
                )
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


class StrictFormDataParser(FormDataParser):
    """Werkzeug's parser, but a malformed or truncated form raises instead of parsing as
    empty (which would surface as a misleading ``missing_file``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)


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


def _bound_body_reads(request: flask.Request, timeout_s: float) -> None:
    """Make a stalled body (a Content-Length larger than what is sent) time out.

    gunicorn's threads read sockets with no timeout at all, so a client that announces
    more bytes than it sends would hold a thread forever. The server's socket for this
    request is in the WSGI environ; a timeout on it makes the next read raise.
    """
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is not None and timeout_s > 0:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout_s)


def parse_form(request: flask.Request) -> MultiDict[str, FileStorage]:
    """The request's files, parsed strictly and with a bounded wait for a stalled body.

    Set ``request.max_content_length`` first. A stalled body is a 408, one that ends
    before its Content-Length or a malformed form a 400; RequestEntityTooLarge passes
    through for the caller to word.
    """
    settings = get_settings()
    request.form_data_parser_class = StrictFormDataParser
    _bound_body_reads(request, settings.body_read_timeout_s)
    try:
        return request.files  # parses the body; RequestEntityTooLarge past the limit
    except (TimeoutError, ClientDisconnected) as exc:
        # werkzeug turns our socket timeout into ClientDisconnected: look at its cause.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            raise errors.RequestTimeout(
                f"The body stalled for {settings.body_read_timeout_s:g} s before its "
                f"Content-Length ({request.content_length} bytes) was reached",
                content_length=request.content_length,
            ) from exc
        raise errors.InvalidRequest(
            f"The body ended before its Content-Length ({request.content_length} bytes)",
            content_length=request.content_length,
        ) from exc
    except UnicodeDecodeError as exc:
        raise errors.InvalidRequest(
            "The multipart part headers (such as the file name) are not valid UTF-8"
        ) from exc
    except ValueError as exc:
        # Also what a Content-Length smaller than the body gives: the form ends mid-way.
        raise errors.InvalidRequest(
            f"The multipart body is malformed or ends early: {exc}"[:300]
        ) from exc


def read_upload(request: flask.Request, field: str = "image") -> tuple[bytes, str | None]:
    """Bytes and client file name of the one file in ``field``, limits enforced while reading."""
    settings = get_settings()
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise errors.FileTooLarge(
            f"The request body is {request.content_length} bytes; the limit is {limit} bytes",
            limit_bytes=limit,
        )
    if request.mimetype != "multipart/form-data":
        raise errors.InvalidRequest(
            f"Send the image as multipart/form-data in a field named {field!r} "
            f'(curl -F "{field}=@photo.jpg"); got Content-Type {request.mimetype or "none"!r}'
        )
    if request.content_length == 0:
        raise errors.MissingFile(
            f"The request body is empty; send the image in the multipart field {field!r}",
            field=field,
        )
    request.max_content_length = limit + MULTIPART_OVERHEAD
    request.max_form_parts = MAX_FORM_PARTS
    files = parse_form(request)
    uploads = files.getlist(field)
    if not uploads:
        others = sorted(set(files.keys()))
        hint = f"; found file field(s) {', '.join(map(repr, others))}" if others else ""
        raise errors.MissingFile(f"No file in the multipart field {field!r}{hint}", field=field)
    if len(uploads) > 1:
        raise errors.TooManyFiles(f"Send one file in {field!r}; got {len(uploads)}", field=field)
    upload = uploads[0]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise errors.FileTooLarge(
            f"The file is larger than the {limit}-byte limit", limit_bytes=limit
        )
    if not data:
        raise errors.EmptyFile(f"The file in {field!r} is empty", field=field)
    return data, upload.filename


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
