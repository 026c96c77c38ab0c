"""`make run-emulators` as a person runs it: start, upload with the storage client, read the
result over HTTP, stop with SIGTERM (what Ctrl-C does to the whole group) and leave nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from ocr_local.emulators import EmulatorUnavailable, fake_gcs_binary, pubsub_emulator_command
from ocr_local.stack import free_port

from .conftest import ROOT, TEST_IMAGES, words

pytestmark = pytest.mark.e2e


def test_run_emulators_end_to_end_and_clean_stop(tmp_path) -> None:
    try:
        fake_gcs_binary()
        pubsub_emulator_command(0)
    except EmulatorUnavailable as exc:
        pytest.skip(f"emulator chain unavailable: {exc}")
    port, gcs_port, pubsub_port = free_port(), free_port(), free_port()
    log = (tmp_path / "run-emulators.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k not in ("STORAGE_EMULATOR_HOST", "OCR_ENGINE")}
    ports = ["--port", str(port), "--gcs-port", str(gcs_port), "--pubsub-port", str(pubsub_port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "ocr_local.emulators", *ports],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in (tmp_path / "run-emulators.log").read_text():
            assert process.poll() is None, (tmp_path / "run-emulators.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "run-emulators did not come up in 120 s"
            time.sleep(0.3)
        banner = (tmp_path / "run-emulators.log").read_text()
        assert f"export STORAGE_EMULATOR_HOST=http://127.0.0.1:{gcs_port}" in banner

        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(
            project="ocr-local",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": f"http://127.0.0.1:{gcs_port}"},
        )
        client.bucket("ocr-input").blob("hello.jpg").upload_from_filename(
            str(TEST_IMAGES / "hello.jpg")
        )
        deadline = time.monotonic() + 60
        while (response := requests.get(f"{url}/results/hello.jpg", timeout=10)).status_code == 202:
            assert time.monotonic() < deadline, "no result within 60 s"
            time.sleep(0.3)
        assert response.status_code == 200
        assert "hello world" in " ".join(words(response.json()["text"]))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        log.close()
    assert code == 0
    # Everything it started is gone: the ports are free again.
    for p in (port, gcs_port, pubsub_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{p}/", timeout=2)
