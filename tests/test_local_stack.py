"""End to end: `make run` as a subprocess on a free port, driven over loopback like a user would."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, TEST_IMAGES, words
from .servers import LocalStack

pytestmark = pytest.mark.e2e


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
    # A photo over 1 MiB: curl sends it with Expect: 100-continue.
    assert "phone_photo.jpg" in next(line for line, _ in outputs if "extract-text" in line)
    assert {"printer", "second", "floor"} <= set(words(json.loads(inline)["text"]))
    accepted = next(out for line, out in outputs if "mode=async" in line)
    assert json.loads(accepted)["status"] == "pending"
    for line, out in outputs:
        if "/results/" in line and "format=text" not in line:
            assert json.loads(out)["status"] in ("pending", "done")
    stack.wait_result("scans/receipt.png")


def test_the_public_port_is_held_before_any_function_starts(tmp_path: Path) -> None:
    """CI once lost `make run` to "address already in use": the functions booted (and their
    workers connected) while the public port was still free. It is bound first now, so a
    port that is taken fails the start before any function process exists, and no
    function is given the public port."""
    from ocr_local.stack import Stack

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack = Stack("127.0.0.1", port, {**os.environ, "DATA_DIR": str(tmp_path)})
        stack.functions[0].port = port  # a clash the start must resolve, not keep
        with pytest.raises(OSError):
            stack.start()
    assert all(spec.process is None for spec in stack.functions)
    assert port not in {spec.port for spec in stack.functions}
