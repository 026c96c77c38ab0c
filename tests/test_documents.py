"""Multi-page PDF and TIFF documents and the operations API, through functions-framework:
the OCR function takes storage events and task pushes, the upload function the
operations routes, the results function the document result. Tasks travel through the
real local queue, delivered by the local stack's own push code (``ocr_local.task_pusher``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocr_core.config import Settings
from ocr_core.jobs.tasks import Task, local_queue_folder, publish
from ocr_core.storage.local import generation_of
from ocr_local.task_pusher import drain, pending, push_envelope

from .conftest import TEST_IMAGES, finalized_body, finalized_headers, words
from .documents import (
    WORDS,
    broken_pdf,
    encrypted_pdf,
    image_pdf,
    multipage_tiff,
    text_pdf,
)
from .stored_operations import assert_round_trip


@pytest.fixture(autouse=True)
def _operations_round_trip(settings: Settings) -> Iterator[None]:
    """After each flow: its stored operations read typed and write back the same bytes."""
    yield
    assert_round_trip(settings.data_dir)


def put(settings: Settings, name: str, data: bytes) -> int:
    path = settings.data_dir / settings.input_bucket / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return generation_of(path.stat())


def results_path(settings: Settings, name: str) -> Path:
    return settings.data_dir / settings.results_bucket / name


def stored(settings: Settings, name: str) -> dict[str, Any] | None:
    path = results_path(settings, name)
    return json.loads(path.read_text()) if path.exists() else None


def drop(ocr_client, settings: Settings, name: str, data: bytes, event_id: str = "e1") -> int:
    """``gsutil cp`` a document and deliver its finalize event, as Eventarc would."""
    generation = put(settings, name, data)
    response = ocr_client.post(
        "/",
        data=finalized_body(settings.input_bucket, name, generation),
        headers=finalized_headers(settings.input_bucket, name, event_id),
    )
    assert response.status_code == 200
    return generation


def deliverer(ocr_client):
    def deliver(envelope: dict[str, Any]) -> None:
        response = ocr_client.post("/", json=envelope)
        if response.status_code != 200:
            raise RuntimeError(f"OCR function answered {response.status_code}")

    return deliver


def run_queue(ocr_client, settings: Settings) -> int:
    return drain(local_queue_folder(settings), deliverer(ocr_client))


def deliver_next(ocr_client, settings: Settings, count: int = 1) -> list[str]:
    """Deliver the ``count`` oldest queued tasks (and acknowledge them); returns their kinds."""
    kinds = []
    for _ in range(count):
        path = pending(local_queue_folder(settings))[0]
        envelope = push_envelope(path)
        deliverer(ocr_client)(envelope)
        kinds.append(envelope["message"]["attributes"]["ocrTask"])
        path.unlink()
    return kinds


def operation_id(settings: Settings) -> str:
    ops = sorted((results_path(settings, "_operations")).glob("*.json"))
    assert len(ops) == 1, ops
    return ops[0].stem


def assert_page_text(page: dict[str, Any], number: int) -> None:
    found = words(page["text"])
    assert page["page_number"] == number
    assert "page" in found and str(number) in found, page["text"]
    assert WORDS[(number - 1) % len(WORDS)] in found, page["text"]


def test_pdf_in_the_bucket_is_ocred_page_by_page_into_shards(
    ocr_client, results_client, upload_client, reconfigure
) -> None:
    settings = reconfigure(DOCUMENT_SHARD_PAGES="2")
    generation = drop(ocr_client, settings, "scans/contract.pdf", image_pdf(5))
    op_id = operation_id(settings)

    pending_answer = results_client.get("/results/scans/contract.pdf")
    assert pending_answer.status_code == 202
    assert pending_answer.json["operation"] == f"operations/{op_id}"
    assert pending_answer.json["progress"] == {"pages_done": 0, "pages_total": 5}

    assert run_queue(ocr_client, settings) == 3  # pages 1-2, 3-4, 5

    doc = results_client.get("/results/scans/contract.pdf").json
    assert doc["status"] == "done" and doc["success"] is True
    assert doc["document"]["format"] == "pdf" and doc["document"]["page_count"] == 5
    assert doc["object"]["generation"] == str(generation)
    assert [p["page_number"] for p in doc["pages"]] == [1, 2, 3, 4, 5]
    for number, page in enumerate(doc["pages"], 1):
        assert_page_text(page, number)
        assert page["source"] == "ocr" and 0 < page["confidence"] <= 1
    # The full text holds every page in order, pages separated by a form feed.
    heads = [words(t)[:2] for t in doc["text"].split("\f")]
    assert heads == [["page", str(n)] for n in range(1, 6)]
    assert 0 < doc["confidence"] <= 1 and doc["word_count"] >= 5 * 4

    shard_dir = results_path(settings, "scans/contract.pdf.shards")
    names = sorted(p.name for p in shard_dir.iterdir())
    assert names == [
        "output-0001-to-0002.json",
        "output-0003-to-0004.json",
        "output-0005-to-0005.json",
    ]
    assert doc["shards"] == [f"scans/contract.pdf.shards/{n}" for n in names]
    shard = json.loads((shard_dir / names[1]).read_text())
    assert [p["page_number"] for p in shard["responses"]] == [3, 4]
    assert shard["responses"][0]["blocks"][0]["lines"][0]["words"][0]["box"]["width"] > 0

    op = upload_client.get(f"/operations/{op_id}").json
    assert op["done"] is True and op["metadata"]["state"] == "done"
    assert op["metadata"]["progress"]["pages_done"] == 5
    assert op["metadata"]["progress"]["percent"] == 100
    assert op["metadata"]["trigger"] == "storage_event"
    assert op["metadata"]["end_time"] >= op["metadata"]["create_time"]
    [result] = op["response"]["documents"]
    assert result["result"] == {"bucket": "ocr-results", "name": "scans/contract.pdf.json"}
    assert result["shards"] == doc["shards"]
    text = results_client.get("/results/scans/contract.pdf?format=text")
    assert text.status_code == 200 and "Page 5" in text.get_data(as_text=True)


def test_multipage_tiff_is_a_document_too(ocr_client, settings) -> None:
    drop(ocr_client, settings, "fax.tif", multipage_tiff(3))
    run_queue(ocr_client, settings)
    doc = stored(settings, "fax.tif.json")
    assert doc["document"]["format"] == "tiff" and doc["document"]["mime_type"] == "image/tiff"
    for number, page in enumerate(doc["pages"], 1):
        assert_page_text(page, number)
    assert stored(settings, "fax.tif.shards/output-0001-to-0003.json") is not None


def test_text_layer_is_used_when_allowed_and_ocr_otherwise(ocr_client, reconfigure) -> None:
    settings = reconfigure(PDF_USE_TEXT_LAYER="true")
    drop(ocr_client, settings, "born-digital.pdf", text_pdf(2))
    run_queue(ocr_client, settings)
    doc = stored(settings, "born-digital.pdf.json")
    assert [p["source"] for p in doc["pages"]] == ["text_layer", "text_layer"]
    assert doc["pages"][1]["text"] == "Page 2\nThe river section"
    shard = stored(settings, "born-digital.pdf.shards/output-0001-to-0002.json")
    line = shard["responses"][0]["blocks"][0]["lines"][1]
    assert line["text"] == "The apple section" and [w["text"] for w in line["words"]] == [
        "The",
        "apple",
        "section",
    ]
    assert line["words"][0]["box"]["x"] < line["words"][1]["box"]["x"]

    settings = reconfigure(PDF_USE_TEXT_LAYER="false")
    drop(ocr_client, settings, "born-digital-2.pdf", text_pdf(2), "e2")
    run_queue(ocr_client, settings)
    doc = stored(settings, "born-digital-2.pdf.json")
    assert [p["source"] for p in doc["pages"]] == ["ocr", "ocr"]
    for number, page in enumerate(doc["pages"], 1):
        assert_page_text(page, number)


@pytest.mark.parametrize(
    ("data", "env", "code"),
    [
        (encrypted_pdf(), {}, "encrypted_document"),
        (broken_pdf(), {}, "corrupt_document"),
        (image_pdf(3), {"MAX_DOCUMENT_PAGES": "2"}, "too_many_pages"),
        (image_pdf(3), {"MAX_DOCUMENT_BYTES": "2000"}, "file_too_large"),
        (multipage_tiff(2), {"MAX_IMAGE_PIXELS": "10000"}, "image_too_large"),
    ],
)
def test_unusable_documents_fail_with_a_precise_code(
    ocr_client, results_client, upload_client, reconfigure, data: bytes, env, code: str
) -> None:
    settings = reconfigure(**env)
    drop(ocr_client, settings, "bad.pdf", data)
    # Caught when the document is opened (nothing to fan out), or on its first page.
    assert run_queue(ocr_client, settings) == (1 if code == "image_too_large" else 0)
    doc = results_client.get("/results/bad.pdf").json
    assert doc["status"] == "failed" and doc["error"]["code"] == code
    assert results_client.get("/results/bad.pdf?format=text").status_code == 422
    if code == "file_too_large":
        return  # refused on reading, before any operation
    op = upload_client.get(f"/operations/{operation_id(settings)}").json
    assert op["done"] is True and op["metadata"]["state"] == "failed"
    assert op["error"]["code"] == code and op["error"]["details"]["object"] == "bad.pdf"


def test_duplicate_storage_events_share_one_operation(ocr_client, settings) -> None:
    generation = drop(ocr_client, settings, "twice.pdf", image_pdf(2))
    for event_id in ("e2", "e3"):
        response = ocr_client.post(
            "/",
            data=finalized_body(settings.input_bucket, "twice.pdf", generation),
            headers=finalized_headers(settings.input_bucket, "twice.pdf", event_id),
        )
        assert response.status_code == 200
    operation_id(settings)  # exactly one
    assert run_queue(ocr_client, settings) == 1


def test_progress_and_resume_without_redoing_finished_shards(
    ocr_client, results_client, upload_client, reconfigure
) -> None:
    settings = reconfigure(DOCUMENT_SHARD_PAGES="2")
    drop(ocr_client, settings, "long.pdf", image_pdf(5))
    op_id = operation_id(settings)
    first_task = pending(local_queue_folder(settings))[0]
    envelope = push_envelope(first_task)
    assert deliver_next(ocr_client, settings) == ["pages"]

    op = upload_client.get(f"/operations/{op_id}").json
    assert op["done"] is False and op["metadata"]["state"] == "running"
    assert op["metadata"]["progress"]["pages_done"] == 2
    assert op["metadata"]["progress"]["pages_total"] == 5
    assert op["metadata"]["progress"]["percent"] == 40
    assert results_client.get("/results/long.pdf").json["progress"] == {
        "pages_done": 2,
        "pages_total": 5,
    }
    shard = results_path(settings, "long.pdf.shards/output-0001-to-0002.json")
    before = shard.stat().st_mtime_ns, shard.read_bytes()

    # A crash before the acknowledgement: the same task comes again, then the rest.
    deliverer(ocr_client)(envelope)
    run_queue(ocr_client, settings)
    assert (shard.stat().st_mtime_ns, shard.read_bytes()) == before
    doc = stored(settings, "long.pdf.json")
    assert [p["page_number"] for p in doc["pages"]] == [1, 2, 3, 4, 5]
    assert upload_client.get(f"/operations/{op_id}").json["metadata"]["progress"]["pages_done"] == 5


def test_batch_over_objects_and_prefix(ocr_client, upload_client, results_client, settings) -> None:
    put(settings, "batch/a.pdf", image_pdf(2))
    put(settings, "batch/b.tif", multipage_tiff(2))
    put(settings, "batch/c.pdf", text_pdf(1))
    response = upload_client.post("/operations", json={"prefix": "batch/"})
    assert response.status_code == 202
    op = response.json
    assert op["name"].startswith("operations/") and op["done"] is False
    assert response.headers["Location"].endswith(f"/{op['name']}")
    assert op["metadata"]["state"] == "queued" and op["metadata"]["trigger"] == "api"
    docs = op["metadata"]["documents"]
    assert [d["object"]["name"] for d in docs] == ["batch/a.pdf", "batch/b.tif", "batch/c.pdf"]
    assert docs[0]["results_url"] == "http://localhost/results/batch/a.pdf"

    run_queue(ocr_client, settings)
    op = upload_client.get(f"/{op['name']}").json
    assert op["metadata"]["state"] == "done" and op["metadata"]["progress"]["pages_total"] == 5
    assert [d["state"] for d in op["response"]["documents"]] == ["done"] * 3
    assert results_client.get("/results/batch/c.pdf").json["pages"][0]["source"] == "text_layer"

    # A batch over objects already done reuses their results; a plain image is one page.
    put(settings, "hello.jpg", (TEST_IMAGES / "hello.jpg").read_bytes())
    again = upload_client.post("/operations", json={"objects": ["batch/a.pdf", "hello.jpg"]})
    assert again.status_code == 202
    a_result = results_path(settings, "batch/a.pdf.json")
    before = a_result.stat().st_mtime_ns
    run_queue(ocr_client, settings)
    op = upload_client.get(f"/{again.json['name']}").json
    assert op["metadata"]["state"] == "done"
    assert op["metadata"]["progress"] == {
        "pages_done": 3,
        "pages_total": 3,
        "documents_done": 2,
        "documents_total": 2,
        "percent": 100,
    }
    assert a_result.stat().st_mtime_ns == before
    assert "hello" in words(stored(settings, "hello.jpg.json")["text"])


def test_list_operations_in_pages(upload_client, settings) -> None:
    put(settings, "one.pdf", image_pdf(1))
    names = [
        upload_client.post("/operations", json={"objects": ["one.pdf"]}).json["name"]
        for _ in range(3)
    ]
    first = upload_client.get("/operations?page_size=2")
    assert first.status_code == 200
    assert [op["name"] for op in first.json["operations"]] == names[:2]
    token = first.json["next_page_token"]
    second = upload_client.get(f"/operations?page_size=2&page_token={token}").json
    assert [op["name"] for op in second["operations"]] == names[2:]
    assert "next_page_token" not in second
    assert upload_client.get("/operations?page_token=bogus!").status_code == 400
    assert upload_client.get("/operations?page_size=0").json["error"]["code"] == "invalid_request"


def test_cancel_stops_the_pages_not_yet_done(
    ocr_client, upload_client, results_client, reconfigure
) -> None:
    settings = reconfigure(DOCUMENT_SHARD_PAGES="1")
    put(settings, "stop.pdf", image_pdf(4))
    op = upload_client.post("/operations", json={"objects": ["stop.pdf"]}).json
    assert deliver_next(ocr_client, settings, 2) == ["plan", "pages"]

    response = upload_client.post(f"/{op['name']}:cancel")
    assert response.status_code == 200
    cancelled = response.json
    assert cancelled["done"] is True and cancelled["metadata"]["state"] == "cancelled"
    assert cancelled["error"]["code"] == "cancelled"
    assert cancelled["metadata"]["progress"]["pages_done"] == 1
    run_queue(ocr_client, settings)  # the remaining page tasks find the cancel and stop
    shards = sorted(p.name for p in results_path(settings, "stop.pdf.shards").iterdir())
    assert shards == ["output-0001-to-0001.json"]
    result = results_client.get("/results/stop.pdf").json
    assert result["status"] == "failed" and result["error"]["code"] == "cancelled"
    assert upload_client.post(f"/{op['name']}:cancel").status_code == 200  # idempotent

    # A new batch redoes a cancelled object, and keeps the shard already made.
    redo = upload_client.post("/operations", json={"objects": ["stop.pdf"]}).json
    run_queue(ocr_client, settings)
    assert upload_client.get(f"/{redo['name']}").json["metadata"]["state"] == "done"
    assert len(stored(settings, "stop.pdf.json")["pages"]) == 4
    finished = upload_client.post(f"/{redo['name']}:cancel")
    assert finished.status_code == 409 and finished.json["error"]["code"] == "operation_finished"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid_request"),
        ({"objects": ["a.pdf"], "prefix": "x/"}, 400, "invalid_request"),
        ({"objects": []}, 400, "invalid_request"),
        ({"objects": ["../etc/passwd"]}, 400, "invalid_object_name"),
        ({"objects": ["nowhere.pdf"]}, 404, "not_found"),
        ({"prefix": "empty/"}, 404, "not_found"),
    ],
)
def test_bad_batch_requests_get_clear_errors(upload_client, body, status: int, code: str) -> None:
    response = upload_client.post("/operations", json=body)
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_operation_routes_errors(upload_client, reconfigure) -> None:
    settings = reconfigure(MAX_OPERATION_OBJECTS="2")
    for name in ("m/1.pdf", "m/2.pdf", "m/3.pdf"):
        put(settings, name, b"%PDF-1.4")
    too_many = upload_client.post("/operations", json={"prefix": "m/"})
    assert too_many.status_code == 400 and too_many.json["error"]["code"] == "too_many_objects"
    assert upload_client.get("/operations/20990101T000000Z-nope").status_code == 404
    assert upload_client.get("/operations/..%2Fx").status_code == 404
    assert upload_client.delete("/operations").status_code == 405
    not_json = upload_client.post("/operations", data="objects=a", content_type="text/plain")
    assert not_json.status_code == 400


def test_one_bucket_for_both_keeps_shards_and_operations_under_the_results_prefix(
    ocr_client, reconfigure
) -> None:
    settings = reconfigure(RESULTS_BUCKET="ocr-input", INPUT_BUCKET="ocr-input")
    drop(ocr_client, settings, "doc.pdf", image_pdf(2))
    run_queue(ocr_client, settings)
    root = settings.data_dir / "ocr-input"
    assert (root / "_results" / "doc.pdf.json").is_file()
    shard = root / "_results" / "doc.pdf.shards" / "output-0001-to-0002.json"
    assert shard.is_file()
    assert len(list((root / "_results" / "_operations").glob("*.json"))) == 1
    # Their own finalize events start nothing.
    for name in ("_results/doc.pdf.shards/output-0001-to-0002.json", "_results/doc.pdf.json"):
        response = ocr_client.post(
            "/",
            data=finalized_body("ocr-input", name, generation_of((root / name).stat())),
            headers=finalized_headers("ocr-input", name),
        )
        assert response.status_code == 200
    assert not (root / "_results" / "_results").exists()
    assert len(list((root / "_results" / "_operations").glob("*.json"))) == 1


def test_a_page_task_that_overtakes_its_plan_is_retried_not_lost(
    ocr_client, upload_client, reconfigure
) -> None:
    settings = reconfigure(DOCUMENT_SHARD_PAGES="1")
    put(settings, "race.pdf", image_pdf(2))
    op = upload_client.post("/operations", json={"objects": ["race.pdf"]}).json
    op_id = op["name"].split("/", 1)[1]
    # Pub/Sub does not keep order: page 2's task may come before the plan is recorded.
    publish(settings, [Task("pages", op_id, 0, 2, 2)])
    early = pending(local_queue_folder(settings))[-1]
    assert ocr_client.post("/", json=push_envelope(early)).status_code == 503  # nack: redeliver
    run_queue(ocr_client, settings)
    doc = stored(settings, "race.pdf.json")
    assert [p["page_number"] for p in doc["pages"]] == [1, 2]
    assert upload_client.get(f"/{op['name']}").json["metadata"]["state"] == "done"


def test_a_name_too_long_for_its_shards_fails_cleanly(ocr_client, results_client, settings) -> None:
    name = "/".join(["d" * 200] * 5) + ".pdf"  # valid; its shard names would pass 1,024 bytes
    drop(ocr_client, settings, name, image_pdf(1))
    assert run_queue(ocr_client, settings) == 0
    doc = stored(settings, f"{name}.json")
    assert doc["status"] == "failed" and doc["error"]["code"] == "invalid_object_name"
