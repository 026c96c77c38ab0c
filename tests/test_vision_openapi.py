"""The ``/v1`` part of the OpenAPI document is generated from Vision's message models, and
what the service answers on ``/v1`` fits it.

Every Vision route's request and response is a reference to a generated component (no
schema written by hand), and real answers (through functions-framework's client: an
images:annotate, a files:annotate, an async batch, its operation, a cancel, Google's errors)
validate against the served document, strictly: a field the builders send that the models
lack fails the test, so the wire code cannot drift from the document.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import jsonschema
import pytest

from ocr_core import schema
from ocr_core.http import routes
from ocr_core.http.vision.openapi import base_name
from ocr_core.recognition import vision_messages as vm
from ocr_core.recognition import vision_wire
from ocr_core.schema import Operation

from .conftest import image_bytes
from .documents import multipage_tiff

TEXT = [{"type": "DOCUMENT_TEXT_DETECTION"}]
_REF = "#/components/schemas/"


@pytest.fixture
def spec(upload_client: Any) -> dict[str, Any]:
    return upload_client.get("/openapi.json").get_json()


def _strict(components: dict[str, Any]) -> dict[str, Any]:
    """The components with no field beyond the models' own in a Vision message."""
    strict = copy.deepcopy(components)
    for name in schema.components(vm.MODELS):
        strict[name]["additionalProperties"] = False
    return strict


def _validate(spec: dict[str, Any], body_schema: dict[str, Any], body: Any) -> None:
    root = {**body_schema, "components": {"schemas": _strict(spec["components"]["schemas"])}}
    jsonschema.Draft202012Validator.check_schema(root)
    jsonschema.Draft202012Validator(root).validate(body)


