"""Cloud Vision's REST surface through the official client, google-cloud-vision over REST,
against the real local stack (``make run``): the only change a Vision program needs is
``api_endpoint``.

What the client sees is checked against what the service's own API answers for the same
bytes (same engine, same boxes), and against the ground truth of the images.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import ROOT, TEST_IMAGES, ground_truth, words
from .documents import image_pdf, multipage_tiff, page_lines
from .servers import FunctionServer, LocalStack
from .stored_operations import assert_round_trip

vision = pytest.importorskip("google.cloud.vision")
from google.api_core import exceptions as api_errors  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402

pytestmark = pytest.mark.e2e

OPERATION_TIMEOUT_S = 180


def make_client(url: str, **options: Any) -> Any:
    return vision.ImageAnnotatorClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": url, **options},
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("vision-stack")
    server = LocalStack(root / "data", root / "stack.log", env={"RATE_LIMIT_RPS": "0"})
    server.start()
    yield server
    server.stop()
    # Every operation the module's flows stored (Vision's output record included) reads
    # typed and writes back the same bytes.
    assert_round_trip(server.data_dir)


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Any:
    return make_client(stack.url)


def own_api_words(stack: LocalStack, data: bytes) -> list[tuple[str, dict[str, int]]]:
    """(text, box) of every word as POST /extract-text reports it for the same bytes."""
    doc = requests.post(f"{stack.url}/extract-text", files={"image": data}, timeout=120).json()
    return [
        (w["text"], w["box"])
        for page in doc["pages"]
        for block in page["blocks"]
        for line in block["lines"]
        for w in line["words"]
    ]


def poly(box: dict[str, int]) -> list[tuple[int, int]]:
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def vertices(bounding: Any) -> list[tuple[int, int]]:
    return [(v.x, v.y) for v in bounding.vertices]


def test_document_text_detection_text_and_boxes(stack: LocalStack, client: Any) -> None:
    data = (TEST_IMAGES / "hello.jpg").read_bytes()
    response = client.document_text_detection(image=vision.Image(content=data))
    assert not response.error.message
    annotation = response.full_text_annotation
    assert words(annotation.text) == words(ground_truth(TEST_IMAGES / "hello.jpg"))
    page = annotation.pages[0]
    assert (page.width, page.height) == (640, 480) or page.width > 0
    got = [
        ("".join(s.text for s in w.symbols), vertices(w.bounding_box))
        for b in page.blocks
        for p in b.paragraphs
        for w in p.words
    ]
    expected = [(text, poly(box)) for text, box in own_api_words(stack, data)]
    assert got == expected  # every word, in order, with the engine's own box
    first = page.blocks[0].paragraphs[0].words[0]
    assert 0 < first.confidence <= 1
    assert all(
        s.bounding_box.vertices[0].x >= first.bounding_box.vertices[0].x for s in first.symbols
    )
    assert page.blocks[0].block_type == vision.Block.BlockType.TEXT
    # textAnnotations: the whole text first, then each word with its box.
    texts = response.text_annotations
    assert texts[0].description == annotation.text and texts[0].locale == "en"
    assert [(t.description, vertices(t.bounding_poly)) for t in texts[1:]] == expected


def test_text_detection_on_a_corpus_sample(client: Any, samples: Path) -> None:
    path = samples / "tess_phototest.tif"
    response = client.text_detection(image=vision.Image(content=path.read_bytes()))
    truth = set(words(ground_truth(path)))
    found = set(words(response.text_annotations[0].description))
    assert len(found & truth) >= 0.8 * len(truth)
    # One entry per word after the whole text, as Vision gives.
    assert len(response.text_annotations) == 1 + len(
        response.text_annotations[0].description.split()
    )
    assert all(len(t.bounding_poly.vertices) == 4 for t in response.text_annotations)


def test_batch_with_a_broken_image_fails_that_image_only(client: Any) -> None:
    good = vision.AnnotateImageRequest(
        image=vision.Image(content=(TEST_IMAGES / "receipt.png").read_bytes()),
        features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
    )
    broken = vision.AnnotateImageRequest(
        image=vision.Image(content=(TEST_IMAGES / "not_an_image.jpg").read_bytes()),
        features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
    )
    labels = vision.AnnotateImageRequest(
        image=vision.Image(content=(TEST_IMAGES / "hello.jpg").read_bytes()),
        features=[vision.Feature(type_=vision.Feature.Type.LABEL_DETECTION)],
    )
    batch = client.batch_annotate_images(requests=[good, broken, labels])
    first, second, third = batch.responses
    assert not first.error.code and "TOTAL" in first.full_text_annotation.text.upper()
    assert second.error.code == 3 and "not an image" in second.error.message
    assert not second.full_text_annotation.text
    assert third.error.code == 3 and "LABEL_DETECTION" in third.error.message


def test_gcs_sources_of_the_input_bucket_only(stack: LocalStack, client: Any) -> None:
    stack.input_dir.mkdir(parents=True, exist_ok=True)
    (stack.input_dir / "vision-src").mkdir(exist_ok=True)
    (stack.input_dir / "vision-src" / "hello.jpg").write_bytes(
        (TEST_IMAGES / "hello.jpg").read_bytes()
    )

    def gcs(uri: str) -> Any:
        return vision.AnnotateImageRequest(
            image=vision.Image(source=vision.ImageSource(gcs_image_uri=uri)),
            features=[vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)],
        )

    batch = client.batch_annotate_images(
        requests=[
            gcs("gs://ocr-input/vision-src/hello.jpg"),
            gcs("gs://someone-elses-bucket/hello.jpg"),
            gcs("gs://ocr-input/vision-src/../vision-src/hello.jpg"),
            gcs("gs://ocr-input/vision-src/missing.jpg"),
            gcs("https://example.com/hello.jpg"),
        ]
    )
    own, foreign, dotdot, missing, url = batch.responses
    assert "Hello" in own.full_text_annotation.text
    assert foreign.error.code == 7  # PERMISSION_DENIED
    assert dotdot.error.code == 3 and "'..'" in dotdot.error.message
    assert missing.error.code == 5  # NOT_FOUND
    assert url.error.code == 3 and "does not fetch" in url.error.message


def test_batch_annotate_files_on_a_two_page_tiff(client: Any) -> None:
    request = vision.AnnotateFileRequest(
        input_config=vision.InputConfig(content=multipage_tiff(2), mime_type="image/tiff"),
        features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
    )
    batch = client.batch_annotate_files(requests=[request])
    (file_response,) = batch.responses
    assert file_response.total_pages == 2
    pages = file_response.responses
    assert [r.context.page_number for r in pages] == [1, 2]
    for number, response in enumerate(pages, 1):
        assert words(response.full_text_annotation.text) == words(" ".join(page_lines(number)))


def test_async_batch_annotate_files_writes_vision_output_files(
    stack: LocalStack, client: Any
) -> None:
    (stack.input_dir / "vision-src").mkdir(parents=True, exist_ok=True)
    (stack.input_dir / "vision-src" / "three.pdf").write_bytes(image_pdf(3))
    request = vision.AsyncAnnotateFileRequest(
        input_config=vision.InputConfig(
            gcs_source=vision.GcsSource(uri="gs://ocr-input/vision-src/three.pdf"),
            mime_type="application/pdf",
        ),
        features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
        output_config=vision.OutputConfig(
            gcs_destination=vision.GcsDestination(uri="gs://ocr-results/vision/three/"),
            batch_size=2,
        ),
    )
    operation = client.async_batch_annotate_files(requests=[request])
    result = operation.result(timeout=OPERATION_TIMEOUT_S)
    assert result.responses[0].output_config.gcs_destination.uri == (
        "gs://ocr-results/vision/three/"
    )
    assert result.responses[0].output_config.batch_size == 2
    out = stack.results_dir / "vision" / "three"
    assert sorted(p.name for p in out.iterdir()) == ["output-1-to-2.json", "output-3-to-3.json"]
    pages = []
    for name in ("output-1-to-2.json", "output-3-to-3.json"):
        parsed = vision.AnnotateFileResponse.from_json(
            (out / name).read_text(), ignore_unknown_fields=True
        )
        assert parsed.input_config.gcs_source.uri == "gs://ocr-input/vision-src/three.pdf"
        pages += list(parsed.responses)
    assert [p.context.page_number for p in pages] == [1, 2, 3]
    assert {p.context.uri for p in pages} == {"gs://ocr-input/vision-src/three.pdf"}
    for number, page in enumerate(pages, 1):
        assert words(page.full_text_annotation.text) == words(" ".join(page_lines(number)))
    # The same operation, through the client's operations mixin.
    fetched = client.get_operation(request={"name": operation.operation.name})
    assert fetched.done and fetched.name == operation.operation.name
    metadata = vision.OperationMetadata.deserialize(fetched.metadata.value)
    assert metadata.state == vision.OperationMetadata.State.DONE


def test_async_batch_refuses_foreign_buckets_and_dotdot(stack: LocalStack, client: Any) -> None:
    def request(source: str, dest: str) -> Any:
        return vision.AsyncAnnotateFileRequest(
            input_config=vision.InputConfig(
                gcs_source=vision.GcsSource(uri=source), mime_type="application/pdf"
            ),
            features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
            output_config=vision.OutputConfig(gcs_destination=vision.GcsDestination(uri=dest)),
        )

    with pytest.raises(api_errors.Forbidden):
        client.async_batch_annotate_files(
            requests=[request("gs://elsewhere/a.pdf", "gs://ocr-results/out/")]
        )
    with pytest.raises(api_errors.Forbidden):
        client.async_batch_annotate_files(
            requests=[request("gs://ocr-input/a.pdf", "gs://elsewhere/out/")]
        )
    with pytest.raises(api_errors.BadRequest):
        client.async_batch_annotate_files(
            requests=[request("gs://ocr-input/../secrets/a.pdf", "gs://ocr-results/out/")]
        )
    with pytest.raises(api_errors.NotFound):
        client.get_operation(request={"name": "operations/no-such-operation"})


def test_images_async_batch_and_operations_list(stack: LocalStack, client: Any) -> None:
    requests_ = [
        vision.AnnotateImageRequest(
            image=vision.Image(content=(TEST_IMAGES / name).read_bytes()),
            features=[vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)],
        )
        for name in ("hello.jpg", "receipt.png", "invoice.gif")
    ]
    operation = client.async_batch_annotate_images(
        requests=requests_,
        output_config=vision.OutputConfig(
            gcs_destination=vision.GcsDestination(uri="gs://ocr-results/vision/images-"),
            batch_size=2,
        ),
    )
    result = operation.result(timeout=OPERATION_TIMEOUT_S)
    assert result.output_config.gcs_destination.uri == "gs://ocr-results/vision/images-"
    out = stack.results_dir / "vision"
    first = vision.BatchAnnotateImagesResponse.from_json(
        (out / "images-output-1-to-2.json").read_text(), ignore_unknown_fields=True
    )
    second = vision.BatchAnnotateImagesResponse.from_json(
        (out / "images-output-3-to-3.json").read_text(), ignore_unknown_fields=True
    )
    assert "Hello" in first.responses[0].full_text_annotation.text
    assert len(first.responses) == 2 and len(second.responses) == 1
    assert "INVOICE" in second.responses[0].full_text_annotation.text.upper()
    # The listing (Google's JSON, raw) holds it, done, with pageSize honoured.
    listed = requests.get(f"{stack.url}/v1/operations?pageSize=100", timeout=30).json()
    names = [op["name"] for op in listed["operations"]]
    assert operation.operation.name in names
    done = requests.get(
        f"{stack.url}/v1/operations", params={"filter": "done = true"}, timeout=30
    ).json()
    assert all(op["done"] for op in done["operations"])
    one = requests.get(f"{stack.url}/v1/operations?pageSize=1", timeout=30).json()
    assert len(one["operations"]) == 1 and one["nextPageToken"]


def test_google_error_shape_and_codes(stack: LocalStack) -> None:
    url = f"{stack.url}/v1/images:annotate"
    bad_json = requests.post(
        url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert set(bad_json.json()["error"]) == {"code", "message", "status"}
    too_many = requests.post(
        url,
        json={"requests": [{"image": {"content": "AA=="}, "features": [{"type": 5}]}] * 17},
        timeout=10,
    )
    assert too_many.status_code == 400 and "16" in too_many.json()["error"]["message"]
    bad_enum = requests.post(
        url, json={"requests": [{"image": {"content": "AA=="}, "features": [{"type": 99}]}]}
    )
    assert bad_enum.status_code == 200 and bad_enum.json()["responses"][0]["error"]["code"] == 3
    unknown = requests.get(f"{stack.url}/v1/images:frobnicate", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    wrong_method = requests.get(url, timeout=10)
    assert wrong_method.status_code == 404
    bad_token = requests.get(f"{stack.url}/v1/operations?pageToken=zzz", timeout=10)
    assert bad_token.status_code == 400
    bad_filter = requests.get(f"{stack.url}/v1/operations?filter=name%3Dx", timeout=10)
    assert bad_filter.status_code == 400
    prefixed = requests.post(
        f"{stack.url}/v1/projects/p1/locations/eu/images:annotate",
        json={
            "requests": [
                {
                    "image": {"content": base64.b64encode(b"GIF89a-broken").decode()},
                    "features": [{"type": "DOCUMENT_TEXT_DETECTION"}],
                }
            ]
        },
        timeout=30,
    )
    assert prefixed.status_code == 200 and prefixed.json()["responses"][0]["error"]["code"] == 3


def test_enum_encoding_follows_the_request(stack: LocalStack) -> None:
    body = {
        "requests": [
            {
                "image": {
                    "content": base64.b64encode((TEST_IMAGES / "hello.jpg").read_bytes()).decode()
                },
                "features": [{"type": 11}],
            }
        ]
    }
    as_ints = requests.post(
        f"{stack.url}/v1/images:annotate?$alt=json;enum-encoding=int", json=body, timeout=60
    ).json()
    as_names = requests.post(f"{stack.url}/v1/images:annotate", json=body, timeout=60).json()
    block_int = as_ints["responses"][0]["fullTextAnnotation"]["pages"][0]["blocks"][0]
    block_name = as_names["responses"][0]["fullTextAnnotation"]["pages"][0]["blocks"][0]
    assert block_int["blockType"] == 1 and block_name["blockType"] == "TEXT"


def test_api_key_from_the_clients_options(tmp_path: Path) -> None:
    """``client_options={"api_key": ...}`` sends x-goog-api-key; ?key= works for curl.
    Also the body limit, on the upload function alone."""
    server = FunctionServer(
        "upload",
        "extract_text",
        tmp_path / "data",
        tmp_path / "upload.log",
        env={"API_KEYS": "vision-test-key", "RATE_LIMIT_RPS": "0"},
    )
    server.start()
    try:
        image = vision.Image(content=(TEST_IMAGES / "hello.jpg").read_bytes())
        keyed = vision.ImageAnnotatorClient(
            transport="rest",
            client_options={"api_endpoint": server.url, "api_key": "vision-test-key"},
        )
        assert "Hello" in keyed.text_detection(image=image).full_text_annotation.text
        wrong = vision.ImageAnnotatorClient(
            transport="rest", client_options={"api_endpoint": server.url, "api_key": "nope"}
        )
        with pytest.raises(api_errors.Forbidden, match="valid API key"):
            wrong.text_detection(image=image)
        with pytest.raises(api_errors.Forbidden, match="valid API key"):
            make_client(server.url).text_detection(image=image)
        listed = requests.get(f"{server.url}/v1/operations?key=vision-test-key", timeout=10)
        assert listed.status_code == 200
        # Past the route's limit (MAX_BATCH_BYTES + 64 KiB): refused from Content-Length,
        # in Google's shape (on the function alone, as behind Cloud Run's front end).
        huge = requests.post(
            f"{server.url}/v1/images:annotate?key=vision-test-key",
            data=b" " * (30 * 1024 * 1024 + 100 * 1024),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert huge.status_code == 413 and huge.json()["error"]["code"] == 413
        refused = requests.get(f"{server.url}/v1/operations?key=wrong", timeout=10)
        assert refused.status_code == 403 and refused.json()["error"]["status"] == (
            "PERMISSION_DENIED"
        )
    finally:
        server.stop()


def test_rate_limit_is_429_with_retry_after(upload_client: Any, reconfigure: Any) -> None:
    reconfigure(RATE_LIMIT_RPS="0.01", RATE_LIMIT_BURST="1")
    body = json.dumps({"requests": [{"image": {"content": "AA=="}, "features": [{"type": 5}]}]})
    statuses = []
    for _ in range(3):
        response = upload_client.post(
            "/v1/images:annotate", data=body, content_type="application/json"
        )
        statuses.append(response.status_code)
    assert statuses[0] == 200 and statuses[-1] == 429
    assert response.json["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert int(response.headers["Retry-After"]) >= 1


def test_cancel_through_the_v1_route(stack: LocalStack) -> None:
    (stack.input_dir / "vision-src").mkdir(parents=True, exist_ok=True)
    (stack.input_dir / "vision-src" / "long.pdf").write_bytes(image_pdf(6, filler=12))
    started = requests.post(
        f"{stack.url}/v1/projects/p1/files:asyncBatchAnnotate",
        json={
            "requests": [
                {
                    "inputConfig": {"gcsSource": {"uri": "gs://ocr-input/vision-src/long.pdf"}},
                    "features": [{"type": "DOCUMENT_TEXT_DETECTION"}],
                    "outputConfig": {"gcsDestination": {"uri": "gs://ocr-results/vision/long/"}},
                }
            ]
        },
        timeout=30,
    ).json()
    name = started["name"]
    assert name.startswith("projects/p1/operations/")
    assert started["metadata"]["state"] == "CREATED" and started["done"] is False
    cancelled = requests.post(f"{stack.url}/v1/{name}:cancel", timeout=30)
    assert cancelled.status_code == 200 and cancelled.json() == {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        op = requests.get(f"{stack.url}/v1/{name}", timeout=30).json()
        if op["done"]:
            break
        time.sleep(0.3)
    assert op["metadata"]["state"] == "CANCELLED" and op["error"]["code"] == 1


def _gcloud_vision(stack: LocalStack, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    token = tmp_path / "token"
    token.write_text("any-token\n")  # gcloud insists on credentials; the service ignores them
    env = {
        **os.environ,
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(token),
        "CLOUDSDK_CORE_PROJECT": "ocr-local",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_VISION": f"{stack.url}/",
    }
    return subprocess.run(
        ["gcloud", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_gcloud_ml_vision_against_the_service(stack: LocalStack, tmp_path: Path) -> None:
    if shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed on this machine")
    probe = _gcloud_vision(stack, tmp_path, "ml", "vision", "detect-text", "--help")
    if probe.returncode != 0:
        pytest.skip(f"this gcloud has no 'ml vision detect-text': {probe.stderr[-300:]}")
    text = _gcloud_vision(
        stack,
        tmp_path,
        "ml",
        "vision",
        "detect-text",
        str(TEST_IMAGES / "hello.jpg"),
        "--format=json",
    )
    assert text.returncode == 0, text.stderr
    body = json.loads(text.stdout)["responses"][0]
    assert words(body["fullTextAnnotation"]["text"]) == words(
        ground_truth(TEST_IMAGES / "hello.jpg")
    )
    document = _gcloud_vision(
        stack,
        tmp_path,
        "ml",
        "vision",
        "detect-document",
        str(TEST_IMAGES / "receipt.png"),
        "--format=value(responses[0].fullTextAnnotation.text)",
    )
    assert document.returncode == 0, document.stderr
    assert "TOTAL" in document.stdout.upper()


def test_output_files_appear_without_a_vision_poll(stack: LocalStack) -> None:
    """The OCR function writes them once the last task is done; nobody asks /v1."""
    (stack.input_dir / "vision-src").mkdir(parents=True, exist_ok=True)
    (stack.input_dir / "vision-src" / "unpolled.pdf").write_bytes(image_pdf(2))
    started = requests.post(
        f"{stack.url}/v1/files:asyncBatchAnnotate",
        json={
            "requests": [
                {
                    "inputConfig": {"gcsSource": {"uri": "gs://ocr-input/vision-src/unpolled.pdf"}},
                    "features": [{"type": 11}],
                    "outputConfig": {
                        "gcsDestination": {"uri": "gs://ocr-results/vision/unpolled/"},
                        "batchSize": 1,
                    },
                }
            ]
        },
        timeout=30,
    )
    assert started.status_code == 200, started.text
    out = stack.results_dir / "vision" / "unpolled"
    deadline = time.monotonic() + OPERATION_TIMEOUT_S
    while time.monotonic() < deadline and not (out / "output-2-to-2.json").exists():
        time.sleep(0.3)
    assert sorted(p.name for p in out.iterdir()) == ["output-1-to-1.json", "output-2-to-2.json"]


def test_readme_vision_snippet_runs_as_written(stack: LocalStack) -> None:
    """The README's client snippet, run by a separate Python as a user would run it."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- example:vision -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README lost its tested Vision example"
    assert "http://127.0.0.1:8080" in block.group(1)
    code = block.group(1).replace("http://127.0.0.1:8080", stack.url)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert words(done.stdout) == words(ground_truth(TEST_IMAGES / "hello.jpg"))
