"""The HTTP surface as people reach it, against `make run` on loopback: a schemathesis run
over the served OpenAPI document, the web page in headless Chromium, and /docs.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import ROOT, TEST_IMAGES, words
from .test_local_stack import LocalStack, _readme_examples

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# Known to work as root in a container: no sandbox, no GPU, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    base = tmp_path_factory.mktemp("web")
    local = LocalStack(base / "data", base / "stack.log")
    local.start()
    yield local
    local.stop()


def test_schemathesis_finds_no_server_error_and_no_schema_break(
    stack: LocalStack, tmp_path: Path
) -> None:
    cli = Path(sys.executable).parent / "schemathesis"
    checks = [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
    done = subprocess.run(
        [
            str(cli),
            "run",
            f"{stack.url}/openapi.json",
            "--checks",
            ",".join(checks),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--seed",
            "8",
            "--workers",
            "1",  # hypothesis' lambda parsing is not thread-safe on Python 3.11
            "--request-timeout",
            "60",
            "--no-shrink",
            "--report",
            "junit",
            "--report-junit-path",
            str(ARTIFACTS / "schemathesis-junit.xml"),
        ],
        cwd=tmp_path,  # its .hypothesis folder stays out of the repository
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 100, done.stdout[-3000:]
    # Every operation but GET /openapi.json, which schemathesis leaves out as the schema itself.
    spec = requests.get(f"{stack.url}/openapi.json", timeout=10).json()
    operations = [m for item in spec["paths"].values() for m in item if m in ("get", "post")]
    tested = re.search(r"Tested:\s+(\d+)", done.stdout)
    assert tested and int(tested[1]) == len(operations) - 1, done.stdout[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        script = ROOT / "scripts" / "ensure_chromium.sh"
        try:
            subprocess.run([str(script)], check=True, timeout=900, capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            err = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"Chromium is not installed and could not be: {err.decode()[-300:]}")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = ARTIFACTS / ".chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any, stack: LocalStack) -> Iterator[Any]:
    page = browser.new_page()
    elsewhere: list[str] = []
    # Everything the page loads or calls must be this stack's own (no CDN, no beacon).
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((stack.url, "blob:", "data:")) else elsewhere.append(r.url)
        ),
    )
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    yield page
    page.close()
    assert not elsewhere, f"the page reached outside the stack: {elsewhere}"
    assert not console_errors, console_errors


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_immediate_ocr_of_two_images_shows_text_confidence_and_boxes(
    page: Any, stack: LocalStack
) -> None:
    page.goto(f"{stack.url}/")
    page.set_input_files(
        "#files", [str(TEST_IMAGES / "hello.jpg"), str(TEST_IMAGES / "receipt.png")]
    )
    page.click("#go")
    page.wait_for_selector('.card[data-state="done"] >> nth=1', timeout=90_000)
    cards = page.locator(".card")
    assert cards.count() == 2
    by_name = {cards.nth(i).locator(".name").inner_text(): cards.nth(i) for i in range(2)}
    hello = by_name["hello.jpg"]
    text = hello.locator("textarea.text").input_value()
    assert "optical character recognition" in " ".join(words(text))
    assert "espresso" in words(by_name["receipt.png"].locator("textarea.text").input_value())
    confidence = hello.locator('dd[data-fact="confidence"]').inner_text()
    assert confidence.endswith("%") and 50 <= int(confidence.split()[0]) <= 100
    boxes = hello.locator("svg.boxes rect")
    assert boxes.count() >= len(words(text)) - 2  # one box per word
    # The boxes sit on the picture: the overlay covers the image exactly.
    img, svg = hello.locator(".view img").bounding_box(), hello.locator("svg.boxes").bounding_box()
    assert abs(img["width"] - svg["width"]) < 2 and abs(img["height"] - svg["height"]) < 2
    first = boxes.first.bounding_box()
    assert img["x"] <= first["x"] < img["x"] + img["width"]
    assert "2 files in" in page.locator("#summary").inner_text()
    _shot(page, "web-immediate.png")

    hello.locator("button.copy").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('button.copy')].some(b => b.textContent === 'Copied')"
    )
    with page.expect_download() as info:
        hello.locator("button.download").click()
    download = info.value
    assert download.suggested_filename == "hello.txt"
    assert Path(download.path()).read_text(encoding="utf-8") == text
    # The searchable PDF, for filing: the same image again with ?format=pdf.
    with page.expect_download() as info:
        hello.locator('button.file[data-format="pdf"]').click()
    assert info.value.suggested_filename == "hello.jpg.pdf"
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF-")


def test_background_job_shows_its_status_until_done(page: Any, stack: LocalStack) -> None:
    page.goto(f"{stack.url}/")
    page.check('input[name="mode"][value="async"]')
    page.set_input_files("#files", [str(TEST_IMAGES / "invoice.gif")])
    page.click("#go")
    card = page.locator(".card").first
    page.wait_for_selector('.card[data-state="pending"], .card[data-state="done"]', timeout=30_000)
    seen_pending = card.get_attribute("data-state") == "pending"
    page.wait_for_selector('.card[data-state="done"]', timeout=90_000)
    assert seen_pending, "a background job should show its pending status first"
    assert "invoice" in words(card.locator("textarea.text").input_value())
    name = card.get_attribute("data-object")
    stored = requests.get(f"{stack.url}/results/{name}", timeout=10).json()
    assert stored["text"] == card.locator("textarea.text").input_value()
    # ALTO from the results function, as an archive takes it.
    with page.expect_download() as info:
        card.locator('button.file[data-format="alto"]').click()
    assert info.value.suggested_filename == "invoice.gif.alto.xml"
    assert b"<String " in Path(info.value.path()).read_bytes()
    _shot(page, "web-background.png")


def test_a_bad_file_shows_its_error(page: Any, stack: LocalStack) -> None:
    page.goto(f"{stack.url}/")
    page.set_input_files(
        "#files", [str(TEST_IMAGES / "not_an_image.jpg"), str(TEST_IMAGES / "hello.jpg")]
    )
    page.click("#go")
    page.wait_for_selector('.card[data-state="failed"]', timeout=60_000)
    page.wait_for_selector('.card[data-state="done"]', timeout=60_000)
    error = page.locator('.card[data-state="failed"] .error').inner_text()
    assert "(not_an_image)" in error


def test_a_dropped_photo_with_exif_rotation_gets_boxes_on_the_upright_image(
    page: Any, stack: LocalStack
) -> None:
    page.goto(f"{stack.url}/")
    data = list((TEST_IMAGES / "rotated_exif.jpg").read_bytes())
    # What a drag and drop from the desktop delivers: a drop event carrying the file.
    page.evaluate(
        """(bytes) => {
            const type = {type: "image/jpeg"};
            const file = new File([new Uint8Array(bytes)], "rotated_exif.jpg", type);
            const transfer = new DataTransfer();
            transfer.items.add(file);
            const drop = document.querySelector("#drop");
            drop.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
            drop.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        data,
    )
    assert "1 file chosen" in page.locator("#summary").inner_text()
    page.click("#go")
    page.wait_for_selector('.card[data-state="done"]', timeout=60_000)
    card = page.locator(".card").first
    assert card.locator(".name").inner_text() == "rotated_exif.jpg"
    # The browser shows the photo upright, as the engine read it: the overlay's coordinate
    # space is the picture's own, so the boxes land on the words.
    natural = card.locator(".view img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    view_box = card.locator("svg.boxes").get_attribute("viewBox")
    assert view_box == f"0 0 {natural[0]} {natural[1]}"
    assert natural[0] > natural[1]  # stored portrait with EXIF orientation 6, upright landscape
    assert "rotated by the camera" in " ".join(words(card.locator("textarea.text").input_value()))
    assert card.locator("svg.boxes rect").count() > 0
    _shot(page, "web-dropped-rotated.png")


def test_a_tiff_gets_its_boxes_over_a_placeholder_of_its_size(
    page: Any, stack: LocalStack, tmp_path: Path
) -> None:
    """Chromium cannot show TIFF: the word boxes go over a placeholder of the image's own
    size, not into a strip over a broken image."""
    from PIL import Image

    tiff = tmp_path / "scan.tif"
    with Image.open(TEST_IMAGES / "hello.jpg") as image:
        image.convert("L").save(tiff, compression="tiff_lzw")
        size = image.size
    page.goto(f"{stack.url}/")
    page.set_input_files("#files", [str(tiff)])
    page.click("#go")
    page.wait_for_selector('.card[data-state="done"]', timeout=60_000)
    card = page.locator(".card").first
    page.wait_for_function(
        "() => document.querySelector('.card.no-preview .view img')?.naturalWidth > 0"
    )
    natural = card.locator(".view img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert tuple(natural) == size
    assert card.locator("svg.boxes").get_attribute("viewBox") == f"0 0 {size[0]} {size[1]}"
    img, svg = card.locator(".view img").bounding_box(), card.locator("svg.boxes").bounding_box()
    assert abs(img["height"] / img["width"] - size[1] / size[0]) < 0.02  # the picture's shape
    assert abs(img["height"] - svg["height"]) < 2
    boxes = card.locator("svg.boxes rect")
    assert boxes.count() >= 5
    first = boxes.first.bounding_box()
    assert first["height"] > 5 and img["y"] <= first["y"] < img["y"] + img["height"]
    assert "TIFF" in card.locator(".view img").get_attribute("alt")
    _shot(page, "web-tiff.png")


def test_docs_page_renders_the_openapi_document(page: Any, stack: LocalStack) -> None:
    page.goto(f"{stack.url}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    body = page.locator("#swagger-ui").inner_text()
    for route in ("/extract-text", "/batch-extract", "/results/{object}", "/openapi.json"):
        assert route in body
    spec = json.loads(requests.get(f"{stack.url}/openapi.json", timeout=10).text)
    operations = [m for item in spec["paths"].values() for m in item if m in ("get", "post")]
    assert page.locator(".opblock").count() == len(operations)
    _shot(page, "docs.png")


def test_readme_batch_and_openapi_examples_answer_as_documented(stack: LocalStack) -> None:
    lines = [ln for ln in _readme_examples() if "batch-extract" in ln or "openapi.json" in ln]
    assert len(lines) == 2
    outputs = {}
    for line in lines:
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=ROOT,
            env={**os.environ, "URL": stack.url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (line, done.stderr)
        outputs["batch" if "batch-extract" in line else "openapi"] = json.loads(done.stdout)
    batch = outputs["batch"]
    assert (batch["count"], batch["succeeded"], batch["failed"]) == (2, 1, 1)
    assert "hello world" in " ".join(words(batch["results"][0]["text"]))
    assert batch["results"][1]["error"]["code"] == "not_an_image"
    assert outputs["openapi"]["openapi"] == "3.1.0"


def test_the_gateway_answers_json_to_odd_methods_and_malformed_requests(stack: LocalStack) -> None:
    trace = requests.request("TRACE", f"{stack.url}/results/x.png", timeout=10)
    assert trace.status_code == 405
    assert trace.json()["error"]["code"] == "method_not_allowed"
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.decode("latin-1").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "application/json" in head
    assert json.loads(body)["error"]["code"] == "invalid_request"
    assert requests.get(f"{stack.url}/", timeout=10).headers["Content-Type"].startswith("text/html")
