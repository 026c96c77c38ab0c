"""At-least-once delivery: duplicates, reordering, permanent and transient failures, and
events too old to process. Faults come through real seams: a results folder that cannot
be written, an engine with no traineddata, a stopped server."""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from ocr_core import runtime
from ocr_core.config import Settings
from ocr_core.jobs.dispatch import process_object
from ocr_core.logs import setup_logging
from ocr_core.storage.local import generation_of

from .conftest import TEST_IMAGES, finalized_body, finalized_headers, words
from .servers import FunctionServer


class Lines(logging.Handler):
    """Collects the service's log records (the JSON logger's own records, unformatted)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def count(self, message: str) -> int:
        return sum(r.getMessage() == message for r in self.records)


@pytest.fixture
def logs() -> Iterator[Lines]:
    setup_logging()  # installs the JSON handler once; ours goes beside it
    handler = Lines()
    logger = logging.getLogger("ocr")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def put(settings: Settings, name: str, source: str = "hello.jpg") -> int:
    path = settings.data_dir / settings.input_bucket / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    shutil.copyfile(TEST_IMAGES / source, tmp)
    os.replace(tmp, path)
    return generation_of(path.stat())


def put_bytes(settings: Settings, name: str, data: bytes) -> int:
    path = settings.data_dir / settings.input_bucket / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return generation_of(path.stat())


def result_path(settings: Settings, name: str) -> Path:
    return settings.data_dir / settings.results_bucket / settings.result_name(name)


def result(settings: Settings, name: str) -> dict | None:
    path = result_path(settings, name)
    return json.loads(path.read_text()) if path.exists() else None


def deliver(client, settings: Settings, name: str, generation: int | None, **headers: str):
    return client.post(
        "/",
        data=finalized_body(settings.input_bucket, name, generation),
        headers={**finalized_headers(settings.input_bucket, name), **headers},
    )


@pytest.fixture
def no_cache(reconfigure) -> Settings:
    # Idempotency must hold on its own, not because the answer cache caught a repeat.
    return reconfigure(CACHE_MAX_ENTRIES="0")


def test_duplicate_deliveries_run_ocr_once(ocr_client, no_cache, logs) -> None:
    settings = no_cache
    gen = put(settings, "dup.jpg")
    for _ in range(3):
        assert deliver(ocr_client, settings, "dup.jpg", gen, **{"ce-id": "same"}).status_code == 200
    assert logs.count("processing object") == 1
    assert logs.count("result already stored; skipped") == 2
    assert result(settings, "dup.jpg")["object"]["generation"] == str(gen)


def test_concurrent_duplicates_across_threads_run_ocr_once(no_cache, logs) -> None:
    settings = no_cache
    gen = put(settings, "race.png", "receipt.png")
    outcomes: list[str] = []
    barrier = threading.Barrier(8)
    jobs = runtime.current().jobs

    def worker() -> None:
        barrier.wait()
        outcomes.append(process_object(jobs, settings.input_bucket, "race.png", gen).action)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["duplicate"] * 7 + ["written"]
    assert logs.count("processing object") == 1
    doc = result(settings, "race.png")
    assert doc["object"]["generation"] == str(gen) and "espresso" in words(doc["text"])
    leftovers = [p.name for p in result_path(settings, "race.png").parent.iterdir()]
    assert leftovers == ["race.png.json"]  # no temporary files left behind


def test_older_generation_after_a_newer_one_never_overwrites(ocr_client, settings) -> None:
    old_gen = put(settings, "doc.png", "hello.jpg")
    new_gen = put(settings, "doc.png", "receipt.png")
    assert new_gen > old_gen
    assert deliver(ocr_client, settings, "doc.png", new_gen).status_code == 200
    assert deliver(ocr_client, settings, "doc.png", old_gen).status_code == 200
    doc = result(settings, "doc.png")
    assert doc["object"]["generation"] == str(new_gen)
    assert "espresso" in words(doc["text"])


def test_a_newer_generation_replaces_the_older_result(ocr_client, settings) -> None:
    old_gen = put(settings, "v.png", "hello.jpg")
    assert deliver(ocr_client, settings, "v.png", old_gen).status_code == 200
    new_gen = put(settings, "v.png", "receipt.png")
    assert deliver(ocr_client, settings, "v.png", new_gen).status_code == 200
    assert result(settings, "v.png")["object"]["generation"] == str(new_gen)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"plain text pretending to be an image", "not_an_image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported_format"),
        (b"%PDF-1.4\n%%EOF\n", "corrupt_document"),  # a PDF goes the document way
        ((TEST_IMAGES / "hello.jpg").read_bytes()[:2000], "corrupt_image"),
    ],
)
def test_permanent_failures_write_a_failed_result_once(
    ocr_client, no_cache, logs, data: bytes, code: str
) -> None:
    settings = no_cache
    gen = put_bytes(settings, "bad.jpg", data)
    assert deliver(ocr_client, settings, "bad.jpg", gen).status_code == 200  # acknowledged
    doc = result(settings, "bad.jpg")
    assert doc["status"] == "failed" and doc["success"] is False
    assert doc["error"]["code"] == code
    assert deliver(ocr_client, settings, "bad.jpg", gen).status_code == 200
    assert logs.count("processing object") == 1  # the redelivery did not try again


def test_too_large_object_is_a_permanent_failure(ocr_client, reconfigure) -> None:
    settings = reconfigure(MAX_UPLOAD_BYTES="10000")
    gen = put(settings, "huge.png", "noisy_photo.jpg")
    assert (TEST_IMAGES / "noisy_photo.jpg").stat().st_size > 10000
    assert deliver(ocr_client, settings, "huge.png", gen).status_code == 200
    assert result(settings, "huge.png")["error"]["code"] == "file_too_large"


def test_unwritable_results_raise_for_a_retry_then_succeed(ocr_client, settings, logs) -> None:
    gen = put(settings, "scans/a.jpg")
    # A plain file where the results folder for scans/ must go: every write fails.
    blocker = settings.data_dir / settings.results_bucket / "scans"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    response = deliver(ocr_client, settings, "scans/a.jpg", gen)
    # A 5xx is what makes Eventarc and Pub/Sub deliver it again; in JSON, never HTML.
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_error"
    assert blocker.read_text() == "not a folder"  # no failed result written in its place
    blocker.unlink()
    assert deliver(ocr_client, settings, "scans/a.jpg", gen).status_code == 200
    assert "hello world" in " ".join(words(result(settings, "scans/a.jpg")["text"]))


def _old(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_events_older_than_the_limit_are_dropped_with_a_log_line(
    ocr_client, reconfigure, logs
) -> None:
    settings = reconfigure(EVENT_MAX_AGE_S="3600")
    gen = put(settings, "late.jpg")
    response = deliver(ocr_client, settings, "late.jpg", gen, **{"ce-time": _old(7200)})
    assert response.status_code == 200  # acknowledged: no more retries
    assert result(settings, "late.jpg") is None
    dropped = [r for r in logs.records if "EVENT_MAX_AGE_S" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelname == "ERROR"
    assert dropped[0].age_s > 3600
    # A recent one for the same object is processed.
    assert (
        deliver(ocr_client, settings, "late.jpg", gen, **{"ce-time": _old(60)}).status_code == 200
    )
    assert result(settings, "late.jpg")["status"] == "done"


def test_old_pubsub_push_is_dropped_by_its_publish_time(ocr_client, reconfigure) -> None:
    settings = reconfigure(EVENT_MAX_AGE_S="600")
    gen = put(settings, "old-push.jpg")
    push = {
        "message": {
            "attributes": {
                "bucketId": settings.input_bucket,
                "objectId": "old-push.jpg",
                "objectGeneration": str(gen),
                "eventType": "OBJECT_FINALIZE",
            },
            "data": base64.b64encode(json.dumps({"name": "old-push.jpg"}).encode()).decode(),
            "messageId": "42",
            "publishTime": _old(3 * 86400),
        },
        "subscription": "projects/demo/subscriptions/ocr-push",
    }
    assert ocr_client.post("/", json=push).status_code == 200
    assert result(settings, "old-push.jpg") is None


@pytest.mark.e2e
def test_engine_fault_raises_until_fixed_then_the_result_appears(tmp_path: Path) -> None:
    """A missing traineddata (TESSDATA_PREFIX pointing at an empty folder) is a transient
    engine fault: the event is refused for a retry and no failed result is written; the
    redelivery after the fix succeeds."""
    data_dir = tmp_path / "data"
    (data_dir / "ocr-input").mkdir(parents=True)
    shutil.copyfile(TEST_IMAGES / "hello.jpg", data_dir / "ocr-input" / "fault.jpg")
    gen = generation_of((data_dir / "ocr-input" / "fault.jpg").stat())
    empty = tmp_path / "no-tessdata"
    empty.mkdir()
    headers = finalized_headers("ocr-input", "fault.jpg")
    body = finalized_body("ocr-input", "fault.jpg", gen)
    result_file = data_dir / "ocr-results" / "fault.jpg.json"

    broken = FunctionServer(
        "ocr",
        "on_object_finalized",
        data_dir,
        tmp_path / "broken.log",
        {"TESSDATA_PREFIX": str(empty)},
    )
    broken.start()
    try:
        response = requests.post(broken.url, data=body, headers=headers, timeout=60)
        assert response.status_code == 503  # a 5xx: delivered again
        assert response.json()["error"]["code"] == "engine_error"
        assert not result_file.exists()
        assert "engine unavailable" in broken.log_path.read_text()
    finally:
        broken.stop()

    fixed = FunctionServer("ocr", "on_object_finalized", data_dir, tmp_path / "fixed.log")
    fixed.start()
    try:
        response = requests.post(fixed.url, data=body, headers=headers, timeout=60)
        assert response.status_code == 200
        doc = json.loads(result_file.read_text())
        assert doc["status"] == "done" and "hello world" in " ".join(words(doc["text"]))
    finally:
        fixed.stop()
