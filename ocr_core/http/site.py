"""What people open in a browser: the web page (``/``), the API docs (``/docs``), the
OpenAPI document (``/openapi.json``) and their assets (``/assets/...``; Flask claims
``/static/`` for itself in every functions-framework app).

Everything is served from ``ocr_core/http/assets`` and ships with the core package, so each
function deploys with it and nothing is fetched from a CDN at run time. Large vendored files
are stored gzipped (``NAME.gz``) and sent as they are to clients that accept gzip.
"""

from __future__ import annotations

import gzip
import mimetypes
from pathlib import Path

import flask

from ocr_core import errors
from ocr_core.http import openapi
from ocr_core.http.context import HttpContext
from ocr_core.http.guard import json_response

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
PAGES = {"/": "index.html", "/docs": "docs.html"}

# Pages may only load what the project itself serves; results may live on another origin
# (the results function's URL in the cloud), so fetches stay open.
_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src *; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def _asset_names() -> dict[str, Path]:
    """URL name -> file, listed once: only files that exist here can ever be served."""
    names: dict[str, Path] = {}
    for path in sorted(ASSETS_DIR.rglob("*")):
        if path.is_file():
            rel = path.relative_to(ASSETS_DIR).as_posix()
            names[rel.removesuffix(".gz")] = path
    return names


_ASSETS = _asset_names()


def openapi_json(request: flask.Request, ctx: HttpContext) -> flask.Response:
    response = json_response(openapi.document(ctx.settings))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    return response


def page(request: flask.Request, ctx: HttpContext) -> flask.Response:
    name = PAGES[request.path.rstrip("/") or "/"]
    return _send(request, name, _ASSETS[name])


def asset(request: flask.Request, ctx: HttpContext, asset: str) -> flask.Response:
    file = _ASSETS.get(asset)
    if file is None:
        raise errors.NotFound(f"No file {request.path!r}")
    return _send(request, asset, file)


def _send(request: flask.Request, name: str, file: Path) -> flask.Response:
    data = file.read_bytes()
    # Flask adds "; charset=utf-8" to text types and JavaScript by itself.
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = flask.Response(mimetype=mime)
    if file.suffix == ".gz":
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.headers["Content-Encoding"] = "gzip"
        else:
            data = gzip.decompress(data)
        response.headers["Vary"] = "Accept-Encoding"
    response.set_data(data)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name.endswith(".html"):
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["Cache-Control"] = "no-cache"
    else:
        response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    return response.make_conditional(request)
