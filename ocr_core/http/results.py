"""The results function's dispatch over its route in ``routes.ROUTES``: ``GET
/results/<object name>``."""

from __future__ import annotations

import functools

import flask

from ocr_core import errors
from ocr_core.http import routes
from ocr_core.http.access import check_api_key
from ocr_core.http.context import HttpContext
from ocr_core.http.guard import Handler, guarded, json_response, no_route
from ocr_core.jobs.layout import check_not_reserved
from ocr_core.jobs.operations import progress_for_object
from ocr_core.jobs.store import load_json
from ocr_core.names import validate_object_name
from ocr_core.recognition import render
from ocr_core.schema import Health, Pending

FORMATS = ("json", "text", *render.FORMATS)


def _readable_from_any_origin(handler: Handler) -> Handler:
    """Results are fetched by the web page, which the upload function serves from another
    URL in the cloud: let browsers read them (no credentials, so ``*`` is safe)."""

    @functools.wraps(handler)
    def wrapper(request: flask.Request, ctx: HttpContext) -> flask.Response:
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            # A CORS preflight (the page sends X-API-Key) carries no key of its own.
            response = flask.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD"
            response.headers["Access-Control-Allow-Headers"] = "X-API-Key"
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = handler(request, ctx)
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
        return response

    return wrapper


@_readable_from_any_origin
@guarded
def dispatch(request: flask.Request, ctx: HttpContext) -> flask.Response:
    route = routes.match(request.method, request.path)
    if route is routes.HEALTH:
        return json_response(Health("ok").to_dict())  # each function answers its own health
    if route is None or route.function != "results":
        raise no_route(request, "results")
    check_api_key(request, ctx.settings)
    params = route.params(request.path) or {}
    return get_result(request, ctx, params["object"])


def get_result(request: flask.Request, ctx: HttpContext, object: str) -> flask.Response:
    fmt = request.args.get("format", "json").lower()
    if fmt not in FORMATS:
        raise errors.InvalidRequest(
            f"format must be one of {', '.join(FORMATS)}", parameter="format"
        )
    settings = ctx.settings
    # Operations and shards live in the results bucket too: they are never served here.
    name = check_not_reserved(validate_object_name(object), settings)
    results, source = ctx.jobs.results, ctx.jobs.input
    result_name = settings.result_name(name)

    document = _load(results, result_name, name)
    current = source.stat(name)
    if document is not None and not _superseded(document, current):
        return _render(ctx, document, fmt, name)
    if current is not None:
        return json_response(
            Pending(
                success=True,
                status="pending",
                object=name,
                generation=str(current.generation),
                # Documents (PDF, multi-page TIFF): the operation and its pages done so far.
                **progress_for_object(settings, settings.input_bucket, name, current.generation),
            ).to_dict(),
            202,
            {"Retry-After": "2", "Cache-Control": "no-store"},
        )
    if document is not None:  # the source was deleted; its result stays readable
        return _render(ctx, document, fmt, name)
    raise errors.NotFound(f"No object and no result named {name!r}", object=name)


def _load(results: object, result_name: str, name: str) -> dict[str, object] | None:
    """The stored result of ``name``; a document that is not its result is not served."""
    document = load_json(results, result_name, unreadable="error", what="result")  # type: ignore[arg-type]
    if document is None:
        return None
    obj = document.get("object")
    return document if isinstance(obj, dict) and obj.get("name") == name else None


def _superseded(document: dict[str, object], current: object) -> bool:
    """True when the object was replaced after this result was made (a new one is coming)."""
    if current is None:
        return False
    obj = document.get("object")
    try:
        return int(obj["generation"]) < current.generation  # type: ignore[index, attr-defined]
    except (TypeError, KeyError, ValueError):
        return False


def _render(ctx: HttpContext, document: dict[str, object], fmt: str, name: str) -> flask.Response:
    if fmt == "json":
        return json_response(document)
    if fmt in render.FORMATS:  # files: docs/formats.md
        from ocr_core.http.formats import file_response

        return file_response(ctx.settings, render.FORMATS[fmt], document, name)
    if document.get("status") == "failed":
        error = document.get("error") or {}
        raise errors.ResultFailed(
            f"OCR failed for this object: {error.get('message', 'unknown error')}",  # type: ignore[union-attr]
            cause=error.get("code"),
        )  # type: ignore[union-attr]
    return flask.Response(str(document.get("text", "")), mimetype="text/plain")
