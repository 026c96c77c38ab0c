"""POST /batch-extract through functions-framework: real engine, real images, real limits."""

from __future__ import annotations

import io
from typing import Any

from .conftest import image_bytes, words


def _post(client: Any, *names_or_files: str | tuple[bytes, str], query: str = "") -> Any:
    files = []
    for item in names_or_files:
        data, name = (image_bytes(item), item) if isinstance(item, str) else item
        files.append((io.BytesIO(data), name))
    return client.post(
        f"/batch-extract{query}", data={"images": files}, content_type="multipart/form-data"
    )


def test_items_come_back_in_upload_order_each_with_its_own_outcome(upload_client: Any) -> None:
    response = _post(
        upload_client,
        "receipt.png",
        "not_an_image.jpg",
        "hello.jpg",
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "notes.pdf"),
        "invoice.gif",
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True
    assert (body["count"], body["succeeded"], body["failed"]) == (5, 3, 2)
    items = body["results"]
    assert [item["index"] for item in items] == [0, 1, 2, 3, 4]
    assert [item["filename"] for item in items] == [
        "receipt.png",
        "not_an_image.jpg",
        "hello.jpg",
        "notes.pdf",
        "invoice.gif",
    ]
    assert "espresso" in words(items[0]["text"])
    assert "optical character recognition" in " ".join(words(items[2]["text"]))
    assert "invoice" in words(items[4]["text"])
    for ok in (items[0], items[2], items[4]):
        assert ok["http_status"] == 200 and ok["status"] == "done" and 0 < ok["confidence"] <= 1
        assert ok["pages"][0]["blocks"][0]["lines"][0]["words"][0]["box"]["width"] > 0
    assert (items[1]["http_status"], items[1]["error"]["code"]) == (400, "not_an_image")
    assert (items[3]["http_status"], items[3]["error"]["code"]) == (415, "unsupported_format")
    for bad in (items[1], items[3]):
        assert bad["success"] is False and bad["status"] == "failed" and bad["text"] == ""
    assert body["parallelism"] >= 1
    assert body["processing_time_ms"] > 0
    assert body["items_processing_time_ms"] >= max(i["processing_time_ms"] for i in items)
    assert "Server-Timing" in response.headers


def test_one_image_in_a_batch_reads_like_extract_text(upload_client: Any) -> None:
    batch = _post(upload_client, "hello.jpg").get_json()["results"][0]
    single = upload_client.post(
        "/extract-text",
        data={"image": (io.BytesIO(image_bytes("hello.jpg")), "hello.jpg")},
        content_type="multipart/form-data",
    ).get_json()
    assert batch["text"] == single["text"]
    assert batch["image"] == single["image"]


def test_a_file_over_the_size_limit_fails_alone(upload_client: Any, reconfigure: Any) -> None:
    reconfigure(MAX_UPLOAD_BYTES=str(len(image_bytes("hello.jpg")) + 10))
    body = _post(upload_client, "hello.jpg", "noisy_photo.jpg", (b"", "empty.png")).get_json()
    codes = [item.get("error", {}).get("code") for item in body["results"]]
    assert codes == [None, "file_too_large", "empty_file"]
    assert body["results"][1]["http_status"] == 413


def test_more_files_than_the_limit_are_refused(upload_client: Any, reconfigure: Any) -> None:
    reconfigure(MAX_BATCH_ITEMS="2")
    response = _post(upload_client, "hello.jpg", "hello.jpg", "hello.jpg")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "too_many_files"
    assert error["details"]["limit"] == 2
    assert "at most 2" in error["message"]
    assert _post(upload_client, "hello.jpg", "hello.jpg").status_code == 200


def test_far_more_parts_than_the_limit_stop_the_parser(
    upload_client: Any, reconfigure: Any
) -> None:
    reconfigure(MAX_BATCH_ITEMS="2")
    response = _post(upload_client, *[(b"x", f"{i}.png") for i in range(40)])
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "too_many_files"


def test_a_batch_over_the_total_size_is_refused(upload_client: Any, reconfigure: Any) -> None:
    size = len(image_bytes("noisy_photo.jpg"))
    reconfigure(MAX_BATCH_BYTES=str(size))
    response = _post(upload_client, "noisy_photo.jpg", "noisy_photo.jpg")
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "batch_too_large"
    assert error["details"]["limit_bytes"] == size


def test_a_chunked_batch_over_the_total_size_is_refused_while_reading(
    upload_client: Any, reconfigure: Any
) -> None:
    reconfigure(MAX_BATCH_BYTES="100000")
    boundary = "b0undary"
    part = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\0" * 60_000
        + b"\r\n"
    )
    body = part * 4 + f"--{boundary}--\r\n".encode()
    # No Content-Length, as a chunked request reaches the function (the server de-chunks it).
    response = upload_client.post(
        "/batch-extract",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "batch_too_large"


def test_request_errors_are_clear(upload_client: Any) -> None:
    missing = upload_client.post(
        "/batch-extract",
        data={"image": (io.BytesIO(image_bytes("hello.jpg")), "hello.jpg")},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400
    assert missing.get_json()["error"]["code"] == "missing_file"
    assert "'image'" in missing.get_json()["error"]["message"]  # names the field it found
    not_multipart = upload_client.post(
        "/batch-extract", data=b"{}", content_type="application/json"
    )
    assert not_multipart.status_code == 400
    assert "images=@" in not_multipart.get_json()["error"]["message"]
    wrong_method = upload_client.get("/batch-extract")
    assert wrong_method.status_code == 405
    bad_lang = _post(upload_client, "hello.jpg", query="?lang=../etc")
    assert bad_lang.status_code == 400
    assert bad_lang.get_json()["error"]["details"]["parameter"] == "lang"


def test_a_language_that_is_not_installed_fails_each_item(upload_client: Any) -> None:
    body = _post(upload_client, "hello.jpg", query="?lang=xyz").get_json()
    assert body["results"][0]["error"]["code"] == "invalid_request"
    assert "xyz" in body["results"][0]["error"]["message"]


def test_items_run_in_parallel_up_to_the_engine_pool(upload_client: Any, reconfigure: Any) -> None:
    reconfigure(ENGINE_THREADS="3")
    body = _post(upload_client, *["hello.jpg"] * 5).get_json()
    assert body["parallelism"] == 3
    assert len({item["text"] for item in body["results"]}) == 1
    reconfigure(ENGINE_THREADS="1")
    assert _post(upload_client, "hello.jpg", "hello.jpg").get_json()["parallelism"] == 1
