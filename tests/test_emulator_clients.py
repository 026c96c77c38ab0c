"""`make run-emulators` (a subprocess on free ports) with the clients people use on it:
curl on every route of ``ocr_core.http.routes`` through its front door, with the same body caps
as `make run`, and Google's own CLI (`gcloud storage cp`, and `gsutil` through its gcloud
shim) uploading to fake-gcs-server, then the result over HTTP. The gcloud block of docs/local.md is
run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ocr_core.http import routes
from ocr_local.emulators import EmulatorUnavailable, fake_gcs_binary, pubsub_emulator_command

from . import sized_images
from .conftest import ROOT, TEST_IMAGES, words
from .servers import EmulatorStack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed"),
]
CLI_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorStack]:
    try:
        fake_gcs_binary()
        pubsub_emulator_command(0)
    except EmulatorUnavailable as exc:
        pytest.skip(f"emulator chain unavailable: {exc}")
    stack = EmulatorStack(tmp_path_factory.mktemp("emulators") / "run-emulators.log")
    stack.start()
    yield stack
    stack.stop()


def curl(*args: str) -> tuple[int, str]:
    done = subprocess.run(
        ["curl", "-s", *args, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def run_bounded(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """bash -c ``script`` in its own process group, killed whole if it outlives the bound
    (plain gsutil, pointed at Google, waits on the network)."""
    process = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=CLI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"not done in {CLI_TIMEOUT_S} s:\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_result(chain: EmulatorStack, name: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = requests.get(f"{chain.url}/results/{name}", timeout=10)
        if response.status_code == 200:
            return response.json()
        assert response.status_code == 202, response.text
        time.sleep(0.3)
    raise AssertionError(f"no result for {name} in {timeout_s} s")


def test_every_route_is_routed(chain: EmulatorStack) -> None:
    """Each route of the table answers from its own function: never the door's 404."""
    examples = {
        "/results/{object}": "/results/nothing/here.png",
        "/operations/{id}": "/operations/20261122T210927820634Z-37aea6acb8",
        "/operations/{id}:cancel": "/operations/20261122T210927820634Z-37aea6acb8:cancel",
        "/assets/{asset}": "/assets/app.js",
    }
    for route in routes.ROUTES:
        path = examples.get(route.path, route.path)
        for method in route.methods:
            head = method == "HEAD"
            status, body = curl(*(["-I"] if head else ["-X", method]), chain.url + path)
            if "vision" in route.tags:  # Google's shape; curl reads {id} as "id"
                if route.name.startswith("visionListOperations"):
                    expected = 200
                elif method == "POST" and route.name.startswith("visionAnnotate"):
                    expected = 400  # no requests
                elif method == "POST" and route.name.startswith("visionAsync"):
                    expected = 400
                else:
                    expected = 404  # no such operation, or no such method
                assert status == expected, (route.path, method, body)
                assert head or "NOT_FOUND" in body or status != 404, body
                continue
            if route.name in ("getResult", "getOperation", "cancelOperation"):
                assert status == 404, (route.path, method, status, body)
                assert head or ("not_found" in body and "No route" not in body), body
            elif method == "POST":
                assert status in (400, 415), (route.path, status, body)  # no body sent
            else:
                assert status == 200, (route.path, method, status, body)
    status, body = curl(chain.url + "/openapi.json")
    assert set(json.loads(body)["paths"]) == {route.path for route in routes.ROUTES}
    status, body = curl(chain.url + "/nope")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_the_body_caps_are_make_runs(chain: EmulatorStack, tmp_path: Path) -> None:
    """A batch carries more than one image's limit; a single image may not."""
    big = sized_images.write(tmp_path / "six.jpg", sized_images.hello(6_000_000))
    status, body = curl(
        "-F", f"images=@{big}", "-F", f"images=@{big}", chain.url + "/batch-extract"
    )
    assert status == 200, body
    batch = json.loads(body)
    assert (batch["count"], batch["succeeded"]) == (2, 2)
    assert "optical" in words(batch["results"][1]["text"])
    too_big = sized_images.write(tmp_path / "big.jpg", sized_images.hello(11_010_048))
    status, body = curl("-F", f"image=@{too_big}", chain.url + "/extract-text")
    assert status == 413 and json.loads(body)["error"]["code"] == "file_too_large"


def test_a_5_mb_photo_through_the_door(chain: EmulatorStack, tmp_path: Path) -> None:
    photo = sized_images.write(tmp_path / "photo.jpg", sized_images.phone_photo(5_000_000))
    status, body = curl("-X", "POST", "-F", f"image=@{photo}", chain.url + "/extract-text")
    assert status == 200, body
    assert "printer" in words(json.loads(body)["text"])


def _readme_gcloud_block() -> str:
    readme = (ROOT / "docs" / "local.md").read_text()
    block = re.search(r"<!-- example:emulators-gcloud -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "docs/local.md lost its tested gcloud example block"
    return block.group(1)


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_gcloud_storage_and_the_gsutil_shim_as_the_readme_says(chain: EmulatorStack) -> None:
    script = _readme_gcloud_block()
    # The block uses make run-emulators' default addresses; this chain has its own.
    assert "http://127.0.0.1:8080" in script and "http://127.0.0.1:4443" in script
    script = script.replace("http://127.0.0.1:8080", chain.url)
    script = script.replace("http://127.0.0.1:4443", chain.gcs_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "BOTO"))}
    done = run_bounded(script, env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "printer" in words(done.stdout)  # the photo's text, ?format=text
    for name in ("photos/phone.jpg", "scans/receipt-gsutil.png"):
        doc = wait_result(chain, name)
        assert doc["status"] == "done" and doc["object"]["bucket"] == "ocr-input"
    assert "espresso" in words(wait_result(chain, "scans/receipt-gsutil.png")["text"])
    # A private configuration: the developer's own gcloud settings were not touched.
    assert "CLOUDSDK_CONFIG=$(mktemp -d)" in script


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_gcloud_storage_cp_of_each_test_image(chain: EmulatorStack, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "BOTO"))},
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": f"{chain.gcs_url}/storage/v1/",
    }
    names = ["hello.jpg", "invoice.gif", "rotated_exif.jpg"]
    files = " ".join(str(TEST_IMAGES / n) for n in names)
    done = run_bounded(f"gcloud storage cp {files} gs://ocr-input/cli/", env)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in names:
        truth = (TEST_IMAGES / name).with_suffix(".gt.txt").read_text()
        found = words(wait_result(chain, f"cli/{name}")["text"])
        expected = words(truth)
        assert sum(w in found for w in expected) >= 0.8 * len(expected), (name, found)
