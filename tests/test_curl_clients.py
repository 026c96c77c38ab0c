"""The curl binary, with its defaults, against `make run` (a subprocess on a free port).

curl is what people type first. Above 1 MiB it sends ``Expect: 100-continue`` and waits
for the server's go-ahead (or a final answer) before sending the body; with
``Transfer-Encoding: chunked`` it frames the body itself; with ``--http1.0`` there is no
keep-alive and no chunking. Every case answers as the API says, with the right text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import sized_images
from .conftest import words
from .servers import LocalStack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed"),
]
MB = 1_000_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    base = tmp_path_factory.mktemp("curl-stack")
    local = LocalStack(base / "data", base / "stack.log")
    local.start()
    yield local
    local.stop()
    log = local.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sized-images")


def curl(*args: str, timeout_s: float = 90) -> tuple[int, dict, float]:
    """Run curl; return the HTTP status (from -w), the JSON body and the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        ["curl", *args, "-w", "\n%{http_code}"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body), elapsed


def readme_command(url: str, image: Path, *extra: str) -> list[str]:
    """The README's command, as written: curl -X POST -F "image=@FILE" $URL/extract-text."""
    return ["-X", "POST", "-F", f"image=@{image}", *extra, f"{url}/extract-text"]


def front_door_and_upload_rss_kib(stack: LocalStack) -> int:
    total = 0
    for pid in stack.session_processes():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"-m ocr_local" in cmdline or b"functions/upload" in cmdline:
            total += stack.rss_kib(pid)
    return total


@pytest.mark.parametrize(
    ("size", "make", "expected"),
    [
        (10_000, sized_images.hello, sized_images.HELLO_WORDS),
        (1_500_000, sized_images.phone_photo, sized_images.PHONE_WORDS),
        (5 * MB, sized_images.phone_photo, sized_images.PHONE_WORDS),
        (9_900_000, sized_images.phone_photo, sized_images.PHONE_WORDS),
    ],
    ids=["10KB", "1.5MB", "5MB", "9.9MB"],
)
def test_the_readme_command_reads_images_of_every_size(
    stack: LocalStack, images: Path, size: int, make, expected: tuple[str, ...]
) -> None:
    image = sized_images.write(images / f"photo-{size}.jpg", make(size))
    status, body, elapsed = curl(*readme_command(stack.url, image))
    assert status == 200, body
    assert body["success"] is True and body["status"] == "done"
    assert body["image"]["sha256"], body["image"]
    found = words(body["text"])
    assert sum(word in found for word in expected) >= len(expected) - 1, body["text"]
    # Not the 30 s stall of a body that never came (curl waiting for 100 Continue).
    assert elapsed < 25, elapsed


@pytest.mark.parametrize("size", [10_500_000, 11_010_048], ids=["10.5MB", "10.5MiB"])
def test_an_image_over_the_limit_is_a_413_within_a_second(
    stack: LocalStack, images: Path, size: int
) -> None:
    image = sized_images.write(images / f"too-big-{size}.jpg", sized_images.phone_photo(size))
    before = front_door_and_upload_rss_kib(stack)
    for _ in range(3):
        status, body, elapsed = curl(*readme_command(stack.url, image))
        assert status == 413, body
        assert body["error"]["code"] == "file_too_large"
        assert body["error"]["details"]["limit_bytes"] == 10 * 1024 * 1024
        assert elapsed < 1.0, elapsed
    grown_mib = (front_door_and_upload_rss_kib(stack) - before) / 1024
    assert grown_mib < 30, f"the servers grew by {grown_mib:.0f} MiB refusing 3 uploads"


def test_http_1_0(stack: LocalStack, images: Path) -> None:
    image = sized_images.write(images / "http10.jpg", sized_images.phone_photo(1_500_000))
    status, body, _ = curl("--http1.0", *readme_command(stack.url, image))
    assert status == 200, body
    assert "printer" in words(body["text"])


def test_a_chunked_upload(stack: LocalStack, images: Path) -> None:
    image = sized_images.write(images / "chunked.jpg", sized_images.phone_photo(2 * MB))
    status, body, _ = curl(
        *readme_command(stack.url, image, "-H", "Transfer-Encoding: chunked"), "-v"
    )
    assert status == 200, body
    assert "printer" in words(body["text"])


def test_async_upload_then_its_result(stack: LocalStack, images: Path) -> None:
    image = sized_images.write(images / "async.jpg", sized_images.phone_photo(3 * MB))
    status, body, _ = curl(
        "-X", "POST", "-F", f"image=@{image}", f"{stack.url}/extract-text?mode=async"
    )
    assert status == 202, body
    assert body["status"] == "pending"
    doc = stack.wait_result(body["object"])
    assert doc["status"] == "done"
    assert "printer" in words(doc["text"])
    status, fetched, _ = curl(body["results_url"])
    assert status == 200 and fetched["text"] == doc["text"]


def test_batch_with_a_3_mb_item(stack: LocalStack, images: Path) -> None:
    big = sized_images.write(images / "batch-big.jpg", sized_images.hello(3 * MB))
    small = sized_images.write(images / "batch-small.jpg", sized_images.hello(10_000))
    status, body, _ = curl(
        "-F", f"images=@{big}", "-F", f"images=@{small}", f"{stack.url}/batch-extract"
    )
    assert status == 200, body
    assert (body["count"], body["succeeded"]) == (2, 2)
    for item in body["results"]:
        assert "optical" in words(item["text"]), item
