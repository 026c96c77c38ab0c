"""End to end: `make run` as a subprocess on a free port, driven over loopback like a user would."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, TEST_IMAGES, words

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 120
RESULT_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalStack:
    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def input_dir(self) -> Path:
        return self.data_dir / "ocr-input"

    def start(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("INPUT_BUCKET", "RESULTS_BUCKET", "RESULTS_PREFIX", "STORAGE_BACKEND")
        }
        log = self.log_path.open("ab")
        # Its own session, so the whole tree it starts (make, the stack, three function
        # servers) can be stopped together by the group id of the process we started.
        self.process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "run",
                f"PORT={self.port}",
                f"DATA_DIR={self.data_dir}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make run exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).json().get("status") == "ok":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"stack not healthy in {START_TIMEOUT_S} s:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def wait_result(self, name: str, timeout_s: float = RESULT_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = requests.get(f"{self.url}/results/{name}", timeout=10)
            if response.status_code == 200:
                return response.json()
            assert response.status_code == 202, response.text
            time.sleep(0.3)
        raise AssertionError(f"no result for {name} within {timeout_s} s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    base = tmp_path_factory.mktemp("stack")
    local = LocalStack(base / "data", base / "stack.log")
    # An object waiting from before the start: it must be processed when the stack comes up.
    local.input_dir.mkdir(parents=True)
    shutil.copyfile(TEST_IMAGES / "invoice.gif", local.input_dir / "left-over.gif")
    local.start()
    yield local
    local.stop()


def test_inline_ocr_of_a_real_image(stack: LocalStack) -> None:
    with (TEST_IMAGES / "hello.jpg").open("rb") as fh:
        response = requests.post(f"{stack.url}/extract-text", files={"image": fh}, timeout=60)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert "optical character recognition" in " ".join(words(body["text"]))
    assert 0 < body["confidence"] <= 1 and body["processing_time_ms"] > 0


def test_inline_ocr_of_a_corpus_image(stack: LocalStack, samples: Path) -> None:
    with (samples / "uw3_line_010002.png").open("rb") as fh:
        body = requests.post(f"{stack.url}/extract-text", files={"image": fh}, timeout=60).json()
    truth = (samples / "uw3_line_010002.gt.txt").read_text()
    expected = words(truth)
    assert sum(w in words(body["text"]) for w in expected) >= 0.9 * len(expected)


def test_copying_into_the_input_folder_is_the_local_gsutil_cp(stack: LocalStack) -> None:
    target = stack.input_dir / "inbox" / "receipt.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_IMAGES / "receipt.png", target)
    doc = stack.wait_result("inbox/receipt.png")
    assert doc["status"] == "done"
    assert "total" in words(doc["text"]) and "espresso" in words(doc["text"])
    stored = stack.data_dir / "ocr-results" / "inbox" / "receipt.png.json"
    assert json.loads(stored.read_text())["text"] == doc["text"]


def test_objects_present_before_start_are_processed(stack: LocalStack) -> None:
    doc = stack.wait_result("left-over.gif")
    assert "invoice" in words(doc["text"])


def test_async_upload_takes_the_same_path(stack: LocalStack) -> None:
    with (TEST_IMAGES / "noisy_photo.jpg").open("rb") as fh:
        response = requests.post(
            f"{stack.url}/extract-text?mode=async", files={"image": fh}, timeout=30
        )
    assert response.status_code == 202
    body = response.json()
    assert body["results_url"].startswith(stack.url)
    doc = stack.wait_result(body["object"])
    assert "meeting" in words(doc["text"])
    assert requests.get(body["results_url"], timeout=10).json()["text"] == doc["text"]


def test_oversized_body_is_refused_from_its_length(stack: LocalStack) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(
            b"POST /extract-text HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 1073741824\r\n\r\n"
        )
        started = time.monotonic()
        chunks = []
        while chunk := sock.recv(65536):  # the gateway closes the connection after a 413
            chunks.append(chunk)
        reply = b"".join(chunks).decode("latin-1")
    assert time.monotonic() - started < 5
    assert reply.startswith("HTTP/1.1 413")
    assert '"file_too_large"' in reply


def _readme_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- example:local -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README lost its tested local example block"
    return [
        line
        for line in block.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_examples_work_as_written(stack: LocalStack) -> None:
    outputs = []
    for line in _readme_examples():
        command = line.replace("data/", f"{stack.data_dir}/")
        env = {**os.environ, "URL": stack.url}
        done = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (line, done.stderr)
        outputs.append((line, done.stdout))
    inline = next(out for line, out in outputs if "extract-text" in line and "async" not in line)
    assert "hello world" in " ".join(words(json.loads(inline)["text"]))
    accepted = next(out for line, out in outputs if "mode=async" in line)
    assert json.loads(accepted)["status"] == "pending"
    for line, out in outputs:
        if "/results/" in line and "format=text" not in line:
            assert json.loads(out)["status"] in ("pending", "done")
    stack.wait_result("scans/receipt.png")
