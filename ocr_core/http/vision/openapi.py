"""The OpenAPI details of the ``/v1`` routes: which paths exist comes from the route table,
their request and response bodies from Vision's message models
(``ocr_core.recognition.vision_messages``), whose components this module adds to the
document; each operation links to Google's reference of its method."""

from __future__ import annotations

import copy
from typing import Any

from ocr_core.recognition import vision_messages as vm
from ocr_core.schema import Model, Schema, components, ref

REFERENCE = "https://cloud.google.com/vision/docs/reference/rest/v1"
#: Route names of the Vision surface (``routes.py``) -> the base operation they are a form of.
SUFFIXES = ("InProject", "InLocation", "InRegion", "Bare", "Get", "Post", "Put", "Patch", "Delete")


def schemas() -> dict[str, Schema]:
    """The Vision messages' components (``vision.*``, ``google.*``: none is one of ours)."""
    return components(vm.MODELS)


def _op(method: str, request: type[Model] | None, response: type[Model]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "description": f"Cloud Vision's method, as in {REFERENCE}/{method}. "
        "Enums as names or integers; `$alt=json;enum-encoding=int` answers integers.",
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": ref(response)}}}
        },
    }
    if request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(request)}},
        }
    return op


#: Each Vision method (by its base route name): Google's reference page, request, response.
OPERATIONS: dict[str, dict[str, Any]] = {
    "visionAnnotateImages": _op(
        "images/annotate", vm.BatchAnnotateImagesRequest, vm.BatchAnnotateImagesResponse
    ),
    "visionAnnotateFiles": _op(
        "files/annotate", vm.BatchAnnotateFilesRequest, vm.BatchAnnotateFilesResponse
    ),
    "visionAsyncBatchAnnotateFiles": _op(
        "files/asyncBatchAnnotate", vm.AsyncBatchAnnotateFilesRequest, vm.Operation
    ),
    "visionAsyncBatchAnnotateImages": _op(
        "images/asyncBatchAnnotate", vm.AsyncBatchAnnotateImagesRequest, vm.Operation
    ),
    "visionListOperations": _op("operations/list", None, vm.ListOperationsResponse),
    "visionGetOperation": _op("operations/get", None, vm.Operation),
    "visionCancelOperation": _op("operations/cancel", None, vm.Empty),
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
            "content": {"application/json": {"schema": ref(vm.ErrorBody)}},
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
