"""The cloud wiring of operations, against the real Pub/Sub emulator: the upload function
publishes tasks to a topic, a push subscription delivers them to the OCR function running
under functions-framework on 127.0.0.1, which publishes the page tasks in turn."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr_core.config import Settings
from ocr_core.jobs.tasks import local_queue_folder
from ocr_local.emulators import EmulatorUnavailable, pubsub_emulator_command
from ocr_local.stack import free_port, functions_framework_command, stop_group

from .conftest import ROOT, words
from .documents import WORDS, image_pdf
from .test_documents import put, stored

pytestmark = pytest.mark.e2e

PROJECT = "ocr-test"
START_TIMEOUT_S = 90


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    tail = log.read_text()[-2000:]
    raise RuntimeError(f"nothing listening on {port} after {timeout_s} s:\n{tail}")


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    try:
        command = pubsub_emulator_command(port)
    except EmulatorUnavailable as exc:
        pytest.skip(str(exc))
    log = tmp_path / "pubsub.log"
    process = subprocess.Popen(
        command,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, process, log, START_TIMEOUT_S)
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(process)


@pytest.fixture
def cloud_wiring(
    emulator: str, reconfigure, tmp_path: Path
) -> Iterator[tuple[Settings, subprocess.Popen[bytes]]]:
    topic = f"projects/{PROJECT}/topics/ocr-tasks"
    settings = reconfigure(
        PUBSUB_EMULATOR_HOST=emulator,
        TASK_QUEUE="pubsub",
        TASKS_TOPIC=topic,
        DOCUMENT_SHARD_PAGES="2",
    )
    port = free_port()
    log = tmp_path / "ocr-function.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    function = subprocess.Popen(
        functions_framework_command(
            "on_object_finalized", ROOT / "functions" / "ocr" / "main.py", port
        ),
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(port, function, log, START_TIMEOUT_S)
        from google.cloud import pubsub_v1

        publisher = pubsub_v1.PublisherClient()
        publisher.create_topic(name=topic)
        subscriber = pubsub_v1.SubscriberClient()
        subscriber.create_subscription(
            name=f"projects/{PROJECT}/subscriptions/ocr-tasks-push",
            topic=topic,
            push_config={"push_endpoint": f"http://127.0.0.1:{port}/"},
            ack_deadline_seconds=60,
        )
        yield settings, function
    finally:
        stop_group(function)


def test_tasks_fan_out_through_pubsub_to_the_ocr_function(cloud_wiring, upload_client) -> None:
    settings, function = cloud_wiring
    put(settings, "cloud/report.pdf", image_pdf(5))
    response = upload_client.post("/operations", json={"objects": ["cloud/report.pdf"]})
    assert response.status_code == 202
    op_path = f"/{response.json['name']}"

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        op = upload_client.get(op_path).json
        if op["done"]:
            break
        assert function.poll() is None
        time.sleep(0.3)
    assert op["metadata"]["state"] == "done", op
    assert op["metadata"]["progress"]["pages_done"] == 5
    doc = stored(settings, "cloud/report.pdf.json")
    assert [p["page_number"] for p in doc["pages"]] == [1, 2, 3, 4, 5]
    for number, page in enumerate(doc["pages"], 1):
        assert str(number) in words(page["text"])
        assert WORDS[number - 1] in words(page["text"])
    assert len(doc["shards"]) == 3
    assert not local_queue_folder(settings).exists()  # every task went through Pub/Sub