def _response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    response = spec["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def _check(spec: dict[str, Any], response: Any) -> dict[str, Any]:
    """Validate a real answer against its route's documented response (the route table says
    which path template the request took)."""
    request = response.request
    route = routes.match(request.method, request.path)
    assert route is not None and "vision" in route.tags, request.path
    body = response.get_json()
    schema_ = _response_schema(spec, route.path, request.method.lower(), response.status_code)
    _validate(spec, schema_, body)
    return body


def _post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _component(reference: dict[str, Any]) -> str:
    assert set(reference) == {"$ref"} and reference["$ref"].startswith(_REF), reference
    return reference["$ref"][len(_REF) :]


def test_every_v1_body_is_a_generated_component(spec: dict[str, Any]) -> None:
    generated = schema.components(vm.MODELS)
    served = spec["components"]["schemas"]
    for name, component in generated.items():
        assert served[name] == component, name  # served as generated, nothing added
        assert "." in name  # vision.X, google.rpc.Status...: never one of the service's own
    own = {schema.component_name(m) for m in schema.MODELS}
    assert not own & set(generated)
    seen = set()
    vision_routes = [r for r in routes.ROUTES if "vision" in r.tags]
    assert len(vision_routes) > 20  # the scan sees the route table
    for route in vision_routes:
        for method in route.methods:
            if method == "HEAD":
                continue
            op = spec["paths"][route.path][method.lower()]
            for status, response in op["responses"].items():
                seen.add(_component(response["content"]["application/json"]["schema"]))
                if status != "200":
                    assert response["content"]["application/json"]["schema"] == schema.ref(
                        vm.ErrorBody
                    )
            if base_name(route.name) == "visionNotFound":
                assert set(op["responses"]) >= {"404"}
                continue
            assert "200" in op["responses"], route.name
            assert "cloud.google.com/vision/docs/reference/rest/v1/" in op["description"]
            if method == "POST" and base_name(route.name) != "visionCancelOperation":
                body = op["requestBody"]["content"]["application/json"]["schema"]
                seen.add(_component(body))
            else:
                assert "requestBody" not in op, route.name
    assert seen <= set(generated)
    assert {
        "vision.BatchAnnotateImagesRequest",
        "vision.BatchAnnotateImagesResponse",
        "vision.BatchAnnotateFilesRequest",
        "vision.BatchAnnotateFilesResponse",
        "vision.AsyncBatchAnnotateFilesRequest",
        "vision.AsyncBatchAnnotateImagesRequest",
        "google.longrunning.Operation",
        "google.longrunning.ListOperationsResponse",
        "google.protobuf.Empty",
        "vision.ErrorBody",
    } <= seen


def test_enums_are_names_or_integers_from_the_one_table(spec: dict[str, Any]) -> None:
    served = spec["components"]["schemas"]
    feature = served["vision.Feature"]["properties"]["type"]["oneOf"]
    assert feature == [
        {"type": "string", "enum": list(vm.FEATURE_TYPES)},
        {"type": "integer", "enum": list(vm.FEATURE_TYPES.values())},
    ]
    assert served["vision.OperationMetadata"]["required"][0] == "@type"
    assert served["vision.BatchAnnotateImagesRequest"]["properties"]["requests"]["maxItems"] == 16


def test_real_annotate_answers_validate_against_the_document(
    spec: dict[str, Any], upload_client: Any
) -> None:
    content = base64.b64encode(image_bytes("hello.jpg")).decode()
    request = {
        "requests": [
            {
                "image": {"content": content},
                "features": TEXT,
                "imageContext": {"languageHints": ["en"]},
            },
            {"image": {"content": "aGVsbG8="}, "features": TEXT},  # not an image: its own error
            {"image": {"content": content}, "features": [{"type": "FACE_DETECTION"}]},
        ]
    }
    _validate(spec, schema.ref(vm.BatchAnnotateImagesRequest), request)
    path = "/v1/images:annotate"
    answer = _post(upload_client, path, request)
    assert answer.status_code == 200
    body = _check(spec, answer)
    found, broken, refused = body["responses"]
    assert "HELLO" in found["fullTextAnnotation"]["text"].upper()
    assert found["fullTextAnnotation"]["pages"][0]["blocks"][0]["paragraphs"][0]["words"]
    assert set(broken) == {"error"} and set(refused) == {"error"}
    # Integers for enums fit the same schema.
    ints = _post(
        upload_client, f"{path}?$alt=json;enum-encoding=int", {"requests": request["requests"][:1]}
    )
    block = _check(spec, ints)["responses"][0]["fullTextAnnotation"]["pages"][0]
    assert block["blocks"][0]["blockType"] == 1

    # The check can fail: a field the models lack, a wrong enum, a missing field, a type.
    def first_block(response: dict[str, Any]) -> dict[str, Any]:
        return response["fullTextAnnotation"]["pages"][0]["blocks"][0]

    def first_word(response: dict[str, Any]) -> dict[str, Any]:
        return first_block(response)["paragraphs"][0]["words"][0]

    for spoil in (
        lambda r: first_word(r).update(extra=1),
        lambda r: first_block(r).update(blockType="PARA"),
        lambda r: first_word(r)["symbols"][0].pop("text"),
        lambda r: r["textAnnotations"][0].update(boundingPoly={"vertices": [{"x": "1"}]}),
    ):
        spoiled = copy.deepcopy(body)
        spoil(spoiled["responses"][0])
        with pytest.raises(jsonschema.ValidationError):
            _validate(spec, _response_schema(spec, path, "post", 200), spoiled)


def test_real_file_answers_validate_against_the_document(
    spec: dict[str, Any], upload_client: Any
) -> None:
    content = base64.b64encode(multipage_tiff(2)).decode()
    request = {
        "requests": [
            {
                "inputConfig": {"content": content, "mimeType": "image/tiff"},
                "features": TEXT,
                "pages": [-1],
            }
        ]
    }
    _validate(spec, schema.ref(vm.BatchAnnotateFilesRequest), request)
    path = "/v1/projects/p/files:annotate"
    body = _check(spec, _post(upload_client, path, request))
    (file,) = body["responses"]
    assert file["totalPages"] == 2 and file["responses"][0]["context"] == {"pageNumber": 2}
    bad = {"requests": [{"inputConfig": {"content": "JVBERi0="}, "features": TEXT}]}
    assert "error" in _check(spec, _post(upload_client, path, bad))["responses"][0]


def test_operations_and_errors_validate_against_the_document(
    spec: dict[str, Any], upload_client: Any
) -> None:
    request = {
        "requests": [
            {
                "image": {"content": base64.b64encode(image_bytes("hello.jpg")).decode()},
                "features": TEXT,
            }
        ],
        "outputConfig": {"gcsDestination": {"uri": "gs://ocr-results/vision/out/"}, "batchSize": 2},
    }
    _validate(spec, schema.ref(vm.AsyncBatchAnnotateImagesRequest), request)
    started = _post(upload_client, "/v1/images:asyncBatchAnnotate", request)
    assert started.status_code == 200, started.get_json()
    op = _check(spec, started)
    op_id = op["name"].rsplit("/", 1)[1]
    listed = upload_client.get("/v1/operations?pageSize=5")
    assert op["name"] in [o["name"] for o in _check(spec, listed)["operations"]]
    cancel = f"/v1/operations/{op_id}:cancel"
    assert _check(spec, upload_client.post(cancel)) == {}
    cancelled = _check(spec, upload_client.get(f"/v1/operations/{op_id}"))
    assert cancelled["done"] is True and cancelled["error"]["code"] == vm.RPC_CODES["CANCELLED"]
    # Google's error shape, for a request that fails as a whole.
    assert _check(spec, upload_client.post(cancel)) == {}  # again: still done, still {}
    refused = _post(upload_client, "/v1/images:annotate", {"requests": []})
    assert refused.status_code == 400
    assert _check(spec, refused)["error"]["status"] == "INVALID_ARGUMENT"
    missing = upload_client.get("/v1/operations/nope")
    assert missing.status_code in (400, 404)
    _check(spec, missing)
    assert upload_client.get("/v1/no/such/method").status_code == 404
    _check(spec, upload_client.get("/v1/no/such/method"))


def test_a_finished_operation_validates_with_its_response(spec: dict[str, Any]) -> None:
    from ocr_core.jobs import vision_operations

    output = {"gcsDestination": {"uri": "gs://ocr-results/vision/out/"}, "batchSize": 20}
    stored = {
        "name": "operations/20261203T120000000000Z-0123456789",
        "done": True,
        "metadata": {
            "state": "done",
            "create_time": "2026-12-03T12:00:00.000Z",
            "update_time": "2026-12-03T12:00:01.000Z",
            "documents": [],
            "request": {
                "vision": {"kind": "images", "parent": "projects/p", "outputConfig": output}
            },
            "vision_output": {"files": [], "written_at": "2026-12-03T12:00:01.000Z"},
        },
    }
    operation = schema.ref(vm.Operation)
    for ints in (False, True):
        body = vision_operations.render(Operation.from_dict(stored), ints)
        assert body["response"]["outputConfig"] == output
        _validate(spec, operation, body)
    files = copy.deepcopy(stored)
    files["metadata"]["request"]["vision"] = {"kind": "files", "files": [{"outputConfig": output}]}
    _validate(spec, operation, vision_operations.render(Operation.from_dict(files), False))
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        _validate(spec, operation, {**body, "metadata": {**body["metadata"], "state": "FINISHED"}})


def test_googles_own_response_fits_the_models(spec: dict[str, Any]) -> None:
    """Google leaves default values out of its JSON, so nothing is required here; every
    field Google sends that the models name has the models' type."""
    from .vision_replay import FIXTURE, recorded_json

    if not FIXTURE.exists():
        pytest.skip("../shared/vision-fixtures is not here")
    components = copy.deepcopy(spec["components"]["schemas"])
    for component in components.values():
        component.pop("required", None)
    root = {**schema.ref(vm.AnnotateImageResponse), "components": {"schemas": components}}
    jsonschema.Draft202012Validator(root).validate(json.loads(recorded_json()))


def test_error_bodies_come_from_the_models() -> None:
    from ocr_core import errors

    status, body = vision_wire.error_body(errors.Unauthorized("no key"))
    assert (status, body) == (
        403,
        {"error": {"code": 403, "message": "no key", "status": "PERMISSION_DENIED"}},
    )
    assert vision_wire.rpc_status(errors.NotAnImage("x")) == {"code": 3, "message": "x"}
