"""The OpenAPI details of the ``/v1`` routes: request and response bodies, briefly. Which
paths exist comes from the route table; the messages are Cloud Vision's own, so their
schemas here name the main fields and point to Google's reference for the rest."""

from __future__ import annotations

import copy
from typing import Any

REFERENCE = "https://cloud.google.com/vision/docs/reference/rest/v1"
#: Route names of the Vision surface (``routes.py``) -> the base operation they are a form of.
SUFFIXES = ("InProject", "InLocation", "InRegion", "Bare", "Get", "Post", "Put", "Patch", "Delete")

Schema = dict[str, Any]


def _obj(doc: str, /, **properties: Schema) -> Schema:
    return {"type": "object", "description": doc, "properties": properties}


def _list(item: Schema, description: str = "") -> Schema:
    schema: Schema = {"type": "array", "items": item}
    if description:
        schema["description"] = description
    return schema


_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_ENUM: Schema = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
_STATUS = _obj("google.rpc.Status", code=_INT, message=_STR)
_FEATURES = _list(
    _obj(
        "Feature",
        type={**_ENUM, "description": "TEXT_DETECTION (5) or DOCUMENT_TEXT_DETECTION (11)"},
    ),
)
_CONTEXT = _obj("ImageContext", languageHints=_list(_STR, "BCP-47 codes, e.g. en, de"))
_IMAGE = _obj(
    "Image: base64 content, or a gs:// object of the input bucket",
    content={"type": "string", "format": "byte"},
    source=_obj("ImageSource", gcsImageUri=_STR, imageUri=_STR),
)
_IMAGE_REQUEST = _obj(
    "AnnotateImageRequest", image=_IMAGE, features=_FEATURES, imageContext=_CONTEXT
)
_ANNOTATION = _obj(
    "TextAnnotation: pages -> blocks -> paragraphs -> words -> symbols, each with "
    "boundingBox vertices, confidence and detectedLanguages",
    text=_STR,
    pages=_list({"type": "object"}),
)
_IMAGE_RESPONSE = _obj(
    "AnnotateImageResponse: annotations, or this image's error",
    textAnnotations=_list(
        _obj(
            "EntityAnnotation: the whole text first, then one per word",
            description=_STR,
            locale=_STR,
            boundingPoly={"type": "object"},
        )
    ),
    fullTextAnnotation=_ANNOTATION,
    context=_obj("ImageAnnotationContext (files)", uri=_STR, pageNumber=_INT),
    error=_STATUS,
)
_INPUT = _obj(
    "InputConfig: PDF, TIFF or GIF as base64 content or a gs:// source",
    gcsSource=_obj("GcsSource", uri=_STR),
    content={"type": "string", "format": "byte"},
    mimeType=_STR,
)
_OUTPUT = _obj(
    "OutputConfig: files <uri>output-<first>-to-<last>.json in the results bucket",
    gcsDestination=_obj("GcsDestination", uri=_STR),
    batchSize={"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
)
_FILE_RESPONSE = _obj(
    "AnnotateFileResponse",
    inputConfig=_INPUT,
    responses=_list(_IMAGE_RESPONSE),
    totalPages=_INT,
    error=_STATUS,
)
_OPERATION = _obj(
    "google.longrunning.Operation",
    name={"type": "string", "example": "operations/20261203T120000000000Z-0123456789"},
    metadata=_obj(
        "OperationMetadata",
        state={**_ENUM, "description": "CREATED, RUNNING, DONE or CANCELLED"},
        createTime=_STR,
        updateTime=_STR,
    ),
    done={"type": "boolean"},
    response=_obj(
        "AsyncBatchAnnotateFilesResponse (responses[].outputConfig) or "
        "AsyncBatchAnnotateImagesResponse (outputConfig)"
    ),
    error=_STATUS,
)
GOOGLE_ERROR = _obj(
    "Google's error shape", error=_obj("error", code=_INT, message=_STR, status=_STR)
)


def _op(summary_ref: str, request: Schema | None, response: Schema) -> dict[str, Any]:
    op: dict[str, Any] = {
        "description": f"Cloud Vision's method, as in {REFERENCE}/{summary_ref}. "
        "Enums as names or integers; `$alt=json;enum-encoding=int` answers integers.",
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": response}}}
        },
    }
    if request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": request}},
        }
    return op


