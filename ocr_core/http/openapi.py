"""The OpenAPI 3.1 description of every HTTP route, built as a dict and served at /openapi.json.

Built in Python rather than kept as a file so that limits come from the live settings and
error codes from ``errors.py``: the document cannot drift from what the code answers.
Its paths, methods and error responses come from the route table (``routes.ROUTES``); the
builders in ``PATH_BUILDERS`` add each operation's parameters, bodies and examples.

In the cloud the upload and results functions have different URLs. The document's
``servers`` is relative (``/``: the host that served it, as the local gateway or a load
balancer in front of both functions serves them all); when ``RESULTS_BASE_URL`` is set, the
results route names that base as its own server.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ocr_core import __version__, errors
from ocr_core.config import Settings
from ocr_core.http import routes
from ocr_core.http.routes import UPLOAD_ERRORS
from ocr_core.http.vision import openapi as vision_openapi
from ocr_core.recognition import render
from ocr_core.schema import (
    Block,
    Box,
    ImageMetadata,
    Line,
    Page,
    ResultDocument,
    Word,
    components,
    ref,
)
from ocr_core.schema import Engine as EngineInfo

JSON = "application/json"
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return ref(name)


def _codes(*classes: type[errors.OcrError]) -> list[str]:
    return sorted({cls.code for cls in classes})


#: What one batch item can carry in its ``error`` (the single-image errors, per file).
ITEM_ERRORS = [
    *_codes(
        *UPLOAD_ERRORS[400],
        *UPLOAD_ERRORS[413],
        *UPLOAD_ERRORS[415],
        *UPLOAD_ERRORS[422],
        errors.EngineError,
    ),
    "internal_error",
]
#: Codes a stored failed result (and an operation's document) can carry in ``error``.
RESULT_FAILURE_CODES = _codes(
    *UPLOAD_ERRORS[400],
    *UPLOAD_ERRORS[413],
    *UPLOAD_ERRORS[415],
    *UPLOAD_ERRORS[422],
    errors.TooManyPages,
    errors.DocumentTooLarge,
    errors.EncryptedDocument,
    errors.CorruptDocument,
    errors.Cancelled,
)
OPERATION_FAILURE_CODES = sorted({*RESULT_FAILURE_CODES, errors.ObjectReplaced.code})
DESCRIPTIONS = {
    400: "Bad request",
    401: "API keys are configured (API_KEYS) and X-API-Key is missing or wrong",
    408: "The request body stalled before its Content-Length was reached",
    429: "This client is over its rate limit; see Retry-After",
    404: "No such route or object",
    405: "Method not allowed on this route",
    413: "Too large",
    415: "Unsupported file format",
    409: "Conflict with the operation's state",
    422: "The object's OCR failed",
    500: "A bug: logged with its traceback, answered without it",
    502: "The local gateway could not reach the function (local stack only)",
    503: "Storage or engine trouble that may pass; retry",
}
EXAMPLE_MESSAGES = {
    "missing_file": "No file in the multipart field 'image'",
    "too_many_files": "Send one file in 'image'; got 2",
    "empty_file": "The file in 'image' is empty",
    "not_an_image": "The file is not an image (no known image signature)",
    "corrupt_image": "The image is truncated or damaged",
    "image_too_small": "The image is 4x4 pixels; at least 8 pixels a side are needed",
    "invalid_dimensions": "The image is 2400x12 pixels; sides more than 100 times longer "
    "than the other are not read",
    "unauthorized": "Send a valid API key in the X-API-Key header",
    "invalid_request": "mode must be one of sync, async",
    "file_too_large": "The file is larger than the 10485760-byte limit",
    "image_too_large": "The image has 400000000 pixels; the limit is 50000000",
    "unsupported_format": "PDF files are not supported here; send a JPEG, PNG, GIF, BMP, "
    "TIFF or WebP image",
    "batch_too_large": "The request body is 40000000 bytes; a batch may carry 31457280 bytes",
    "invalid_object_name": "The object name has an empty, '.' or '..' segment",
    "image_too_complex": "The JPEG file has more than 100 progressive scans",
    "reserved_object_name": "The object name '_operations/x' is reserved",
    "document_too_large": "Page 1 embeds images over 512 MiB once decoded",
    "not_found": "No object and no result named 'scans/missing.png'",
    "method_not_allowed": "GET is not allowed here; use POST",
    "ocr_failed": "OCR failed for this object: The file is not an image",
    "engine_error": "The OCR engine failed on this image; try again",
    "engine_rejected_image": "Cloud Vision rejected the image: Bad image data.",
    "storage_error": "The stored result is unreadable",
    "temporarily_unavailable": "The function did not answer; try again",
    "internal_error": "Internal error; it has been logged",
    "request_timeout": "The request took too long to arrive",
    "rate_limited": "Too many requests",
    "too_many_objects": "The batch has 612 objects; the limit is 500 per operation",
    "operation_finished": "The operation is already done",
    "source_unavailable": "The object 'scans/receipt.png' is no longer stored, so its pages "
    "cannot be drawn; the json, txt, hocr and alto formats still can be",
}


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    schema: Schema = {
        "allOf": [
            _ref("Error"),
            {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
        ]
    }
    examples = {
        code: {
            "value": {
                "success": False,
                "error": {"code": code, "message": EXAMPLE_MESSAGES.get(code, code)},
            }
        }
        for code in codes
    }
    return {
        "description": f"{DESCRIPTIONS.get(status, 'Error')}: {', '.join(codes)}",
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {JSON: {"schema": schema, "examples": examples}},
    }


def _errors(table: routes.Errors) -> dict[str, Any]:
    """Error responses: the route's own codes plus what every route behind the gateway can say."""
    codes: dict[int, list[str]] = {status: _codes(*classes) for status, classes in table.items()}
    codes.setdefault(404, []).append("not_found")
    codes.setdefault(405, []).append("method_not_allowed")
    codes.setdefault(500, []).append("internal_error")
    codes.setdefault(502, []).append("temporarily_unavailable")
    return {
        str(status): _error_response(status, sorted(set(c))) for status, c in sorted(codes.items())
    }


