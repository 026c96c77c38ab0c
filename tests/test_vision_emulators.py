"""The Vision surface on the cloud wiring (``make run-emulators``): sources and output files
are objects in fake-gcs-server, the async batch's tasks travel over the Pub/Sub emulator to
the OCR function, and google-cloud-vision over REST is the client.

Skips when gcloud's Pub/Sub emulator (or java) is not on this machine.
"""

from __future__ import annotations

from typing import Any

import pytest

from ocr_local.emulators import EmulatorChain

from .conftest import TEST_IMAGES, ground_truth, words
from .documents import image_pdf, page_lines

vision = pytest.importorskip("google.cloud.vision")
from google.api_core import exceptions as api_errors  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(chain: EmulatorChain) -> Any:
    return vision.ImageAnnotatorClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": chain.url},
    )


def test_image_from_the_gcs_emulator(
    chain: EmulatorChain, storage_client: Any, client: Any
) -> None:
    blob = storage_client.bucket(chain.input_bucket).blob("vision/hello.jpg")
    blob.upload_from_filename(str(TEST_IMAGES / "hello.jpg"), content_type="image/jpeg")
    image = vision.Image(
        source=vision.ImageSource(gcs_image_uri=f"gs://{chain.input_bucket}/vision/hello.jpg")
    )
    response = client.document_text_detection(image=image)
    assert words(response.full_text_annotation.text) == words(
        ground_truth(TEST_IMAGES / "hello.jpg")
    )
    foreign = client.text_detection(
        image=vision.Image(source=vision.ImageSource(gcs_image_uri="gs://other-bucket/a.jpg"))
    )
    assert foreign.error.code == 7


def test_async_pdf_batch_writes_output_objects(
    chain: EmulatorChain, storage_client: Any, client: Any
) -> None:
    source = storage_client.bucket(chain.input_bucket).blob("vision/three.pdf")
    source.upload_from_string(image_pdf(3), content_type="application/pdf")
    destination = f"gs://{chain.results_bucket}/vision-out/three/"
    operation = client.async_batch_annotate_files(
        requests=[
            vision.AsyncAnnotateFileRequest(
                input_config=vision.InputConfig(
                    gcs_source=vision.GcsSource(uri=f"gs://{chain.input_bucket}/vision/three.pdf"),
                    mime_type="application/pdf",
                ),
                features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
                output_config=vision.OutputConfig(
                    gcs_destination=vision.GcsDestination(uri=destination), batch_size=2
                ),
            )
        ]
    )
    result = operation.result(timeout=240)
    assert result.responses[0].output_config.gcs_destination.uri == destination
    blobs = sorted(
        storage_client.list_blobs(chain.results_bucket, prefix="vision-out/three/"),
        key=lambda b: b.name,
    )
    assert [b.name for b in blobs] == [
        "vision-out/three/output-1-to-2.json",
        "vision-out/three/output-3-to-3.json",
    ]
    pages = []
    for blob in blobs:
        parsed = vision.AnnotateFileResponse.from_json(
            blob.download_as_text(), ignore_unknown_fields=True
        )
        pages += list(parsed.responses)
    assert [p.context.page_number for p in pages] == [1, 2, 3]
    for number, page in enumerate(pages, 1):
        assert words(page.full_text_annotation.text) == words(" ".join(page_lines(number)))
    fetched = client.get_operation(request={"name": operation.operation.name})
    assert fetched.done


def test_async_batch_to_the_input_bucket_is_refused(chain: EmulatorChain, client: Any) -> None:
    with pytest.raises(api_errors.Forbidden):
        client.async_batch_annotate_files(
            requests=[
                vision.AsyncAnnotateFileRequest(
                    input_config=vision.InputConfig(
                        gcs_source=vision.GcsSource(
                            uri=f"gs://{chain.input_bucket}/vision/three.pdf"
                        )
                    ),
                    features=[vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)],
                    output_config=vision.OutputConfig(
                        gcs_destination=vision.GcsDestination(uri=f"gs://{chain.input_bucket}/out/")
                    ),
                )
            ]
        )
