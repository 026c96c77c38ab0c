"""One schema: the typed models make the bodies and OpenAPI's components, so neither drifts.

The served document's components are the models' own schemas (plus the error codes and
limits only the route table and settings know); every model is a component; and bodies the
models make validate against the components the document serves.
"""

from __future__ import annotations

import copy
import dataclasses
import json
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
    internal: dict[str, list[str]] = {}
    for model in models:
        fields = dataclasses.fields(model)  # type: ignore[arg-type]
        hidden = [schema.json_key(f) for f in fields if f.metadata.get("internal")]
        if hidden:
            internal[model.__name__] = hidden
        documented = [schema.json_key(f) for f in fields if not f.metadata.get("internal")]
        assert list(served[schema.component_name(model)]["properties"]) == documented, model
    # Stored and served but undocumented: only Vision's record of its output files.
    assert internal == {"OperationMetadata": ["vision_output"]}


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


# --- reading stored JSON back into the models ---------------------------------------------


def _stored_operation() -> dict[str, Any]:
    """An operation as an older version might have stored it: keys in its own order, a key
    this version does not know, optional fields absent."""
    return {
        "name": "operations/20261203T000000000000Z-abc",
        "done": True,
        "metadata": {
            "state": "failed",
            "create_time": "2026-12-03T00:00:00.000Z",
            "update_time": "2026-12-03T00:00:01.000Z",
            "documents": [
                {
                    "object": {"bucket": "in", "name": "a.pdf", "generation": "7"},
                    "state": "failed",
                    "legacy_note": {"kept": [1, 2]},
                    "error": {"code": "corrupt_document", "message": "damaged"},
                    "result": {"bucket": "out", "name": "a.pdf.json"},
                }
            ],
            "vision_output": {"files": [], "written_at": "2026-12-03T00:00:02.000Z"},
        },
        "error": {"code": "corrupt_document", "message": "damaged", "details": {"object": "a"}},
        "response": {"documents": []},
    }


def test_from_dict_types_nested_models_and_round_trips_byte_for_byte() -> None:
    stored = _stored_operation()
    op = schema.Operation.from_dict(stored)
    entry = op.metadata.documents[0]
    assert isinstance(op.metadata, schema.OperationMetadata)
    assert isinstance(entry, schema.DocumentEntry) and isinstance(entry.object, schema.ObjectRef)
    assert isinstance(entry.error, schema.ErrorDetail) and entry.error.code == "corrupt_document"
    assert isinstance(op.error, schema.ErrorDetail) and op.error.details == {"object": "a"}
    assert entry.kind is schema.UNSET and op.metadata.trigger is schema.UNSET  # absent stays absent
    assert op.metadata.vision_output["files"] == []
    assert json.dumps(op.to_dict()) == json.dumps(stored)  # order and unknown keys kept


def test_a_loaded_model_changes_like_the_dict_it_replaces() -> None:
    stored = _stored_operation()
    op = schema.Operation.from_dict(stored)
    entry = op.metadata.documents[0]
    entry.pages_done = 3  # new: after the keys read
    entry.error = None  # changed in place
    op.metadata.vision_output = schema.UNSET  # removed
    expected = copy.deepcopy(stored)
    doc = expected["metadata"]["documents"][0]
    doc["error"] = None
    doc["pages_done"] = 3
    del expected["metadata"]["vision_output"]
    assert json.dumps(op.to_dict()) == json.dumps(expected)
    clone = copy.deepcopy(op)
    clone.metadata.documents[0].results_url = "http://x/results/a.pdf"
    assert "results_url" not in op.to_dict()["metadata"]["documents"][0]
    assert list(clone.to_dict()["metadata"]["documents"][0])[-1] == "results_url"


def test_from_dict_refuses_what_is_not_the_model() -> None:
    with pytest.raises(ValueError, match="without state"):
        schema.DocumentEntry.from_dict({"object": {"bucket": "b", "name": "n", "generation": "1"}})
    with pytest.raises(ValueError, match="metadata is not a OperationMetadata"):
        schema.Operation.from_dict({"name": "operations/x", "done": False, "metadata": []})
    with pytest.raises(ValueError, match="not a list"):
        schema.OperationMetadata.from_dict({"state": "queued", "documents": {}})


def test_from_dict_invents_no_defaults() -> None:
    """``created_at`` and the versions default when a body is made, not when one is read."""
    stored = {"success": True, "status": "done", "text": "", "confidence": 0.0,
              "processing_time_ms": 1.0}  # fmt: skip
    result = schema.ResultDocument.from_dict(stored)
    assert result.created_at is schema.UNSET and result.schema_version is schema.UNSET
    assert result.to_dict() == stored
