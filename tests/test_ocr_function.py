"""The OCR function through functions-framework: Eventarc CloudEvents and Pub/Sub pushes."""

from __future__ import annotations

import base64
import json
import os
import shutil
from datetime import UTC, datetime

import pytest

from ocr_core.config import Settings
from ocr_core.storage.local import generation_of

from .conftest import TEST_IMAGES, finalized_body, finalized_headers, words


def put(settings: Settings, name: str, source: str = "hello.jpg") -> int:
    """Copy a test image into the input bucket folder; returns its generation."""
    path = settings.data_dir / settings.input_bucket / name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_IMAGES / source, path)
    return generation_of(path.stat())


def result(settings: Settings, name: str) -> dict | None:
    path = settings.data_dir / settings.results_bucket / settings.result_name(name)
    return json.loads(path.read_text()) if path.exists() else None


def deliver(client, settings: Settings, name: str, generation: int | None, event_id: str = "e1"):
    return client.post(
        "/",
        data=finalized_body(settings.input_bucket, name, generation),
        headers=finalized_headers(settings.input_bucket, name, event_id),
    )


def test_finalized_event_writes_the_result_beside_the_object(ocr_client, settings) -> None:
    gen = put(settings, "scans/2026/hello.jpg")
    response = deliver(ocr_client, settings, "scans/2026/hello.jpg", gen)
    assert response.status_code == 200
    doc = result(settings, "scans/2026/hello.jpg")
    assert doc is not None and doc["status"] == "done" and doc["success"] is True
    assert "hello world" in " ".join(words(doc["text"]))
    assert doc["object"] == {
        "bucket": settings.input_bucket,
        "name": "scans/2026/hello.jpg",
        "generation": str(gen),
    }
    # The result went to the results bucket, never into the input bucket (no re-trigger).
    input_files = [
        p.name for p in (settings.data_dir / settings.input_bucket).rglob("*") if p.is_file()
    ]
    assert input_files == ["hello.jpg"]


def test_pubsub_push_of_a_storage_notification(ocr_client, settings) -> None:
    gen = put(settings, "fax.png", "receipt.png")
    resource = {"bucket": settings.input_bucket, "name": "fax.png", "generation": str(gen)}
    push = {
        "message": {
            "attributes": {
                "bucketId": settings.input_bucket,
                "objectId": "fax.png",
                "objectGeneration": str(gen),
                "eventType": "OBJECT_FINALIZE",
                "payloadFormat": "JSON_API_V1",
            },
            "data": base64.b64encode(json.dumps(resource).encode()).decode(),
            "messageId": "1234567890",
            "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        "subscription": "projects/demo/subscriptions/ocr-push",
    }
    response = ocr_client.post("/", json=push)
    assert response.status_code == 200
    doc = result(settings, "fax.png")
    assert doc is not None and "corner cafe" in " ".join(words(doc["text"]))


def test_pubsub_delete_notification_is_ignored(ocr_client, settings) -> None:
    put(settings, "gone.jpg")
    push = {
        "message": {
            "attributes": {
                "bucketId": settings.input_bucket,
                "objectId": "gone.jpg",
                "eventType": "OBJECT_DELETE",
            },
            "data": "",
            "messageId": "9",
        },
        "subscription": "projects/demo/subscriptions/ocr-push",
    }
    assert ocr_client.post("/", json=push).status_code == 200
    assert result(settings, "gone.jpg") is None


def test_duplicate_events_run_once(ocr_client, settings) -> None:
    gen = put(settings, "dup.jpg")
    deliver(ocr_client, settings, "dup.jpg", gen, "a")
    path = settings.data_dir / settings.results_bucket / "dup.jpg.json"
    first = path.stat().st_mtime_ns, path.read_text()
    assert deliver(ocr_client, settings, "dup.jpg", gen, "b").status_code == 200
    assert (path.stat().st_mtime_ns, path.read_text()) == first


def test_older_generation_never_overwrites_a_newer_result(ocr_client, settings) -> None:
    put(settings, "page.jpg", "hello.jpg")
    old_gen = generation_of((settings.data_dir / settings.input_bucket / "page.jpg").stat())
    path = settings.data_dir / settings.input_bucket / "page.jpg"
    shutil.copyfile(TEST_IMAGES / "invoice.gif", path)
    os.utime(path, ns=(old_gen + 10**9, old_gen + 10**9))
    new_gen = generation_of(path.stat())
    deliver(ocr_client, settings, "page.jpg", new_gen, "new")
    assert deliver(ocr_client, settings, "page.jpg", old_gen, "old").status_code == 200
    doc = result(settings, "page.jpg")
    assert doc["object"]["generation"] == str(new_gen)
    assert "invoice" in words(doc["text"])


def test_not_an_image_gets_a_failed_result_and_no_retry(ocr_client, settings) -> None:
    gen = put(settings, "notes.jpg", "not_an_image.jpg")
    response = deliver(ocr_client, settings, "notes.jpg", gen)
    assert response.status_code == 200  # acknowledged: retrying cannot help
    doc = result(settings, "notes.jpg")
    assert doc["status"] == "failed" and doc["success"] is False
    assert doc["error"]["code"] == "not_an_image"


def test_event_for_a_deleted_object_is_acknowledged(ocr_client, settings) -> None:
    assert deliver(ocr_client, settings, "never-there.jpg", 123).status_code == 200
    assert result(settings, "never-there.jpg") is None


def test_malformed_event_is_acknowledged_without_work(ocr_client, settings) -> None:
    headers = finalized_headers(settings.input_bucket, "x.jpg")
    response = ocr_client.post(
        "/", data=json.dumps({"bucket": settings.input_bucket}), headers=headers
    )
    assert response.status_code == 200


def test_one_bucket_for_both_results_live_under_a_prefix_that_is_ignored(
    ocr_client, reconfigure
) -> None:
    settings = reconfigure(RESULTS_BUCKET="ocr-input", INPUT_BUCKET="ocr-input")
    assert settings.results_prefix == "_results/"
    gen = put(settings, "one.jpg")
    deliver(ocr_client, settings, "one.jpg", gen)
    stored = settings.data_dir / "ocr-input" / "_results" / "one.jpg.json"
    assert stored.is_file()
    # The result's own finalize event must not start another OCR run.
    result_gen = generation_of(stored.stat())
    deliver(ocr_client, settings, "_results/one.jpg.json", result_gen)
    assert not (settings.data_dir / "ocr-input" / "_results" / "_results").exists()


def test_event_from_another_bucket_is_ignored(ocr_client, settings) -> None:
    response = ocr_client.post(
        "/",
        data=finalized_body("someone-elses", "a.jpg", 1),
        headers=finalized_headers("someone-elses", "a.jpg"),
    )
    assert response.status_code == 200
    assert not (settings.data_dir / "someone-elses").exists()


@pytest.mark.parametrize("name", ["../escape.jpg", "/abs.jpg", "a\\b.jpg"])
def test_hostile_names_in_events_are_ignored(ocr_client, settings, name: str) -> None:
    response = deliver(ocr_client, settings, name, 1)
    assert response.status_code == 200
    assert not (settings.data_dir / "escape.jpg.json").exists()
