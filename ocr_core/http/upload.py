"""The upload function's dispatch over its routes in ``routes.ROUTES``: ``POST
/extract-text`` (inline or ``?mode=async``), ``POST /batch-extract`` (``batch``), the
operations (``operations``), and the web page, docs and OpenAPI (``site``)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import flask

from ocr_core import errors
from ocr_core.http import batch, operations, routes, site
from ocr_core.http.access import check_api_key, rate_limit
from ocr_core.http.context import HttpContext
from ocr_core.http.forms import read_upload
from ocr_core.http.guard import guarded, json_response, no_route
from ocr_core.http.vision import dispatch as vision_api
from ocr_core.names import safe_upload_name
from ocr_core.recognition import render
from ocr_core.recognition.intake import load_image, pixel_count
from ocr_core.schema import Accepted, Health, ImageMetadata

MODES = ("sync", "async")


def _results_url(request: flask.Request, ctx: HttpContext, name: str) -> str:
    base = ctx.settings.results_base_url or request.host_url.rstrip("/")
    return f"{base}/results/{quote(name)}"


def _lang(request: flask.Request) -> str | None:
    lang = request.args.get("lang", "").strip()
    if not lang:
        return None
    if len(lang) > 64 or not all(part.replace("_", "").isalnum() for part in lang.split("+")):
        raise errors.InvalidRequest("lang must look like 'eng' or 'eng+deu'", parameter="lang")
    return lang


@guarded
def dispatch(request: flask.Request, ctx: HttpContext) -> flask.Response:
    if vision_api.owns(request.path):
        return vision_api.dispatch(request, ctx)  # its routes, Google's error shape and access
    route = routes.match(request.method, request.path)
    if route is None or route.function != "upload":
        raise no_route(request, "upload")
    if not route.public:
        # Cheapest first: a flood of POSTs (key guessing included) is refused before any
        # key check or body read; then the key, for every API route.
        if request.method == "POST":
            rate_limit(request, ctx.settings, ctx.limiter)
        check_api_key(request, ctx.settings)
    params = route.params(request.path) or route.params(request.path.rstrip("/")) or {}
    return _HANDLERS[route.name](request, ctx, **params)


def _health(request: flask.Request, ctx: HttpContext) -> flask.Response:
    return json_response(Health("ok").to_dict())


def _extract_text(request: flask.Request, ctx: HttpContext) -> flask.Response:
    mode = request.args.get("mode", "sync").lower()
    if mode not in MODES:
        raise errors.InvalidRequest(f"mode must be one of {', '.join(MODES)}", parameter="mode")
    lang = _lang(request)
    fmt = request.args.get("format", "json").lower()
    file_format = None if fmt == "json" else render.get_format(fmt)
    if file_format is not None and mode == "async":
        raise errors.InvalidRequest(
            "format applies to mode=sync; fetch GET /results/<name>?format=... later",
            parameter="format",
        )
    data, filename = read_upload(request, ctx.settings)
    if mode == "async":
        return _store_for_later(request, ctx, data, filename)
    document = ctx.recognizer.extract(data, lang=lang)
    if file_format is not None:  # the file itself: docs/formats.md
        from ocr_core.http.formats import file_response

        return file_response(ctx.settings, file_format, document, filename or "upload", source=data)
    return json_response(document)


def _batch_extract(request: flask.Request, ctx: HttpContext) -> flask.Response:
    return batch.batch_extract(request, ctx, lang=_lang(request))


def _store_for_later(
    request: flask.Request, ctx: HttpContext, data: bytes, filename: str | None
) -> flask.Response:
    settings = ctx.settings
    # Validate now: a client learns about a broken file at once, not from a failed result.
    with ctx.jobs.engines.slot(pixels=pixel_count(data)):
        image = load_image(
            data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
        )
    name = safe_upload_name(filename, image.format)
    info = ctx.jobs.input.write(name, data, image.mime_type, if_generation_match=0)
    url = _results_url(request, ctx, name)
    return json_response(
        Accepted(
            success=True,
            status="pending",
            object=name,
            bucket=settings.input_bucket,
            generation=str(info.generation),
            results_url=url,
            image=ImageMetadata(**image.metadata()),  # type: ignore[arg-type]
        ).to_dict(),
        202,
        {"Location": url},
    )


#: The upload function's routes (``routes.for_function("upload")``) by name; a test checks
#: that each has its handler here.
_HANDLERS: dict[str, Callable[..., flask.Response]] = {
    "health": _health,
    "extractText": _extract_text,
    "batchExtract": _batch_extract,
    "startOperation": operations.start,
    "listOperations": operations.list_operations,
    "getOperation": operations.get,
    "cancelOperation": operations.cancel,
    "openapi": site.openapi_json,
    "docs": site.page,
    "webPage": site.page,
    "staticAsset": site.asset,
}
