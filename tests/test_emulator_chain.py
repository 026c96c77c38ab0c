"""The cloud wiring end to end on emulators, as ``make run-emulators`` starts it:

object upload to fake-gcs-server -> finalize notification -> Pub/Sub emulator topic ->
push subscription -> OCR function (functions-framework over HTTP) -> result in the
results bucket -> results function.

Skips when gcloud's Pub/Sub emulator (or java) is not on this machine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from typing import Any

import pytest
import requests

from ocr_local.emulators import EmulatorChain

from .conftest import ROOT, TEST_IMAGES, words

pytestmark = pytest.mark.e2e

RESULT_TIMEOUT_S = 60


def wait_for_result(chain: EmulatorChain, name: str) -> requests.Response:
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while time.monotonic() < deadline:
        response = requests.get(f"{chain.url}/results/{name}", timeout=10)
        if response.status_code != 202:
            return response
        time.sleep(0.2)
    logs = (chain.work_dir / "function-ocr.log").read_text()[-3000:]  # type: ignore[operator]
    raise AssertionError(f"no result for {name} within {RESULT_TIMEOUT_S} s; OCR log:\n{logs}")


def test_storage_upload_is_ocred_through_notification_and_push(
    chain: EmulatorChain, storage_client: Any
) -> None:
    started = time.monotonic()
    blob = storage_client.bucket(chain.input_bucket).blob("inbox/receipt.png")
    blob.upload_from_filename(str(TEST_IMAGES / "receipt.png"), content_type="image/png")
    response = wait_for_result(chain, "inbox/receipt.png")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "done" and "corner cafe" in " ".join(words(doc["text"]))
    assert doc["object"] == {
        "bucket": chain.input_bucket,
        "name": "inbox/receipt.png",
        "generation": str(blob.generation),
    }
    # The result is an object in the results bucket of fake-gcs-server...
    stored = storage_client.bucket(chain.results_bucket).get_blob("inbox/receipt.png.json")
    assert stored is not None and json.loads(stored.download_as_bytes())["text"] == doc["text"]
    # ...and only the upload is in the input bucket (results never re-trigger the OCR).
    names = [b.name for b in storage_client.list_blobs(chain.input_bucket)]
    assert names == ["inbox/receipt.png"]
    text = requests.get(f"{chain.url}/results/inbox/receipt.png?format=text", timeout=10)
    assert text.status_code == 200 and text.text == doc["text"]
    print(f"\nemulator chain: upload -> result served in {elapsed:.2f} s")


def test_async_upload_through_the_upload_function(chain: EmulatorChain) -> None:
    with (TEST_IMAGES / "hello.jpg").open("rb") as fh:
        response = requests.post(
            f"{chain.url}/extract-text?mode=async", files={"image": fh}, timeout=30
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["results_url"].startswith(chain.url + "/results/uploads/")
    result = wait_for_result(chain, body["object"])
    assert result.status_code == 200
    assert "hello world" in " ".join(words(result.json()["text"]))


def test_a_file_that_is_not_an_image_gets_a_failed_result_once(
    chain: EmulatorChain, storage_client: Any
) -> None:
    blob = storage_client.bucket(chain.input_bucket).blob("notes.jpg")
    blob.upload_from_filename(str(TEST_IMAGES / "not_an_image.jpg"), content_type="image/jpeg")
    response = wait_for_result(chain, "notes.jpg")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["code"] == "not_an_image"
    # Acknowledged (2xx) to the push subscription: no redelivery, one failed result written.
    time.sleep(1.5)
    log = (chain.work_dir / "function-ocr.log").read_text()  # type: ignore[operator]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    written = [
        e for e in lines if e.get("message") == "result stored" and e.get("object") == "notes.jpg"
    ]
    assert len(written) == 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_emulator_examples_work_as_written(chain: EmulatorChain) -> None:
    readme = (ROOT / "docs" / "local.md").read_text()
    block = re.search(r"<!-- example:emulators -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "docs/local.md lost its tested emulator example block"
    script = block.group(1)
    # The block uses make run-emulators' default addresses; here the chain has its own.
    assert "URL=http://127.0.0.1:8080" in script
    assert "STORAGE_EMULATOR_HOST=http://127.0.0.1:4443" in script
    script = script.replace("http://127.0.0.1:8080", chain.url)
    script = script.replace("http://127.0.0.1:4443", chain.gcs_url)
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "CORNER CAFE\nEspresso 2.50" in out  # ?format=text of the curl upload
    assert '"status": "done"' in out and "INVOICE" in out  # the storage client's upload
    assert '"name":"scans/invoice.gif.json"' in out.replace(" ", "")  # the results bucket


def test_a_pdf_fans_out_as_tasks_through_the_tasks_topic(
    chain: EmulatorChain, storage_client: Any
) -> None:
    """A document in the input bucket: notification -> OCR function plans it -> page tasks
    published to the tasks topic -> pushed back to the OCR function -> shards and result."""
    blob = storage_client.bucket(chain.input_bucket).blob("contracts/contract.pdf")
    blob.upload_from_filename(str(TEST_IMAGES / "contract.pdf"), content_type="application/pdf")
    response = wait_for_result(chain, "contracts/contract.pdf")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "done" and doc["document"]["page_count"] >= 2
    assert doc["operation"]
    shards = [b.name for b in storage_client.list_blobs(chain.results_bucket, prefix="contracts/")]
    assert "contracts/contract.pdf.json" in shards
    assert any(".shards/output-" in name for name in shards)
    # The shard was written by a page task that came back through the tasks topic's push.
    log = (chain.work_dir / "function-ocr.log").read_text()  # type: ignore[operator]
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(
        e.get("message") == "shard stored"
        and e.get("task") == "pages"
        and e.get("event_type") == "google.cloud.pubsub.topic.v1.messagePublished"
        for e in entries
    )
