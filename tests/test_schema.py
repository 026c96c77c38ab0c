"""One schema: the typed models make the bodies and OpenAPI's components, so neither drifts.

The served document's components are the models' own schemas (plus the error codes and
limits only the route table and settings know); every model is a component; and bodies the
models make validate against the components the document serves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema
import pytest

from ocr_core import errors, runtime, schema
from ocr_core.http import openapi
from ocr_core.recognition import vision_messages


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi.document(runtime.current().settings)


def _validate(spec: dict[str, Any], component: str, body: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(
        {**schema.ref(component), "components": spec["components"]}
    ).validate(body)


def test_every_model_is_a_component_and_every_component_a_model(spec: dict[str, Any]) -> None:
    served = spec["components"]["schemas"]
    models = (*schema.MODELS, *vision_messages.MODELS)
    assert set(served) == {schema.component_name(model) for model in models}
    for model in models:
        fields = [schema.json_key(f) for f in dataclasses.fields(model)]  # type: ignore[arg-type]
        assert list(served[schema.component_name(model)]["properties"]) == fields, model


def test_components_are_generated_not_written(spec: dict[str, Any]) -> None:
    generated = schema.components()
    served = spec["components"]["schemas"]
    for name, component in generated.items():
        # What openapi adds is limited to error-code lists and the batch's size bound.
        for prop, value in component["properties"].items():
            if prop == "error" or (name, prop) == ("BatchResponse", "count"):
                continue
            assert served[name]["properties"][prop] == value, f"{name}.{prop}"
        assert served[name].get("required") == component.get("required"), name


def test_a_new_field_appears_in_the_document() -> None:
    @dataclasses.dataclass
    class Probe(schema.Model):
        """A probe."""

        size: int = schema.required(minimum=1)
        label: str | None = schema.spec("a label")
        parts: list[schema.Box] = schema.spec()

    assert schema.model_schema(Probe) == {
        "type": "object",
        "description": "A probe.",
        "required": ["size"],
        "properties": {
            "size": {"type": "integer", "minimum": 1},
            "label": {"type": ["string", "null"], "description": "a label"},
            "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Box"}},
        },
    }
    assert Probe(3).to_dict() == {"size": 3}  # unset fields are absent, not null
    assert Probe(3, None).to_dict() == {"size": 3, "label": None}


def test_bodies_from_the_models_match_the_served_components(spec: dict[str, Any]) -> None:
    error = errors.NotAnImage("The file is not an image")
    failed = schema.failed_document(
        error, processing_time_ms=3.21, obj=schema.object_ref("in", "a.png", 7)
    )
    assert failed["success"] is False and failed["status"] == "failed"
    assert failed["error"] == {"code": "not_an_image", "message": "The file is not an image"}
    assert failed["object"] == {"bucket": "in", "name": "a.png", "generation": "7"}
    assert "pages" not in failed and failed["processing_time_ms"] == 3.2
    _validate(spec, "ResultDocument", failed)
    _validate(spec, "Error", schema.error_body(error))
    batch = schema.BatchResponse(
        success=True,
        count=1,
        succeeded=0,
        failed=1,
        parallelism=1,
        processing_time_ms=4.0,
        results=[{"index": 0, "filename": "a.png", "http_status": 400, **failed}],
    ).to_dict()
    _validate(spec, "BatchResponse", batch)
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        _validate(spec, "ResultDocument", {**failed, "confidence": 2})
