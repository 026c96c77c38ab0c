"""The results function through functions-framework's test client, over real stored results."""

from __future__ import annotations

import io
import shutil

import pytest

from ocr_core import runtime
from ocr_core.jobs.dispatch import process_object
from ocr_core.storage.local import generation_of

from .conftest import TEST_IMAGES


def store_and_process(settings, name: str, source: str = "hello.jpg") -> None:
    path = settings.data_dir / settings.input_bucket / name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_IMAGES / source, path)
    process_object(runtime.current().jobs, settings.input_bucket, name, generation_of(path.stat()))


def test_done_result(results_client, settings) -> None:
    store_and_process(settings, "a/b/c/hello.jpg")
    response = results_client.get("/results/a/b/c/hello.jpg")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["status"] == "done" and "Hello World" in doc["text"]
    assert doc["object"]["name"] == "a/b/c/hello.jpg"


def test_text_format(results_client, settings) -> None:
    store_and_process(settings, "receipt.png", "receipt.png")
    response = results_client.get("/results/receipt.png?format=text")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True).startswith("CORNER CAFE")


def test_url_encoded_names(results_client, settings) -> None:
    store_and_process(settings, "my scans/été 1.jpg")
    response = results_client.get("/results/my%20scans/%C3%A9t%C3%A9%201.jpg")
    assert response.status_code == 200
    assert response.get_json()["object"]["name"] == "my scans/été 1.jpg"


def test_pending_when_the_object_has_no_result_yet(results_client, settings) -> None:
    path = settings.data_dir / settings.input_bucket / "waiting.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_IMAGES / "hello.jpg", path)
    response = results_client.get("/results/waiting.jpg")
    assert response.status_code == 202
    assert response.get_json()["status"] == "pending"
    assert response.headers["Retry-After"]


def test_not_found(results_client, settings) -> None:
    response = results_client.get("/results/nothing/here.jpg")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_failed_result(results_client, settings) -> None:
    store_and_process(settings, "notes.jpg", "not_an_image.jpg")
    doc = results_client.get("/results/notes.jpg").get_json()
    assert doc["status"] == "failed" and doc["error"]["code"] == "not_an_image"
    response = results_client.get("/results/notes.jpg?format=text")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "ocr_failed"


@pytest.mark.parametrize(
    "path",
    [
        "/results/../ocr-input/secret.jpg",
        "/results/..%2F..%2Fetc%2Fpasswd",
        "/results/a/../../b.jpg",
        "/results/%2Fetc%2Fpasswd",
        "/results/a%5C..%5Cb.jpg",
        "/results/bad%00name.jpg",
    ],
)
def test_names_never_escape_the_bucket(results_client, settings, path: str) -> None:
    secret = settings.data_dir / "secret.jpg.json"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text('{"text": "secret"}')
    response = results_client.get(path)
    assert response.status_code in (400, 404)
    assert "secret" not in response.get_data(as_text=True)


def test_bad_format_and_method(results_client, settings) -> None:
    store_and_process(settings, "x.jpg")
    assert results_client.get("/results/x.jpg?format=xml").status_code == 400
    response = results_client.post("/results/x.jpg", data=io.BytesIO(b"x"))
    assert response.status_code == 405
    assert results_client.get("/elsewhere").status_code == 404