def _json_ok(description: str, schema: Schema, example: Any, **headers: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": schema, "example": example}},
    }
    all_headers = {
        "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
        "Server-Timing": {"$ref": "#/components/headers/Server-Timing"},
        **headers,
    }
    response["headers"] = all_headers
    return response


LANG_PARAM = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "Tesseract language code(s) installed with the engine; defaults to OCR_LANG",
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$", "maxLength": 64},
    "example": "eng",
}

_LINE = Box(36, 30, 260, 34)
#: The example result, made by the models it illustrates.
HELLO_DOC: dict[str, Any] = ResultDocument(
    success=True,
    status="done",
    text="Hello world",
    confidence=0.9581,
    no_text_found=False,
    processing_time_ms=212.4,
    language="en",
    word_count=2,
    image=ImageMetadata(
        format="JPEG",
        mime_type="image/jpeg",
        width=640,
        height=160,
        orientation_applied=1,
        size_bytes=18234,
        sha256="9f2c4e0d6b8a1c3e5f7a9b0c2d4e6f8a0b1c3d5e7f9a1b2c3d4e5f6a7b8c9d0e",
    ),
    engine=EngineInfo("auto", "rapidocr 3.10.0 + tesseract 5.5.4"),
    cached=False,
    pages=[
        Page(
            width=640,
            height=160,
            confidence=0.9581,
            blocks=[
                Block(
                    "Hello world",
                    0.9581,
                    _LINE,
                    lines=[
                        Line(
                            "Hello world",
                            0.9581,
                            _LINE,
                            words=[
                                Word("Hello", 0.9612, Box(36, 30, 112, 34)),
                                Word("world", 0.955, Box(164, 30, 132, 34)),
                            ],
                        )
                    ],
                )
            ],
        )
    ],
    created_at="2026-11-22T10:00:00.000Z",
).to_dict()


def _schemas(settings: Settings) -> dict[str, Schema]:
    """The models' schemas (``ocr_core.schema``), with what only the route table and the
    settings know: which error codes each body can carry, and the batch's size limit; then
    the Vision messages' (``vision.*``, ``google.*``)."""
    schemas = components()

    def codes(**keywords: Any) -> Schema:
        return {"allOf": [_ref("ErrorDetail"), {"properties": {"code": keywords}}]}

    schemas["ResultDocument"]["properties"]["error"] = codes(
        description="why the object could not be OCRed", examples=RESULT_FAILURE_CODES
    )
    schemas["DocumentEntry"]["properties"]["error"] = {
        "oneOf": [{"type": "null"}, codes(examples=OPERATION_FAILURE_CODES)]
    }
    schemas["BatchItem"]["properties"]["error"] = codes(enum=ITEM_ERRORS)
    schemas["BatchResponse"]["properties"]["count"]["maximum"] = settings.max_batch_items
    return {**schemas, **vision_openapi.schemas()}


