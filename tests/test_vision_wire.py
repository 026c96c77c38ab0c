"""The Vision wire format without a server: the normalised result document mapped to
Vision's JSON reads back, through the Vision engine's own parser of Google's responses,
as the same lines, words, boxes and confidences."""

from __future__ import annotations

from typing import Any

import pytest

from ocr_core import errors
from ocr_core.http.vision.dispatch import split
from ocr_core.recognition import vision_wire

from .conftest import extract, image_bytes

vision = pytest.importorskip("google.cloud.vision")


def _lines(pages: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, dict, float]]]]:
    return [
        (line["text"], [(w["text"], w["box"], round(w["confidence"], 4)) for w in line["words"]])
        for page in pages
        for block in page["blocks"]
        for line in block["lines"]
    ]


def test_result_document_round_trips_through_the_vision_parser(settings: Any) -> None:
    from ocr_core.engines.vision import parse_annotation

    document = extract(image_bytes("receipt.png"))
    body = vision_wire.document_annotation(document, ["DOCUMENT_TEXT_DETECTION"], ints=True)
    response = vision.AnnotateImageResponse.from_json(
        __import__("json").dumps(body), ignore_unknown_fields=False
    )
    parsed = parse_annotation(response)
    back = [
        (
            line.text,
            [
                (
                    w.text,
                    {"x": w.box.x, "y": w.box.y, "width": w.box.width, "height": w.box.height},
                    round(w.confidence, 4),
                )
                for w in line.words
            ],
        )
        for page in parsed.pages
        for block in page.blocks
        for line in block.lines
    ]
    assert back == _lines(document["pages"])
    assert parsed.language == document["language"]
    assert body["textAnnotations"][0]["description"] == response.full_text_annotation.text


def test_no_text_means_no_annotations(settings: Any) -> None:
    document = extract(image_bytes("blank.png"))
    assert vision_wire.document_annotation(document, ["TEXT_DETECTION"], ints=False) == {}


def test_enums_as_names_or_integers() -> None:
    assert vision_wire.enum_name(11, vision_wire.FEATURE_TYPES, "type") == "DOCUMENT_TEXT_DETECTION"
    assert (
        vision_wire.enum_name("TEXT_DETECTION", vision_wire.FEATURE_TYPES, "type")
        == "TEXT_DETECTION"
    )
    for bad in (99, "TEXT", True, None, 1.5):
        with pytest.raises(errors.InvalidRequest):
            vision_wire.enum_name(bad, vision_wire.FEATURE_TYPES, "type")


def test_error_shapes_use_googles_codes() -> None:
    status, body = vision_wire.error_body(errors.NotFound("gone"))
    assert (status, body) == (
        404,
        {"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}},
    )
    assert vision_wire.error_body(errors.Unauthorized("key"))[0] == 403
    assert vision_wire.error_body(errors.OperationFinished("done"))[1]["error"]["status"] == (
        "FAILED_PRECONDITION"
    )
    assert vision_wire.rpc_status(vision_wire.PermissionDenied("no")) == {
        "code": 7,
        "message": "no",
    }
    assert vision_wire.rpc_status(errors.CorruptImage("bad"))["code"] == 3
    assert vision_wire.rpc_status(errors.StorageError("later"))["code"] == 14


def test_parent_prefixes_are_split_off() -> None:
    assert split("/v1/images:annotate") == ("", "images:annotate")
    assert split("/v1/projects/p/files:annotate") == ("projects/p", "files:annotate")
    assert split("/v1/projects/p/locations/eu/operations/x") == (
        "projects/p/locations/eu",
        "operations/x",
    )
    assert split("/v1/locations/eu/operations/x") == ("locations/eu", "operations/x")


def test_language_hints_become_installed_engine_languages(settings: Any) -> None:
    from ocr_core import runtime
    from ocr_core.http.vision.sources import lang

    engines = runtime.current().jobs.engines
    installed = engines.get().supported_languages()
    # Russian: a language Vision knows and no engine here reads (RapidOCR's model is Latin
    # script, Chinese and Japanese; no Cyrillic traineddata ships).
    assert "eng" in installed and "deu" in installed and "rus" not in installed
    hints = {"imageContext": {"languageHints": ["en-US", "de", "xx", "ru"]}}
    assert lang(engines, hints, "requests[0]") == "eng+deu"  # unknown and not installed: dropped
    assert lang(engines, {"imageContext": {"languageHints": ["ru"]}}, "requests[0]") is None
    assert lang(engines, {}, "requests[0]") is None


def test_every_vision_route_has_its_handler() -> None:
    from ocr_core.http import routes
    from ocr_core.http.vision import dispatch, openapi

    vision_routes = [r for r in routes.ROUTES if "vision" in r.tags]
    assert {openapi.base_name(r.name) for r in vision_routes} == set(dispatch.HANDLERS)
    assert all(r.path.startswith("/v1/") and r.function == "upload" for r in vision_routes)
