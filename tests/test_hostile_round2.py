"""Hard to break, round 2 (issue 17): scan bombs, names that collide with the service's own
documents, poisoned objects in the input folder, hostile JSON and malformed pushes.

Through the real stack (`make run`: files copied into its input folder, HTTP through its
front door) and through each function alone under functions-framework's gunicorn, as
Cloud Run runs it: the OCR function is reached straight by Pub/Sub pushes in the cloud.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import threading
import time
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from PIL import Image

from ocr_core import runtime
from ocr_core.jobs.tasks import LocalQueue, Task
from ocr_local.task_pusher import TaskPusher, drain, http_deliver, pending
from ocr_local.watcher import Watcher

from .conftest import TEST_IMAGES, finalized_body, finalized_headers, image_bytes, words
from .documents import pdf_with_image
from .hostile import bmp_with_width, jpeg_claiming, scan_bomb, tiff_holding_jpeg
from .servers import FunctionServer, LocalStack

pytestmark = pytest.mark.e2e

ENV = {"RATE_LIMIT_RPS": "0"}
JPEG = "image/jpeg"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    base = tmp_path_factory.mktemp("hostile2-stack")
    server = LocalStack(base / "data", base / "stack.log", ENV)
    server.start()
    yield server
    server.stop()
    assert not server.session_processes(), "the stack left processes behind"


@pytest.fixture(scope="module")
def ocr_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    base = tmp_path_factory.mktemp("hostile2-ocr")
    server = FunctionServer("ocr", "on_object_finalized", base / "data", base / "ocr.log", ENV)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    base = tmp_path_factory.mktemp("hostile2-upload")
    inputs = base / "data" / "ocr-input"
    inputs.mkdir(parents=True)
    shutil.copyfile(TEST_IMAGES / "hello.jpg", inputs / "hello.jpg")
    # A file no object could be named after (not UTF-8): a local folder can hold one.
    write_raw(inputs, b"latin-1-\xe9t\xe9.jpg", image_bytes("hello.jpg"))
    server = FunctionServer("upload", "extract_text", base / "data", base / "upload.log", ENV)
    server.start()
    yield server
    server.stop()


def write_raw(folder: Path, name: bytes, data: bytes) -> None:
    """A file whose name is raw bytes (not UTF-8, control characters) in ``folder``."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
        fh.write(data)


def extract(url: str, data: bytes, timeout: float = 60) -> requests.Response:
    return requests.post(
        f"{url}/extract-text", files={"image": ("x.jpg", data, JPEG)}, timeout=timeout
    )


def error_code(response: requests.Response) -> str:
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    return response.json()["error"]["code"]


# --- scan bombs and headers that lie ------------------------------------------------------


def test_a_scan_bomb_is_refused_at_once_and_never_holds_up_a_normal_image(
    stack: LocalStack,
) -> None:
    bomb = scan_bomb(20_000)
    assert len(bomb) < 1024 * 1024  # far under every size limit, 4000x4000 under the pixel one
    with ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        bombs = [pool.submit(extract, stack.url, bomb, 30) for _ in range(2)]
        time.sleep(0.2)
        normal = pool.submit(extract, stack.url, image_bytes("hello.jpg"), 30)
        answer = normal.result()
        normal_s = time.monotonic() - started
        refused = [f.result() for f in bombs]
    assert answer.status_code == 200, answer.text
    assert "hello world" in " ".join(words(answer.json()["text"]))
    for response in refused:
        assert response.status_code == 422
        assert error_code(response) == "image_too_complex"
    # Decoding one such bomb took 250 s on this machine; the normal image waited for it.
    print(f"normal image beside two scan bombs: answered in {normal_s:.2f} s")
    assert normal_s < 15, f"the normal image took {normal_s:.1f} s"

    # The background path refuses it the same way, as a failed result, and inside a PDF
    # (PDFium took 42 s to draw a page of it with 2,000 scans, holding its lock).
    (stack.input_dir / "bomb.jpg").write_bytes(bomb)
    (stack.input_dir / "bomb.pdf").write_bytes(pdf_with_image(4000, 4000, jpeg=bomb))
    for name in ("bomb.jpg", "bomb.pdf"):
        result = stack.wait_result(name, timeout_s=30)
        assert result["status"] == "failed" and result["error"]["code"] == "image_too_complex"


