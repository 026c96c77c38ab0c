"""The upload function through functions-framework's own test client, with the real engine."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from .conftest import TEST_IMAGES, ground_truth, image_bytes, words


def post(
    client,
    data: bytes | None = None,
    filename: str = "photo.jpg",
    field: str = "image",
    query: str = "",
    **kw,
):
    form = {} if data is None else {field: (io.BytesIO(data), filename)}
    return client.post(f"/extract-text{query}", data=form, content_type="multipart/form-data", **kw)


def error_code(response) -> str:
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]["code"]


@pytest.mark.parametrize(
    "name", ["hello.jpg", "receipt.png", "invoice.gif", "noisy_photo.jpg", "rotated_exif.jpg"]
)
def test_reads_the_text_of_each_test_image(upload_client, name: str) -> None:
    response = post(upload_client, image_bytes(name), filename=name)
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True and body["status"] == "done"
    expected = words(ground_truth(TEST_IMAGES / name))
    got = words(body["text"])
    found = sum(1 for w in expected if w in got)
    assert found >= 0.8 * len(expected), (expected, body["text"])
    assert 0.5 < body["confidence"] <= 1.0
    assert body["processing_time_ms"] > 0
    assert body["engine"]["name"] == "auto"
    assert body["image"]["sha256"] and body["image"]["width"] > 0
    line = body["pages"][0]["blocks"][0]["lines"][0]
    assert line["words"][0]["box"]["width"] > 0
    assert 0.0 <= line["words"][0]["confidence"] <= 1.0


def test_exif_rotation_is_applied_before_ocr(upload_client) -> None:
    body = post(upload_client, image_bytes("rotated_exif.jpg")).get_json()
    assert body["image"]["orientation_applied"] == 6
    assert "rotated by the camera" in " ".join(words(body["text"]))


def test_blank_image_has_no_text(upload_client) -> None:
    response = post(upload_client, image_bytes("blank.png"), filename="blank.png")
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True
    assert body["text"] == "" and body["no_text_found"] is True and body["confidence"] == 0.0


def test_real_scan_from_the_corpus(upload_client, samples) -> None:
    body = post(upload_client, (samples / "tess_phototest.tif").read_bytes(), "p.tif").get_json()
    assert "quick brown dog jumped over the lazy fox" in " ".join(words(body["text"]))
    assert body["image"]["format"] == "tiff"


@pytest.mark.parametrize(
    "data, filename, status, code",
    [
        (b"", "empty.jpg", 400, "empty_file"),
        (b"just some text, not an image", "notes.jpg", 400, "not_an_image"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "doc.png", 415, "unsupported_format"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.jpg", 415, "unsupported_format"),
    ],
)
def test_bad_files_get_json_errors(upload_client, data, filename, status, code) -> None:
    response = post(upload_client, data, filename=filename)
    assert response.status_code == status
    assert error_code(response) == code


def test_corrupt_image(upload_client) -> None:
    data = image_bytes("hello.jpg")
    response = post(upload_client, data[:3000])
    assert response.status_code == 400
    assert error_code(response) == "corrupt_image"


def test_missing_and_wrong_field(upload_client) -> None:
    response = post(upload_client, None)
    assert response.status_code == 400 and error_code(response) == "missing_file"
    response = post(upload_client, image_bytes("hello.jpg"), field="file")
    assert response.status_code == 400 and error_code(response) == "missing_file"
    assert "'file'" in response.get_json()["error"]["message"]


def test_two_files_in_the_field(upload_client) -> None:
    data = {
        "image": [
            (io.BytesIO(image_bytes("hello.jpg")), "a.jpg"),
            (io.BytesIO(image_bytes("hello.jpg")), "b.jpg"),
        ]
    }
    response = upload_client.post("/extract-text", data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and error_code(response) == "too_many_files"


def test_not_multipart(upload_client) -> None:
    response = upload_client.post(
        "/extract-text", data=image_bytes("hello.jpg"), content_type="image/jpeg"
    )
    assert response.status_code == 400 and error_code(response) == "invalid_request"


def test_wrong_method_and_unknown_route(upload_client) -> None:
    response = upload_client.get("/extract-text")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
    response = upload_client.post("/nope")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_too_large_by_content_length_and_by_stream(upload_client, reconfigure) -> None:
    reconfigure(MAX_UPLOAD_BYTES=str(20_000))
    big = Image.effect_noise((400, 400), 80).convert("L")
    buf = io.BytesIO()
    big.save(buf, "PNG")
    assert buf.tell() > 20_000
    response = post(upload_client, buf.getvalue(), filename="big.png")
    assert response.status_code == 413 and error_code(response) == "file_too_large"
    assert response.get_json()["error"]["details"]["limit_bytes"] == 20_000


def test_async_mode_stores_the_image_and_points_at_its_result(upload_client, settings) -> None:
    response = post(
        upload_client,
        image_bytes("hello.jpg"),
        filename="../../My Scan (1).jpg",
        query="?mode=async",
    )
    assert response.status_code == 202
    body = response.get_json()
    name = body["object"]
    assert name.startswith("uploads/") and name.endswith("-My-Scan-1.jpeg")
    assert ".." not in name
    stored = settings.data_dir / settings.input_bucket / name
    assert stored.read_bytes() == image_bytes("hello.jpg")
    assert body["results_url"].endswith(f"/results/{name}")
    assert response.headers["Location"] == body["results_url"]


def test_async_mode_rejects_bad_images_up_front(upload_client, settings) -> None:
    response = post(upload_client, b"not an image", query="?mode=async")
    assert response.status_code == 400 and error_code(response) == "not_an_image"
    assert not list((settings.data_dir / settings.input_bucket).rglob("*"))


def test_bad_parameters(upload_client) -> None:
    response = post(upload_client, image_bytes("hello.jpg"), query="?mode=later")
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    response = post(upload_client, image_bytes("hello.jpg"), query="?lang=../../etc")
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    response = post(upload_client, image_bytes("hello.jpg"), query="?lang=klingon")
    assert response.status_code == 400
    assert "eng" in json.dumps(response.get_json()["error"])


def test_every_response_has_a_request_id_and_timing(upload_client) -> None:
    response = post(upload_client, image_bytes("hello.jpg"))
    assert len(response.headers["X-Request-Id"]) >= 16
    assert response.headers["Server-Timing"].startswith("app;dur=")