OPERATIONS: dict[str, dict[str, Any]] = {
    "visionAnnotateImages": _op(
        "images/annotate",
        _obj("BatchAnnotateImagesRequest", requests=_list(_IMAGE_REQUEST, "1 to 16")),
        _obj("BatchAnnotateImagesResponse", responses=_list(_IMAGE_RESPONSE)),
    ),
    "visionAnnotateFiles": _op(
        "files/annotate",
        _obj(
            "BatchAnnotateFilesRequest",
            requests=_list(
                _obj(
                    "AnnotateFileRequest",
                    inputConfig=_INPUT,
                    features=_FEATURES,
                    imageContext=_CONTEXT,
                    pages=_list(_INT, "up to 5; negative counts from the end"),
                ),
                "one file",
            ),
        ),
        _obj("BatchAnnotateFilesResponse", responses=_list(_FILE_RESPONSE)),
    ),
    "visionAsyncBatchAnnotateFiles": _op(
        "files/asyncBatchAnnotate",
        _obj(
            "AsyncBatchAnnotateFilesRequest",
            requests=_list(
                _obj(
                    "AsyncAnnotateFileRequest",
                    inputConfig=_INPUT,
                    features=_FEATURES,
                    outputConfig=_OUTPUT,
                )
            ),
            parent=_STR,
        ),
        _OPERATION,
    ),
    "visionAsyncBatchAnnotateImages": _op(
        "images/asyncBatchAnnotate",
        _obj(
            "AsyncBatchAnnotateImagesRequest",
            requests=_list(_IMAGE_REQUEST),
            outputConfig=_OUTPUT,
            parent=_STR,
        ),
        _OPERATION,
    ),
    "visionListOperations": _op(
        "operations/list",
        None,
        _obj("ListOperationsResponse", operations=_list(_OPERATION), nextPageToken=_STR),
    ),
    "visionGetOperation": _op("operations/get", None, _OPERATION),
    "visionCancelOperation": _op("operations/cancel", None, _obj("google.protobuf.Empty")),
    "visionNotFound": {
        "description": "No such Vision method: answered in Google's error shape",
        "responses": {},
    },
}


def base_name(name: str) -> str:
    """``visionGetOperationInProject`` -> ``visionGetOperation``."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def details(name: str) -> dict[str, Any]:
    """The operation object (without path parameters) of the Vision route ``name``."""
    return OPERATIONS[base_name(name)]


def _parameters(template: str) -> list[dict[str, Any]]:
    # OpenAPI names a parameter as its template writes it: "{name=**}" is "name=**".
    names = [part[1:-1] for part in template.replace(":", "/").split("/") if part[:1] == "{"]
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]


def error_responses(statuses: list[int]) -> dict[str, Any]:
    """Google's error shape for each status a Vision route answers (and 404 for all)."""
    return {
        str(status): {
            "description": "Google's error: code (HTTP), message, status (google.rpc name)",
            "content": {"application/json": {"schema": GOOGLE_ERROR}},
        }
        for status in sorted({*statuses, 404})
    }


_LIST_PARAMS = [
    {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
    for name, schema, text in (
        ("pageSize", {"type": "integer", "minimum": 0, "maximum": 1000}, "default 50"),
        ("pageToken", {"type": "string"}, "nextPageToken of the previous page"),
        ("filter", {"type": "string"}, "done = true, or done = false"),
    )
]


def path_items(vision_routes: Any) -> dict[str, Any]:
    """OpenAPI path items for the Vision routes of the route table (operationId = name)."""
    items: dict[str, Any] = {}
    for route in vision_routes:
        op = copy.deepcopy(details(route.name))
        op["operationId"] = route.name
        params = _parameters(route.path)
        if base_name(route.name) == "visionListOperations":
            params += _LIST_PARAMS
        if params:
            op["parameters"] = params
        for method in route.methods:
            if method != "HEAD":
                items.setdefault(route.path, {})[method.lower()] = op
    return items
