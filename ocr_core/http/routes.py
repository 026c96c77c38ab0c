"""The one route table: every HTTP route, which Cloud Run function serves it, what it may
answer. Each function's dispatch, the OpenAPI document, the local front door, emulator mode
and the load balancer's URL map read ``ROUTES``; nothing lists routes again.

Pure data and small helpers (no Flask), so every layer and tool can import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING

from ocr_core import errors

if TYPE_CHECKING:
    from ocr_core.config import Settings

#: Room for multipart headers and boundaries on top of the file(s) a form carries.
MULTIPART_OVERHEAD = 64 * 1024
#: The largest JSON body a route without files takes (``POST /operations``).
MAX_JSON_BODY = 256 * 1024

Errors = Mapping[int, tuple[type[errors.OcrError], ...]]
#: A template segment that takes the rest of the path, slashes included (object names).
_REST = re.compile(r"\{(object|asset|name=\*\*)\}$")
_PARAM = re.compile(r"\{([a-z_]+)\}")


def _errors(table: dict[int, tuple[type[errors.OcrError], ...]]) -> Errors:
    return MappingProxyType(table)


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    path: str  # OpenAPI template: "/results/{object}", "/operations/{id}:cancel"
    function: str  # the Cloud Run function that serves it: "upload" | "results"
    errors: Errors
    summary: str
    public: bool = False  # no API key, no rate limit: the page, docs, health
    #: Names the handler in the function's dispatch and is the OpenAPI operationId.
    name: str = ""
    #: Settings attribute bounding the body (files; multipart overhead added), or None:
    #: the route takes no body beyond MAX_JSON_BODY.
    body_limit: str | None = None
    tags: tuple[str, ...] = field(default=())

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        rest = _REST.search(self.path)
        head = self.path[: rest.start()] if rest else self.path
        regex = ""
        last = 0
        for m in _PARAM.finditer(head):
            regex += re.escape(head[last : m.start()]) + f"(?P<{m.group(1)}>[^/:]+)"
            last = m.end()
        regex += re.escape(head[last:])
        if rest:
            regex += f"(?P<{rest.group(1).split('=')[0]}>.+)"
        return re.compile(f"^{regex}$")

    @property
    def prefix(self) -> str:
        """The literal part before the first parameter: "/results/", "/operations"."""
        return self.path.split("{", 1)[0]

    def params(self, path: str) -> dict[str, str] | None:
        """The path's parameters, or None when the path is not this route's."""
        m = self._pattern.match(path)
        return None if m is None else m.groupdict()

    def max_body(self, settings: Settings) -> int:
        """The largest request body this route reads, as the front door and dispatch cap it."""
        if self.body_limit is None:
            return MAX_JSON_BODY
        return int(getattr(settings, self.body_limit)) + MULTIPART_OVERHEAD


_UPLOAD_400 = (
    errors.MissingFile,
    errors.TooManyFiles,
    errors.EmptyFile,
    errors.NotAnImage,
    errors.CorruptImage,
    errors.ImageTooSmall,
    errors.InvalidDimensions,
    errors.InvalidRequest,
)
UPLOAD_ERRORS = _errors(
    {
        400: _UPLOAD_400,
        401: (errors.Unauthorized,),
        408: (errors.RequestTimeout,),
        413: (errors.FileTooLarge, errors.ImageTooLarge),
        415: (errors.UnsupportedFormat,),
        422: (errors.EngineRejectedImage, errors.ImageTooComplex),
        429: (errors.RateLimited,),
        503: (errors.EngineError, errors.StorageError),
    }
)
#: Every API route checks the key; POSTs are rate-limited first (http.upload.dispatch).
_API = {401: (errors.Unauthorized,), 429: (errors.RateLimited,)}
_KEY = {401: (errors.Unauthorized,)}


# --- Cloud Vision's REST surface (ocr_core.http.vision) -----------------------------------
# Every method is also served under the parents the client builds when ``parent`` is set;
# an operation also under ``locations/{location}/`` and, as gcloud asks, bare.
_VISION_PARENTS = (
    ("", ""),
    ("projects/{project}/", "InProject"),
    ("projects/{project}/locations/{location}/", "InLocation"),
)
_VISION_OPERATION_PARENTS = (*_VISION_PARENTS, ("locations/{location}/", "InRegion"))
_VISION_COMMON = {
    400: (errors.InvalidRequest,),
    403: (errors.Unauthorized,),  # Google answers a missing or wrong key with 403
    429: (errors.RateLimited,),
}
_VISION_ANNOTATE = _errors(
    {**_VISION_COMMON, 408: (errors.RequestTimeout,), 413: (errors.FileTooLarge,)}
)
_VISION_ASYNC = _errors(
    {
        **_VISION_COMMON,
        400: (
            errors.InvalidRequest,
            errors.InvalidObjectName,
            errors.ReservedObjectName,
            errors.NotAnImage,
        ),
        404: (errors.NotFound,),
        408: (errors.RequestTimeout,),
        413: (errors.FileTooLarge,),
        503: (errors.StorageError,),
    }
)
_VISION_OPERATIONS = _errors(
    {
        **_VISION_COMMON,
        400: (errors.InvalidRequest, errors.OperationFinished),
        404: (errors.NotFound,),
        503: (errors.StorageError,),
    }
)


def _vision(
    methods: tuple[str, ...],
    tail: str,
    name: str,
    summary: str,
    table: Errors,
    parents: tuple[tuple[str, str], ...] = _VISION_PARENTS,
    body_limit: str | None = None,
) -> tuple[Route, ...]:
    return tuple(
        Route(
            methods,
            f"/v1/{parent}{tail}",
            "upload",
            table,
            summary if not suffix else f"{summary} (under a parent)",
            name=f"{name}{suffix}",
            body_limit=body_limit,
            tags=("vision",),
        )
        for parent, suffix in parents
    )


VISION_ROUTES: tuple[Route, ...] = (
    *_vision(
        ("POST",),
        "images:annotate",
        "visionAnnotateImages",
        "Cloud Vision: text in up to 16 images",
        _VISION_ANNOTATE,
        body_limit="max_batch_bytes",
    ),
    *_vision(
        ("POST",),
        "files:annotate",
        "visionAnnotateFiles",
        "Cloud Vision: text in up to 5 pages of a PDF, TIFF or GIF",
        _VISION_ANNOTATE,
        body_limit="max_batch_bytes",
    ),
    *_vision(
        ("POST",),
        "files:asyncBatchAnnotate",
        "visionAsyncBatchAnnotateFiles",
        "Cloud Vision: files of the input bucket, output files in the results bucket",
        _VISION_ASYNC,
    ),
    *_vision(
        ("POST",),
        "images:asyncBatchAnnotate",
        "visionAsyncBatchAnnotateImages",
        "Cloud Vision: images, output files in the results bucket",
        _VISION_ASYNC,
        body_limit="max_batch_bytes",
    ),
    *_vision(
        ("GET", "HEAD"),
        "operations",
        "visionListOperations",
        "Cloud Vision: operations (google.longrunning), oldest first",
        _VISION_OPERATIONS,
    ),
    *_vision(
        ("POST",),
        "operations/{id}:cancel",
        "visionCancelOperation",
        "Cloud Vision: cancel an operation",
        _VISION_OPERATIONS,
        _VISION_OPERATION_PARENTS,
    ),
    *_vision(
        ("GET", "HEAD"),
        "operations/{id}",
        "visionGetOperation",
        "Cloud Vision: one operation (google.longrunning.Operation)",
        _VISION_OPERATIONS,
        _VISION_OPERATION_PARENTS,
    ),
    # gcloud beta ml vision operations describe <id> asks for /v1/<id>. Last: it would take
    # any one-segment /v1 path before the routes above.
    *_vision(
        ("GET", "HEAD"),
        "{id}",
        "visionGetOperation",
        "Cloud Vision: one operation, by its bare id (gcloud's form)",
        _VISION_OPERATIONS,
        (("", "Bare"),),
    ),
    # Anything else under /v1 (GET and POST, what Google's clients send) still reaches the
    # Vision dispatch, for Google's 404; one route per method, one OpenAPI operation each.
    *(
        Route(
            methods,
            "/v1/{name=**}",
            "upload",
            _errors(
                {403: (errors.Unauthorized,), 404: (errors.NotFound,), 429: (errors.RateLimited,)}
            ),
            "Cloud Vision: any other /v1 path answers Google's 404 NOT_FOUND",
            name=f"visionNotFound{methods[0].title()}",
            tags=("vision",),
        )
        for methods in (("GET", "HEAD"), ("POST",))
    ),
)


ROUTES: tuple[Route, ...] = (
    Route(
        ("POST",),
        "/extract-text",
        "upload",
        UPLOAD_ERRORS,
        "OCR one image now, or store it for background OCR",
        name="extractText",
        body_limit="max_upload_bytes",
        tags=("upload",),
    ),
    Route(
        ("POST",),
        "/batch-extract",
        "upload",
        _errors(
            {
                400: (errors.MissingFile, errors.TooManyFiles, errors.InvalidRequest),
                **_API,
                408: (errors.RequestTimeout,),
                413: (errors.BatchTooLarge, errors.FileTooLarge),
            }
        ),
        "OCR several images in one request, side by side",
        name="batchExtract",
        body_limit="max_batch_bytes",
        tags=("upload",),
    ),
    Route(
        ("POST",),
        "/operations",
        "upload",
        _errors(
            {
                400: (
                    errors.InvalidRequest,
                    errors.InvalidObjectName,
                    errors.ReservedObjectName,
                    errors.TooManyObjects,
                ),
                **_API,
                409: (errors.OperationFinished,),
                413: (errors.FileTooLarge,),
                503: (errors.StorageError,),
            }
        ),
        "OCR objects of the input bucket in the background, as one operation",
        name="startOperation",
        tags=("operations",),
    ),
    Route(
        ("GET", "HEAD"),
        "/operations",
        "upload",
        _errors({400: (errors.InvalidRequest,), **_KEY, 503: (errors.StorageError,)}),
        "Operations, oldest first",
        name="listOperations",
        tags=("operations",),
    ),
    Route(
        ("POST",),
        "/operations/{id}:cancel",
        "upload",
        _errors(
            {
                400: (errors.InvalidRequest,),
                **_API,
                409: (errors.OperationFinished,),
                503: (errors.StorageError,),
            }
        ),
        "Cancel: pages not started are skipped",
        name="cancelOperation",
        tags=("operations",),
    ),
    Route(
        ("GET", "HEAD"),
        "/operations/{id}",
        "upload",
        _errors({400: (errors.InvalidRequest,), **_KEY, 503: (errors.StorageError,)}),
        "One operation: state, progress, and where the results are",
        name="getOperation",
        tags=("operations",),
    ),
    Route(
        ("GET", "HEAD"),
        "/results/{object}",
        "results",
        _errors(
            {
                400: (errors.InvalidObjectName, errors.ReservedObjectName, errors.InvalidRequest),
                401: (errors.Unauthorized,),
                409: (errors.SourceUnavailable,),  # ?format=pdf without its source
                422: (errors.ResultFailed,),
                503: (errors.StorageError,),
            }
        ),
        "The result document of an object in the input bucket",
        name="getResult",
        tags=("results",),
    ),
    Route(
        ("GET", "HEAD"),
        "/healthz",
        "upload",
        _errors({}),
        "Liveness",
        public=True,
        name="health",
        tags=("service",),
    ),
    Route(
        ("GET", "HEAD"),
        "/openapi.json",
        "upload",
        _errors({}),
        "This document",
        public=True,
        name="openapi",
        tags=("service",),
    ),
    Route(
        ("GET", "HEAD"),
        "/docs",
        "upload",
        _errors({}),
        "Readable API reference (Swagger UI, served by the project)",
        public=True,
        name="docs",
        tags=("service",),
    ),
    Route(
        ("GET", "HEAD"),
        "/",
        "upload",
        _errors({}),
        "The web page: upload images, see text, confidence and word boxes",
        public=True,
        name="webPage",
        tags=("service",),
    ),
    Route(
        ("GET", "HEAD"),
        "/assets/{asset}",
        "upload",
        _errors({}),
        "The web page's and /docs' own scripts and styles",
        public=True,
        name="staticAsset",
        tags=("service",),
    ),
    *VISION_ROUTES,
)
#: Every function answers its own health check; the front door and the LB send it to upload.
HEALTH = next(route for route in ROUTES if route.name == "health")
FUNCTIONS = ("upload", "results")


def _normal(path: str) -> str:
    return path.rstrip("/") or "/"


def routes_for_path(path: str) -> tuple[Route, ...]:
    """The routes whose template matches ``path`` (any method), most specific first."""
    normal = _normal(path)
    return tuple(
        route
        for route in ROUTES
        if route.params(path) is not None
        or (not _REST.search(route.path) and route.params(normal) is not None)
    )


def match(method: str, path: str) -> Route | None:
    """The route serving ``method`` on ``path`` (a trailing slash is ignored; HEAD goes
    where GET does), or None."""
    for route in routes_for_path(path):
        if method in route.methods or (method == "HEAD" and "GET" in route.methods):
            return route
    return None


def allowed_methods(path: str) -> tuple[str, ...]:
    """Every method some route takes on ``path``: the Allow of a 405, empty for a 404."""
    seen: dict[str, None] = {}
    for route in routes_for_path(path):
        seen.update(dict.fromkeys(route.methods))
    return tuple(seen)


def function_for_path(path: str) -> str | None:
    """Which function serves ``path`` whatever the method (it answers 405 itself)."""
    found = routes_for_path(path)
    return found[0].function if found else None


def for_function(function: str) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.function == function)


def path_prefixes(function: str) -> list[str]:
    """Path prefixes a URL map sends to ``function``: exact paths as they are, a route with
    parameters by its literal prefix ("/results/", "/operations/")."""
    prefixes: dict[str, None] = {}
    for route in for_function(function):
        prefixes[route.path if "{" not in route.path else route.prefix] = None
    return list(prefixes)


def by_name(name: str) -> Route:
    return next(route for route in ROUTES if route.name == name)