def test_a_scan_bomb_inside_a_tiff_is_refused_within_libtiffs_scan_cap(
    upload_client: Any,
) -> None:
    """libtiff hands a JPEG-compressed strip to libjpeg and stops at its 100th scan
    (LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER): 2,000 scans over 16 MP cost about a second,
    not the minutes of the bare JPEG, and the answer is a client error."""
    bomb = tiff_holding_jpeg(scan_bomb(2_000), 4000)
    with Image.open(io.BytesIO(bomb)) as im:  # a TIFF Pillow reads as one, not junk
        assert (im.format, im.size) == ("TIFF", (4000, 4000))
    started = time.monotonic()
    response = upload_client.post(
        "/extract-text",
        data={"image": (io.BytesIO(bomb), "bomb.tif")},
        content_type="multipart/form-data",
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "corrupt_image"
    print(f"2,000-scan JPEG inside a TIFF refused in {elapsed:.2f} s")
    assert elapsed < 10


@pytest.mark.parametrize(
    "data",
    [jpeg_claiming(29_999, 1_666), bmp_with_width(-100)],
    ids=["jpeg-header-claims-50-megapixels", "bmp-negative-width"],
)
def test_a_header_that_lies_about_the_size_is_a_corrupt_image(
    stack: LocalStack, data: bytes
) -> None:
    started = time.monotonic()
    response = extract(stack.url, data)
    assert response.status_code == 400, response.text[:300]
    assert error_code(response) == "corrupt_image"
    assert time.monotonic() - started < 10


# --- names the service keeps for itself ---------------------------------------------------


def _wait(predicate, timeout_s: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout_s} s")


def test_no_user_object_overwrites_an_operation_or_a_shard_and_none_is_served(
    stack: LocalStack,
) -> None:
    shutil.copyfile(TEST_IMAGES / "contract.pdf", stack.input_dir / "doc.pdf")
    document = stack.wait_result("doc.pdf")
    assert document["status"] == "done", document
    shard = document["shards"][0]
    started = requests.post(f"{stack.url}/operations", json={"objects": ["doc.pdf"]}, timeout=30)
    assert started.status_code == 202, started.text
    op_id = started.json()["name"].split("/", 1)[1]
    op_url = f"{stack.url}/operations/{op_id}"
    _wait(lambda: requests.get(op_url, timeout=10).json()["done"], what="operation done")
    op_file = stack.results_dir / "_operations" / f"{op_id}.json"
    shard_file = stack.results_dir / shard
    op_before, shard_before = op_file.read_bytes(), shard_file.read_bytes()

    # Images named so that their results would land on the operation and on the shard,
    # and one named like the local adapter's temporary files.
    colliding = [f"_operations/{op_id}", shard.removesuffix(".json")]
    for name in colliding:
        (stack.input_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEST_IMAGES / "hello.jpg", stack.input_dir / name)
    shutil.copyfile(TEST_IMAGES / "hello.jpg", stack.input_dir / ".ocrtmp-x.jpg")

    # A user's file may be called anything: that one is processed like any other.
    result = stack.wait_result(".ocrtmp-x.jpg")
    assert "hello world" in " ".join(words(result["text"]))
    time.sleep(2)  # the colliding ones were seen in the same scans: give them time too
    assert op_file.read_bytes() == op_before
    assert shard_file.read_bytes() == shard_before
    op = requests.get(op_url, timeout=10)
    assert op.status_code == 200 and op.json()["metadata"]["state"] == "done"
    listing = requests.get(f"{stack.url}/operations", timeout=10)
    assert listing.status_code == 200
    assert op_id in {o["name"].split("/", 1)[1] for o in listing.json()["operations"]}

    # GET /results serves results only: never an operation, an index entry or a shard,
    # and the colliding objects get an answer instead of "pending" forever.
    for name in [*colliding, f"_operations/{op_id}.json", "_operations/by-object/x"]:
        response = requests.get(f"{stack.url}/results/{name}", timeout=10)
        assert response.status_code == 400, (name, response.status_code, response.text[:300])
        assert error_code(response) == "reserved_object_name"
        assert "metadata" not in response.text and "responses" not in response.text
    refused = requests.post(
        f"{stack.url}/operations", json={"objects": [f"_operations/{op_id}"]}, timeout=10
    )
    assert refused.status_code == 400 and error_code(refused) == "reserved_object_name"


# --- poisoned objects in the input folder -------------------------------------------------


def test_poisoned_objects_never_stall_the_background_path(stack: LocalStack) -> None:
    folder = stack.input_dir / "poison"
    folder.mkdir()
    # More links than the watcher has workers: each used to hold one, retrying for an hour.
    for i in range(12):
        (folder / f"passwd-{i}.jpg").symlink_to("/etc/passwd")
    (folder / "hostname.jpg").symlink_to("/etc/hostname")
    for name in (b"control\x01char.jpg", b"new\nline.jpg", b"not-utf8-\xff.jpg"):
        write_raw(folder, name, image_bytes("hello.jpg"))
    deep = folder / "/".join(["d" * 200] * 6)  # a name of over 1,024 bytes
    deep.mkdir(parents=True)
    (deep / "long.jpg").write_bytes(image_bytes("hello.jpg"))
    doomed = folder / "deleted.jpg"
    doomed.symlink_to("/etc/hostname")
    time.sleep(1.5)  # seen by the watcher
    doomed.unlink()

    started = time.monotonic()
    shutil.copyfile(TEST_IMAGES / "hello.jpg", folder / "after.jpg")
    result = stack.wait_result("poison/after.jpg", timeout_s=30)
    assert "hello world" in " ".join(words(result["text"]))
    elapsed = time.monotonic() - started
    print(f"a normal file after the poisoned ones: result in {elapsed:.1f} s")
    assert elapsed < 20

    time.sleep(3)  # what a retry would do, it has had time to start
    for name in ("passwd-0.jpg", "hostname.jpg", "deleted.jpg"):
        response = requests.get(f"{stack.url}/results/poison/{name}", timeout=10)
        assert response.status_code == 404, response.text[:300]
        assert "root:" not in response.text
    stored = b"".join(p.read_bytes() for p in stack.results_dir.rglob("*.json"))
    assert b"root:" not in stored
    log = stack.log_path.read_text(errors="replace")
    assert "will retry" not in log
    assert '"status": 500' not in log and "Traceback" not in log


class _Recorder(BaseHTTPRequestHandler):
    """An OCR function stand-in for the watcher: records each delivery and answers 503 for
    objects named poison-*, 400 for refused-* and 200 for the rest."""

    deliveries: ClassVar[list[tuple[float, str]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = body["name"]
        self.deliveries.append((time.monotonic(), name))
        status = 503 if name.startswith("poison") else 400 if name.startswith("refused") else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_watcher_retries_wait_outside_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    settings = runtime.reload().settings
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.deliveries = []
    inputs = tmp_path / settings.input_bucket
    inputs.mkdir(parents=True)
    for i in range(4):
        (inputs / f"poison-{i}.jpg").write_bytes(b"x")
    (inputs / "refused.jpg").write_bytes(b"x")
    watcher = Watcher(
        settings, f"http://127.0.0.1:{server.server_port}", settle_s=0.1, interval_s=0.1
    )
    watcher.start()
    try:
        time.sleep(1.0)  # the poisoned ones have failed once and are waiting to be retried
        (inputs / "normal.jpg").write_bytes(b"x")
        _wait(lambda: any(n == "normal.jpg" for _, n in _Recorder.deliveries), 3, "delivery")
        _wait(lambda: _count("poison-0.jpg") >= 3, 10, "retries of a passing failure")
        for i in range(4):
            (inputs / f"poison-{i}.jpg").unlink()
        before = _count("poison-0.jpg")
        time.sleep(4)  # past the next retries' due times
        assert _count("poison-0.jpg") == before, "a deleted object was delivered again"
        assert _count("refused.jpg") == 1, "a 4xx answer was retried"
        assert watcher.pending_retries() == 0
    finally:
        watcher.stop()
        server.shutdown()
        runtime.reload()


def test_task_retries_wait_outside_the_pushers_workers(tmp_path: Path) -> None:
    folder = tmp_path / "ocr-tasks"
    queue = LocalQueue(folder)
    poisoned = [Task("plan", f"poison-{i}", 0) for i in range(4)]
    queue.publish([*poisoned, Task("plan", "refused", 0)])
    attempts: list[str] = []

    def deliver(envelope: dict) -> None:
        operation = json.loads(base64.b64decode(envelope["message"]["data"]))["operation"]
        attempts.append(operation)
        if operation.startswith("poison"):
            raise RuntimeError("the function answered 503")
        if operation == "refused":
            raise urllib.error.HTTPError("http://ocr", 400, "Bad Request", Message(), None)

    pusher = TaskPusher(folder, deliver, workers=2, interval_s=0.05, max_backoff_s=1.0)
    pusher.start()
    try:
        _wait(lambda: attempts.count("poison-0") >= 1 and "refused" in attempts, 3, "attempts")
        queue.publish([Task("plan", "normal", 0)])
        _wait(lambda: "normal" in attempts, 3, "the normal task delivered")
        _wait(lambda: attempts.count("poison-0") >= 3, 10, "retries of a passing failure")
        assert attempts.count("refused") == 1, "a 4xx answer was retried"
        # The poisoned ones wait for their retry; the rest are done.
        assert len(pending(folder)) == 4
    finally:
        pusher.stop()


def _count(name: str) -> int:
    return sum(n == name for _, n in _Recorder.deliveries)


# --- hostile JSON and malformed pushes ----------------------------------------------------


def test_hostile_json_to_post_operations_is_refused_at_once(upload_server: FunctionServer) -> None:
    url = f"{upload_server.url}/operations"
    deep = b"[" * 100_000 + b"]" * 100_000
    response = requests.post(url, data=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    nested = b'{"objects": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = requests.post(url, data=nested, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "invalid_request"

    # Every object under the prefix, and a file whose name no object can have is not one.
    response = requests.post(url, json={"prefix": ""}, timeout=30)
    assert response.status_code == 202, response.text[:300]
    names = [d["object"]["name"] for d in response.json()["metadata"]["documents"]]
    assert names == ["hello.jpg"]

    started = time.monotonic()
    big = b'{"objects": ["' + b"a" * (5 * 1024 * 1024) + b'"]}'
    response = requests.post(
        url, data=big, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 413 and error_code(response) == "file_too_large"
    assert time.monotonic() - started < 5


def _push(message: dict, subscription: bool = True) -> bytes:
    body: dict = {"message": message}
    if subscription:
        body["subscription"] = "projects/p/subscriptions/s"
    return json.dumps(body).encode()


_NOTIFICATION = base64.b64encode(json.dumps({"bucket": "ocr-input", "name": "x.jpg"}).encode())
MALFORMED_PUSHES = {
    "attributes-as-a-list": (
        _push({"data": _NOTIFICATION.decode(), "messageId": "1", "attributes": ["a", "b"]}),
        "application/json",
    ),
    "publish-time-as-a-number": (
        _push(
            {
                "data": _NOTIFICATION.decode(),
                "messageId": "2",
                "publishTime": 1733222400,
                "attributes": {"bucketId": "ocr-input", "objectId": "x.jpg"},
            }
        ),
        "application/json",
    ),
    "nested-100000-deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "data-not-base64": (_push({"data": 17, "messageId": "3"}), "application/json"),
    "structured-cloudevent-bad-specversion": (
        json.dumps(
            {
                "specversion": "0.1",
                "type": "google.cloud.storage.object.v1.finalized",
                "source": "//storage.googleapis.com/projects/_/buckets/ocr-input",
                "id": "bad-spec",
                "data": {"bucket": "ocr-input", "name": "x.jpg"},
            }
        ).encode(),
        "application/cloudevents+json",
    ),
    "not-json": (b"\x00\xffnot json", "application/json"),
    "binary-cloudevent-nested-100000-deep": (b"[" * 100_000 + b"]" * 100_000, "binary"),
    "binary-cloudevent-name-not-a-string": (b'{"bucket": "ocr-input", "name": [1]}', "binary"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_PUSHES))
def test_malformed_pushes_are_acknowledged_in_json_with_a_log_line(
    ocr_server: FunctionServer, case: str
) -> None:
    body, content_type = MALFORMED_PUSHES[case]
    before = len(ocr_server.log_path.read_bytes())
    token = "Bearer not-for-the-logs"  # what a push subscription with OIDC sends
    headers = {"Content-Type": content_type, "Authorization": token}
    if content_type == "binary":  # Eventarc's storage event, its data hostile
        headers.update(finalized_headers("ocr-input", "x.jpg"), Authorization=token)
    response = requests.post(ocr_server.url, data=body, headers=headers, timeout=30)
    # Any other answer makes Pub/Sub redeliver it, for days, to the same end.
    assert 200 <= response.status_code < 300, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    assert "<html" not in response.text.lower()
    # The one that names an object is processed (the object is absent) with its time
    # reported unreadable; the others are acknowledged without processing.
    line = "age not checked" if case == "publish-time-as-a-number" else "acknowledged"
    _wait(
        lambda: line in ocr_server.log_path.read_bytes()[before:].decode(errors="replace"),
        10,
        f"a log line saying {line!r}",
    )
    assert "not-for-the-logs" not in ocr_server.log_path.read_text(errors="replace")


def _peak_rss_mib(server: FunctionServer) -> int:
    """The highest resident memory any worker of ``server`` reached (VmHWM)."""
    peaks = []
    for pid in server.worker_pids():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) // 1024)
    return max(peaks)


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("claims-50mp.jpg", lambda: jpeg_claiming(29_999, 1_666), "corrupt_image"),
        ("huge-image.pdf", lambda: pdf_with_image(30_000, 20_000), "document_too_large"),
    ],
)
def test_decoding_that_cannot_fit_the_function_memory_is_refused_first(
    ocr_server: FunctionServer, name: str, make, code: str
) -> None:
    inputs = ocr_server.data_dir / "ocr-input"
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / name).write_bytes(make())
    shutil.copyfile(TEST_IMAGES / "hello.jpg", inputs / "warm-up.jpg")
    assert _deliver(ocr_server, "warm-up.jpg").status_code == 200  # the engine is loaded
    before = _peak_rss_mib(ocr_server)
    assert _deliver(ocr_server, name).status_code == 200
    drain(local_queue_folder_of(ocr_server), http_deliver(ocr_server.url))  # a PDF's pages
    stored = json.loads((ocr_server.data_dir / "ocr-results" / f"{name}.json").read_text())
    assert stored["status"] == "failed" and stored["error"]["code"] == code
    # On main: the JPEG decoded to grey at 732 MiB, the PDF's 600-megapixel image ~900 MiB.
    grown = _peak_rss_mib(ocr_server) - before
    print(f"{name}: worker peak {before} -> {before + grown} MiB")
    assert grown < 150, f"the worker grew by {grown} MiB"


def _deliver(server: FunctionServer, name: str) -> requests.Response:
    return requests.post(
        server.url,
        data=finalized_body("ocr-input", name, None),
        headers=finalized_headers("ocr-input", name),
        timeout=120,
    )


def local_queue_folder_of(server: FunctionServer) -> Path:
    return server.data_dir / ".queue" / "ocr-tasks"


def test_the_ocr_function_still_processes_events_after_the_malformed_ones(
    ocr_server: FunctionServer,
) -> None:
    inputs = ocr_server.data_dir / "ocr-input"
    inputs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_IMAGES / "hello.jpg", inputs / "fine.jpg")
    response = requests.post(
        ocr_server.url,
        data=finalized_body("ocr-input", "fine.jpg", None),
        headers=finalized_headers("ocr-input", "fine.jpg"),
        timeout=60,
    )
    assert response.status_code == 200
    stored = json.loads((ocr_server.data_dir / "ocr-results" / "fine.jpg.json").read_text())
    assert "hello world" in " ".join(words(stored["text"]))


def test_an_operation_document_written_over_by_hand_is_absent_not_a_500(
    upload_client, settings
) -> None:
    inputs = settings.data_dir / settings.input_bucket
    inputs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_IMAGES / "hello.jpg", inputs / "a.jpg")
    started = upload_client.post("/operations", json={"objects": ["a.jpg"]})
    assert started.status_code == 202
    op_id = started.get_json()["name"].split("/", 1)[1]
    # What an image result written over it looked like (before names were reserved).
    op_file = settings.data_dir / settings.results_bucket / "_operations" / f"{op_id}.json"
    op_file.write_text(json.dumps({"success": True, "text": "hello"}))
    response = upload_client.get(f"/operations/{op_id}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    listing = upload_client.get("/operations")
    assert listing.status_code == 200 and listing.get_json()["operations"] == []
