"""The Vision engine on the recorded real response for document.jpg (no network).

Expected values are computed from the raw JSON here, independently of the engine's code.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from typing import Any

import pytest
from PIL import Image

from ocr_core import errors, runtime
from ocr_core.engines.vision import MAX_BATCH_IMAGES, VisionEngine, _chunks
from ocr_core.storage.local import generation_of

from .conftest import TEST_IMAGES
from .vision_replay import (
    FIXTURE_IMAGE,
    RecordedVisionClient,
    VisionReplayServer,
    available,
    recorded_json,
)

pytestmark = pytest.mark.skipif(not available(), reason="../shared/vision-fixtures not found")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(recorded_json())


@pytest.fixture
def document() -> Image.Image:
    with Image.open(FIXTURE_IMAGE) as im:
        return im.convert("RGB")


def raw_words(raw: dict[str, Any]) -> list[dict[str, Any]]:
    page = raw["fullTextAnnotation"]["pages"][0]
    return [w for b in page["blocks"] for p in b["paragraphs"] for w in p["words"]]


def test_text_matches_vision_line_for_line(raw, document) -> None:
    out = VisionEngine(client=RecordedVisionClient()).recognize(document)
    ours = [line for line in out.text.split("\n") if line]
    vision_lines = [line for line in raw["fullTextAnnotation"]["text"].split("\n") if line]
    assert ours == vision_lines
    assert ours[:4] == [
        "FOR OFFICIAL USE ONLY",
        "NOT FOR PUBLICATION",
        "MAY 26, 1955",
        "12:00 NOON",
    ]
    # A word hyphenated across lines keeps its hyphen; the next line starts the rest.
    assert "CSF no data as yst, non-para-\nlytic" in out.text
    # Blocks are separated by a blank line, as with the local engine.
    assert out.text.count("\n\n") == len(raw["fullTextAnnotation"]["pages"][0]["blocks"]) - 1


def test_confidence_language_and_structure(raw, document) -> None:
    out = VisionEngine(client=RecordedVisionClient()).recognize(document)
    vwords = raw_words(raw)
    texts = ["".join(s["text"] for s in w["symbols"]) for w in vwords]
    # Length-weighted mean of Vision's word confidences (the hyphen adds a character).
    lengths = [
        len(t)
        + (w["symbols"][-1].get("property", {}).get("detectedBreak", {}).get("type") == "HYPHEN")
        for t, w in zip(texts, vwords, strict=True)
    ]
    expected = sum(n * w["confidence"] for n, w in zip(lengths, vwords, strict=True)) / sum(lengths)
    assert out.confidence == pytest.approx(expected, abs=1e-4)
    assert 0.8 < out.confidence < 1.0
    assert out.language == "en"
    assert out.word_count == len(vwords) == 332

    (page,) = out.pages
    assert (page.width, page.height) == (1279, 932) == document.size
    # Vision gives no page confidence: the page gets the words' confidence.
    assert page.confidence == out.confidence
    assert len(page.blocks) == len(raw["fullTextAnnotation"]["pages"][0]["blocks"])

    first_block = page.blocks[0]
    assert first_block.text == "FOR OFFICIAL USE ONLY\nNOT FOR PUBLICATION"
    assert [ln.text for ln in first_block.lines] == ["FOR OFFICIAL USE ONLY", "NOT FOR PUBLICATION"]
    assert first_block.confidence == pytest.approx(0.99, abs=1e-4)
    assert (first_block.box.x, first_block.box.y) == (54, 35)
    assert (first_block.box.width, first_block.box.height) == (271 - 54, 64 - 35)
    first_word = first_block.lines[0].words[0]
    assert first_word.text == "FOR"
    assert first_word.confidence == pytest.approx(0.98, abs=1e-4)
    assert (first_word.box.x, first_word.box.y, first_word.box.width, first_word.box.height) == (
        61,
        35,
        27,
        13,
    )
    # Every box lies inside the page; lines enclose their words.
    for block in page.blocks:
        for line in block.lines:
            for word in line.words:
                assert word.box.x >= 0 and word.box.x + word.box.width <= page.width
                assert word.box.y >= 0 and word.box.y + word.box.height <= page.height
                assert line.box.x <= word.box.x and line.box.y <= word.box.y
                assert word.box.x + word.box.width <= line.box.x + line.box.width
    # The normalised pages serialise like every engine's.
    pages = out.pages_as_dicts()
    assert pages[0]["blocks"][0]["lines"][0]["words"][0]["box"] == {
        "x": 61,
        "y": 35,
        "width": 27,
        "height": 13,
    }


def test_the_request_is_document_text_detection_of_the_upright_image(document) -> None:
    client = RecordedVisionClient()
    VisionEngine(client=client).recognize(document, lang="eng+deu")
    ((request,),) = client.calls
    assert [f.type_.name for f in request.features] == ["DOCUMENT_TEXT_DETECTION"]
    assert list(request.image_context.language_hints) == ["en", "de"]
    with Image.open(io.BytesIO(request.image.content)) as sent:
        assert sent.format == "PNG" and sent.size == document.size


def test_missing_zero_coordinates_are_zero() -> None:
    from google.cloud import vision

    # Vision leaves zero coordinates out of its JSON (proto3 defaults).
    response = {
        "fullTextAnnotation": {
            "pages": [
                {
                    "width": 40,
                    "height": 30,
                    "blocks": [
                        {
                            "boundingBox": {
                                "vertices": [{}, {"x": 30}, {"x": 30, "y": 20}, {"y": 20}]
                            },
                            "confidence": 0.9,
                            "paragraphs": [
                                {
                                    "words": [
                                        {
                                            "boundingBox": {
                                                "vertices": [
                                                    {"y": 2},
                                                    {"x": 12, "y": 2},
                                                    {"x": 12, "y": 9},
                                                    {"y": 9},
                                                ]
                                            },
                                            "confidence": 0.5,
                                            "symbols": [
                                                {"text": "O"},
                                                {
                                                    "text": "K",
                                                    "property": {
                                                        "detectedBreak": {"type": "LINE_BREAK"}
                                                    },
                                                },
                                            ],
                                        }
                                    ]
                                }
                            ],
                        }
                    ],
                }
            ],
            "text": "OK\n",
        }
    }
    parsed = vision.AnnotateImageResponse.from_json(json.dumps(response))
    out = VisionEngine(client=object()).parse_response(parsed, 40, 30)
    assert not isinstance(out, errors.OcrError)
    block = out.pages[0].blocks[0]
    assert (block.box.x, block.box.y, block.box.width, block.box.height) == (0, 0, 30, 20)
    word = block.lines[0].words[0]
    assert word.text == "OK" and (word.box.x, word.box.y, word.box.width, word.box.height) == (
        0,
        2,
        12,
        7,
    )
    assert out.language is None  # no language detected, no locale: unknown, not guessed


def test_an_image_without_text(document) -> None:
    blank = Image.new("RGB", (200, 100), "white")
    out = VisionEngine(client=RecordedVisionClient()).recognize(blank)
    assert out.text == "" and out.confidence == 0.0 and out.word_count == 0
    assert (out.pages[0].width, out.pages[0].height) == (200, 100)


def test_per_image_errors_fail_that_image_only(document) -> None:
    client = RecordedVisionClient()
    client.errors[(300, 100)] = {"code": 3, "message": "Bad image data."}
    client.errors[(300, 101)] = {"code": 14, "message": "Service unavailable."}
    engine = VisionEngine(client=client)
    images = [document, Image.new("RGB", (300, 100)), Image.new("RGB", (300, 101)), document]
    results = engine.recognize_many(images)
    assert len(client.calls) == 1 and len(client.calls[0]) == 4  # one batch request
    ok_first, rejected, unavailable, ok_last = results
    assert not isinstance(ok_first, errors.OcrError) and ok_first.word_count == 332
    assert not isinstance(ok_last, errors.OcrError) and ok_last.word_count == 332
    assert isinstance(rejected, errors.EngineRejectedImage)
    assert rejected.permanent and rejected.code == "engine_rejected_image"
    assert "INVALID_ARGUMENT" in rejected.message and "Bad image data." in rejected.message
    assert isinstance(unavailable, errors.EngineError) and not unavailable.permanent
    # recognize() raises the error of its one image.
    with pytest.raises(errors.EngineRejectedImage):
        engine.recognize(Image.new("RGB", (300, 100)))


def test_batches_hold_at_most_16_images_in_order() -> None:
    client = RecordedVisionClient()
    sizes = [(300, 100 + i) for i in range(MAX_BATCH_IMAGES + 4)]
    client.errors.update(
        {size: {"code": 3, "message": f"image {i}"} for i, size in enumerate(sizes)}
    )
    results = VisionEngine(client=client).recognize_many([Image.new("L", s) for s in sizes])
    assert [len(call) for call in client.calls] == [16, 4]
    assert [r.message.rsplit(" ", 1)[-1] for r in results] == [str(i) for i in range(20)]  # type: ignore[union-attr]


def test_batches_are_also_bounded_in_bytes() -> None:
    mib = 1024 * 1024
    assert _chunks([3 * mib] * 5) == [(0, 2), (2, 4), (4, 5)]
    assert _chunks([10] * 33) == [(0, 16), (16, 32), (32, 33)]
    assert _chunks([20 * mib, 1]) == [(0, 1), (1, 2)]  # an oversized image goes alone
    assert _chunks([]) == []


# -- the real client library against the replay server: VISION_ENDPOINT is the seam ----------


@pytest.fixture(scope="module")
def vision_server() -> Any:
    with VisionReplayServer() as server:
        yield server


def test_real_client_over_rest_parses_the_recorded_response(vision_server, reconfigure) -> None:
    reconfigure(OCR_ENGINE="vision", VISION_ENDPOINT=vision_server.url)
    vision = runtime.current().jobs.engines.get()
    assert vision.name == "vision"
    with Image.open(FIXTURE_IMAGE) as im:
        out = vision.recognize(im.convert("RGB"))
    assert out.word_count == 332 and out.language == "en"
    assert out.text.startswith("FOR OFFICIAL USE ONLY\nNOT FOR PUBLICATION")
    sent = vision_server.requests[-1]
    # The REST transport sends enums as numbers: 11 is DOCUMENT_TEXT_DETECTION.
    assert sent[0]["features"] in ([{"type": 11}], [{"type": "DOCUMENT_TEXT_DETECTION"}])


def test_upload_function_with_vision(vision_server, reconfigure, upload_client) -> None:
    reconfigure(OCR_ENGINE="vision", VISION_ENDPOINT=vision_server.url)
    response = upload_client.post(
        "/extract-text", data={"image": (FIXTURE_IMAGE.open("rb"), "document.jpg")}
    )
    assert response.status_code == 200, response.get_json()
    doc = response.get_json()
    assert doc["success"] is True and doc["engine"]["name"] == "vision"
    assert doc["language"] == "en" and doc["word_count"] == 332
    assert "POLIOMYELITIS SURVEILLANCE UNIT" in doc["text"]
    assert 0.8 < doc["confidence"] < 1.0
    assert doc["pages"][0]["width"] == 1279


def test_vision_rejection_becomes_a_failed_result_without_retry(
    vision_server, reconfigure, ocr_client
) -> None:
    from .test_ocr_function import deliver, result

    settings = reconfigure(OCR_ENGINE="vision", VISION_ENDPOINT=vision_server.url)
    with Image.open(TEST_IMAGES / "receipt.png") as im:
        size = im.size
    vision_server.errors[size] = {"code": 3, "message": "Bad image data."}
    try:
        path = settings.data_dir / settings.input_bucket / "scan.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEST_IMAGES / "receipt.png", path)
        response = deliver(ocr_client, settings, "scan.png", generation_of(path.stat()))
        assert response.status_code == 200  # acknowledged: no retry
        doc = result(settings, "scan.png")
        assert doc["status"] == "failed" and doc["error"]["code"] == "engine_rejected_image"

        # UNAVAILABLE is transient: the function fails the delivery so that it comes again.
        vision_server.errors[size] = {"code": 14, "message": "try later"}
        path2 = settings.data_dir / settings.input_bucket / "again.png"
        shutil.copyfile(TEST_IMAGES / "receipt.png", path2)
        response = deliver(ocr_client, settings, "again.png", generation_of(path2.stat()))
        assert response.status_code == 503
        assert result(settings, "again.png") is None
    finally:
        vision_server.errors.pop(size, None)


def test_whole_request_failures_map_to_retry_or_reject(vision_server) -> None:
    engine = VisionEngine(endpoint=vision_server.url, timeout_s=2)
    image = Image.new("RGB", (300, 100))
    try:
        vision_server.answers.fail_with = (400, "INVALID_ARGUMENT")
        with pytest.raises(errors.EngineRejectedImage):
            engine.recognize(image)
        vision_server.answers.fail_with = (503, "UNAVAILABLE")
        started, sent = time.monotonic(), len(vision_server.requests)
        with pytest.raises(errors.EngineError) as caught:
            engine.recognize(image)
        assert not caught.value.permanent and "UNAVAILABLE" in caught.value.message
        assert len(vision_server.requests) - sent >= 2  # the client retried before giving up
        assert time.monotonic() - started < 10  # retried within the engine's budget, then given up
    finally:
        vision_server.answers.fail_with = None


def _tiff(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def test_document_pages_go_to_vision_in_batches(vision_server, reconfigure) -> None:
    """A multi-page document's pages are sent 16 to a request, in page order."""
    from ocr_core.recognition.documents import TIFF, ocr_pages, open_document

    settings = reconfigure(OCR_ENGINE="vision", VISION_ENDPOINT=vision_server.url)
    with Image.open(FIXTURE_IMAGE) as im:
        page = im.convert("RGB")
    blank = Image.new("RGB", (320, 200), "white")
    frames = [page, blank, page] + [blank] * 15  # 18 pages: the recorded one at 1 and 3
    sent = len(vision_server.requests)
    with open_document(_tiff(frames), TIFF, settings) as document:
        pages = ocr_pages(runtime.current().jobs.engines, document, 1, 18)
    assert [len(r) for r in vision_server.requests[sent:]] == [16, 2]
    assert [p["page_number"] for p in pages] == list(range(1, 19))
    assert pages[0]["word_count"] == pages[2]["word_count"] == 332
    assert pages[0]["language"] == "en" and pages[0]["source"] == "ocr"
    assert pages[0]["text"].startswith("FOR OFFICIAL USE ONLY")
    assert pages[1]["text"] == "" and pages[1]["word_count"] == 0
    assert pages[0]["blocks"][0]["lines"][0]["text"] == "FOR OFFICIAL USE ONLY"


def test_a_page_vision_rejects_fails_its_range(vision_server, reconfigure) -> None:
    from ocr_core.recognition.documents import TIFF, ocr_pages, open_document

    settings = reconfigure(OCR_ENGINE="vision", VISION_ENDPOINT=vision_server.url)
    vision_server.errors[(333, 222)] = {"code": 3, "message": "Bad image data."}
    try:
        frames = [Image.new("RGB", (320, 200), "white"), Image.new("RGB", (333, 222), "white")]
        with (
            open_document(_tiff(frames), TIFF, settings) as document,
            pytest.raises(errors.EngineRejectedImage),
        ):
            ocr_pages(runtime.current().jobs.engines, document, 1, 2)
    finally:
        vision_server.errors.pop((333, 222), None)