FORMATS_DESCRIPTION = (
    "`pdf`, `hocr`, `alto`, `txt`: the result as a file to download "
    "(docs/formats.md): a searchable PDF over the original pages, hOCR, ALTO v4 XML, or text"
)
#: The files ``?format=`` answers with, by media type (``render.FORMATS`` is the list).
FILE_CONTENT: dict[str, Any] = {
    fmt.media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
    for fmt in render.FORMATS.values()
}
FILE_HEADERS: dict[str, Any] = {
    "Content-Disposition": {
        "description": "with ?format=pdf|hocr|alto|txt: attachment; filename=<object>.<ext>",
        "schema": {"type": "string"},
        "example": "attachment; filename=\"receipt.png.pdf\"; filename*=UTF-8''receipt.png.pdf",
    }
}


def _with_files(response: dict[str, Any]) -> dict[str, Any]:
    return {
        **response,
        "headers": {**response.get("headers", {}), **FILE_HEADERS},
        "content": {**response["content"], **FILE_CONTENT},
    }


def _upload_paths(settings: Settings) -> dict[str, Any]:
    multipart_one = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "JPEG, PNG, GIF, BMP, TIFF or WebP; at most "
                            f"{settings.max_upload_bytes} bytes",
                        }
                    },
                },
                "encoding": {"image": {"contentType": "application/octet-stream"}},
            }
        },
    }
    accepted_example = {
        "success": True,
        "status": "pending",
        "object": "uploads/2026/11/22/k3j9x2-invoice.gif",
        "bucket": settings.input_bucket,
        "generation": "1763805600123456",
        "results_url": "http://127.0.0.1:8080/results/uploads/2026/11/22/k3j9x2-invoice.gif",
        "image": HELLO_DOC["image"],
    }
    batch_example = {
        "success": True,
        "count": 2,
        "succeeded": 1,
        "failed": 1,
        "parallelism": 2,
        "processing_time_ms": 231.9,
        "items_processing_time_ms": 214.1,
        "results": [
            {"index": 0, "filename": "hello.jpg", "http_status": 200, **HELLO_DOC},
            {
                "index": 1,
                "filename": "notes.pdf",
                "http_status": 415,
                "success": False,
                "status": "failed",
                "error": {
                    "code": "unsupported_format",
                    "message": EXAMPLE_MESSAGES["unsupported_format"],
                    "details": {"detected": "pdf"},
                },
                "processing_time_ms": 1.7,
            },
        ],
    }
    return {
        "/extract-text": {
            "post": {
                "operationId": "extractText",
                "tags": ["upload"],
                "summary": "OCR one image now, or store it for background OCR",
                "description": "The format is read from the bytes, never from the file name. "
                "EXIF orientation is applied before OCR. `?mode=async` stores the image in "
                "the input bucket and answers 202 with the URL of its future result.",
                "parameters": [
                    {
                        "name": "mode",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["sync", "async"], "default": "sync"},
                        "description": "`sync`: OCR now; `async`: store for background OCR",
                    },
                    LANG_PARAM,
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["json", *render.FORMATS], "default": "json"},
                        "description": "with mode=sync: " + FORMATS_DESCRIPTION,
                    },
                ],
                "requestBody": multipart_one,
                "responses": {
                    "200": _with_files(
                        _json_ok("OCR done (mode=sync)", _ref("ResultDocument"), HELLO_DOC)
                    ),
                    "202": _json_ok(
                        "Stored for background OCR (mode=async)",
                        _ref("Accepted"),
                        accepted_example,
                        Location={
                            "description": "the results_url",
                            "schema": {"type": "string"},
                        },
                    ),
                },
            }
        },
        "/batch-extract": {
            "post": {
                "operationId": "batchExtract",
                "tags": ["upload"],
                "summary": "OCR several images in one request, side by side",
                "description": "One file per multipart field named `images` (repeat the "
                f"field), at most {settings.max_batch_items} files and "
                f"{settings.max_batch_bytes} bytes in all, each at most "
                f"{settings.max_upload_bytes} bytes. The answer has one item per file in "
                "upload order, each with its own result or its own error: one bad file "
                "never fails the others, and the batch answers 200 as long as the request "
                "itself is sound.",
                "parameters": [LANG_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["images"],
                                "properties": {
                                    "images": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": settings.max_batch_items,
                                        "items": {
                                            "type": "string",
                                            "contentMediaType": "application/octet-stream",
                                        },
                                    }
                                },
                            },
                            "encoding": {"images": {"contentType": "application/octet-stream"}},
                        }
                    },
                },
                "responses": {
                    "200": _json_ok(
                        "One item per file, in upload order", _ref("BatchResponse"), batch_example
                    ),
                },
            }
        },
    }


def _results_paths(settings: Settings) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": "getResult",
        "tags": ["results"],
        "summary": "The result document of an object in the input bucket",
        "description": "Served by the results function. The object name may contain `/` "
        "(as in `scans/2026/receipt.png`); URL-encode other special characters.",
        "parameters": [
            {
                "name": "object",
                "in": "path",
                "required": True,
                "description": "object name in the input bucket",
                "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
                "example": "scans/receipt.png",
            },
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"enum": ["json", "text", *render.FORMATS], "default": "json"},
                "description": "`text`: only the text, as text/plain; " + FORMATS_DESCRIPTION,
            },
        ],
        "responses": {
            "200": {
                "description": "The result document (`status` is `done` or `failed`), its "
                "text with `?format=text`, or a file with `?format=pdf|hocr|alto|txt`",
                "headers": {
                    "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
                    **FILE_HEADERS,
                },
                "content": {
                    **FILE_CONTENT,
                    JSON: {
                        "schema": _ref("ResultDocument"),
                        "example": {
                            **HELLO_DOC,
                            "object": {
                                "bucket": settings.input_bucket,
                                "name": "scans/receipt.png",
                                "generation": "1763805600123456",
                            },
                        },
                    },
                    "text/plain": {"schema": {"type": "string"}, "example": "Hello world"},
                },
            },
            "202": _json_ok(
                "The object exists and its result is not there yet",
                _ref("Pending"),
                {
                    "success": True,
                    "status": "pending",
                    "object": "scans/receipt.png",
                    "generation": "1763805600123456",
                },
                **{"Retry-After": {"schema": {"type": "string"}, "example": "2"}},
            ),
        },
    }
    path: dict[str, Any] = {"get": operation}
    if settings.results_base_url:
        path["servers"] = [
            {"url": settings.results_base_url, "description": "the results function"}
        ]
    return {"/results/{object}": path}


def _operations_paths(settings: Settings) -> dict[str, Any]:
    op_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "the part of the operation's `name` after `operations/`",
        "schema": {"type": "string", "pattern": "^[0-9A-Za-z][0-9A-Za-z_-]{0,79}$"},
        "example": "20261122T210927820634Z-37aea6acb8",
    }
    example = {
        "name": "operations/20261122T210927820634Z-37aea6acb8",
        "done": False,
        "metadata": {
            "state": "running",
            "trigger": "api",
            "request": {"prefix": "contracts/"},
            "create_time": "2026-11-22T21:09:27.820Z",
            "update_time": "2026-11-22T21:09:28.000Z",
            "end_time": None,
            "progress": {
                "pages_done": 1,
                "pages_total": 3,
                "documents_done": 0,
                "documents_total": 1,
                "percent": 33,
            },
            "documents": [
                {
                    "object": {
                        "bucket": settings.input_bucket,
                        "name": "contracts/contract.pdf",
                        "generation": "1795381767664048783",
                    },
                    "state": "running",
                    "error": None,
                    "results_url": "http://127.0.0.1:8080/results/contracts/contract.pdf",
                }
            ],
        },
    }
    op_ok = _json_ok("The operation", _ref("Operation"), example)
    return {
        "/operations": {
            "post": {
                "operationId": "startOperation",
                "tags": ["operations"],
                "summary": "OCR objects of the input bucket in the background, as one operation",
                "description": "Send either `objects` (names) or `prefix`, at most "
                f"{settings.max_operation_objects} objects. For the bucket's operator: keep "
                "it behind authentication in the cloud.",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "objects": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"type": "string"},
                                    },
                                    "prefix": {"type": "string", "maxLength": 1024},
                                },
                            },
                            "examples": {
                                "prefix": {"value": {"prefix": "contracts/"}},
                                "objects": {"value": {"objects": ["contracts/contract.pdf"]}},
                            },
                        }
                    },
                },
                "responses": {
                    "202": _json_ok(
                        "Started",
                        _ref("Operation"),
                        example,
                        Location={"schema": {"type": "string"}},
                    ),
                },
            },
            "get": {
                "operationId": "listOperations",
                "tags": ["operations"],
                "summary": "Operations, oldest first",
                "parameters": [
                    {
                        "name": "page_size",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                    },
                    {"name": "page_token", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json_ok(
                        "A page of operations", _ref("OperationList"), {"operations": [example]}
                    ),
                },
            },
        },
        "/operations/{id}": {
            "get": {
                "operationId": "getOperation",
                "tags": ["operations"],
                "summary": "One operation: state, progress, and where the results are",
                "parameters": [op_id],
                "responses": {"200": op_ok},
            }
        },
        "/operations/{id}:cancel": {
            "post": {
                "operationId": "cancelOperation",
                "tags": ["operations"],
                "summary": "Cancel: pages not started are skipped",
                "parameters": [op_id],
                "responses": {
                    "200": op_ok,
                },
            }
        },
    }


def _service_paths(settings: Settings) -> dict[str, Any]:
    def page(summary: str, operation_id: str, media: str = "text/html") -> dict[str, Any]:
        return {
            "get": {
                "operationId": operation_id,
                "tags": ["service"],
                "summary": summary,
                "responses": {
                    "200": {
                        "description": summary,
                        "content": {media: {"schema": {"type": "string"}}},
                    },
                },
            }
        }

    return {
        "/healthz": {
            "get": {
                "operationId": "health",
                "tags": ["service"],
                "summary": "Liveness",
                "responses": {
                    "200": _json_ok("Alive", _ref("Health"), {"status": "ok"}),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["service"],
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    },
                },
            }
        },
        "/docs": page("Readable API reference (Swagger UI, served by the project)", "docs"),
        "/": page("The web page: upload images, see text, confidence and word boxes", "webPage"),
        "/assets/{asset}": {
            "get": {
                "operationId": "staticAsset",
                "tags": ["service"],
                "summary": "The web page's and /docs' own scripts and styles",
                "parameters": [
                    {
                        "name": "asset",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": "app.js",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"*/*": {"schema": {"type": "string"}}},
                    },
                },
            }
        },
    }


#: Each builder returns the details of its routes' operations (parameters, bodies, success
#: responses) as OpenAPI path items. Which paths and methods exist, their summaries and their
#: error responses come from ``routes.ROUTES`` alone (``document``).
PATH_BUILDERS: list[Callable[[Settings], dict[str, Any]]] = [
    _upload_paths,
    _results_paths,
    _operations_paths,
    _service_paths,
    lambda settings: vision_openapi.path_items(r for r in routes.ROUTES if "vision" in r.tags),
]
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _paths(settings: Settings) -> dict[str, Any]:
    details: dict[str, dict[str, Any]] = {}  # operationId -> operation
    extras: dict[str, dict[str, Any]] = {}  # path -> path-level fields ("servers")
    for build in PATH_BUILDERS:
        for template, item in build(settings).items():
            for key, value in item.items():
                if key in _METHODS:
                    details[value["operationId"]] = value
                else:
                    extras.setdefault(template, {})[key] = value
    paths: dict[str, Any] = {}
    for route in routes.ROUTES:
        for method in route.methods:
            if method == "HEAD":
                continue  # implied by GET
            op = copy.deepcopy(details.get(route.name, {}))
            op.update(operationId=route.name, summary=route.summary, tags=list(route.tags))
            op.setdefault("responses", {}).update(
                vision_openapi.error_responses(list(route.errors))
                if "vision" in route.tags
                else _errors(route.errors)
            )
            item = paths.setdefault(route.path, dict(extras.get(route.path, {})))
            item[method.lower()] = op
    return paths


def document(settings: Settings) -> dict[str, Any]:
    paths = _paths(settings)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OCR pipeline",
            "version": __version__,
            "description": "Text extraction from images: immediate (`POST /extract-text`), "
            "several at once (`POST /batch-extract`) or in the background (`?mode=async`, or "
            "an object dropped into the input bucket), with results by object name "
            "(`GET /results/{object}`). Every JSON response carries `X-Request-Id`; errors "
            "are `{success: false, error: {code, message}}` with a stable code.",
        },
        "servers": [
            {
                "url": "/",
                "description": "the host that served this document (the local gateway, or "
                "a load balancer in front of both functions)",
            }
        ],
        "tags": [
            {"name": "upload", "description": "the upload function"},
            {"name": "results", "description": "the results function"},
            {"name": "operations", "description": "long-running batches (upload function)"},
            {"name": "service", "description": "health, this document, the web page"},
            {
                "name": "vision",
                "description": "Cloud Vision's REST API (google-cloud-vision works against "
                "it with api_endpoint set); docs/vision-api.md",
            },
        ],
        "paths": paths,
        "components": {
            "schemas": _schemas(settings),
            "headers": {
                "X-Request-Id": {
                    "description": "id of this request, also on its log lines",
                    "schema": {"type": "string"},
                },
                "Server-Timing": {
                    "description": "time spent in the function: `app;dur=<ms>`",
                    "schema": {"type": "string"},
                },
            },
        },
    }
