"""Abuse controls on real servers: API keys, per-client rate limits (and whom the
X-Forwarded-For trust rule counts as the client), the answer cache, and logs that carry
request ids but no keys and no image bytes."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import io
import json
import time
from collections.abc import Iterator

import pytest
import requests
from PIL import Image, ImageDraw

from ocr_core import runtime
from ocr_core.http.access import RateLimiter
from ocr_local.gateway import FrontDoor

from .conftest import image_bytes, words
from .servers import FunctionServer, free_port

KEY = "k3y-" + "s3cr3t" * 6
OTHER_KEY = "second-key-0123456789"
HELLO = image_bytes("hello.jpg")


@pytest.fixture(scope="module")
def guarded_upload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    """The upload function with two API keys (one given only as its sha256) and a small
    rate limit: 3 requests at once, then 1 per second."""
    base = tmp_path_factory.mktemp("guarded")
    env = {
        "API_KEYS": f"{KEY},sha256:{hashlib.sha256(OTHER_KEY.encode()).hexdigest()}",
        "RATE_LIMIT_RPS": "1",
        "RATE_LIMIT_BURST": "3",
        "TRUSTED_PROXY_HOPS": "1",
    }
    server = FunctionServer("upload", "extract_text", base / "data", base / "server.log", env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    base = tmp_path_factory.mktemp("guarded-results")
    server = FunctionServer(
        "results", "get_result", base / "data", base / "server.log", {"API_KEYS": KEY}
    )
    server.start()
    yield server
    server.stop()


def upload(server, key: str | None = KEY, client: str = "198.51.100.1", data: bytes = HELLO):
    headers = {"X-Forwarded-For": client}
    if key is not None:
        headers["X-API-Key"] = key
    return requests.post(
        f"{server.url}/extract-text", files={"image": ("a.jpg", data)}, headers=headers, timeout=60
    )


@pytest.mark.e2e
def test_api_key_is_required_and_checked(guarded_upload, guarded_results) -> None:
    for server in (guarded_upload, guarded_results):
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200  # exempt
    for i, key in enumerate([None, "", "wrong", KEY[:-1], KEY + "x"]):
        response = upload(guarded_upload, key, client=f"203.0.113.{i}")
        assert response.status_code == 401, key
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "X-API-Key"
        assert KEY not in response.text
    assert upload(guarded_upload, KEY, client="203.0.113.50").status_code == 200
    assert upload(guarded_upload, OTHER_KEY, client="203.0.113.51").status_code == 200
    batch = requests.post(
        f"{guarded_upload.url}/batch-extract",
        files=[("images", ("a.jpg", HELLO))],
        headers={"X-Forwarded-For": "203.0.113.60"},
        timeout=60,
    )
    assert batch.status_code == 401
    # The API description and the web page stay public.
    assert requests.get(f"{guarded_upload.url}/openapi.json", timeout=10).status_code == 200
    operations = f"{guarded_upload.url}/operations"  # served by the upload function too
    assert requests.get(operations, timeout=10).status_code == 401
    assert requests.get(operations, headers={"X-API-Key": KEY}, timeout=10).status_code == 200
    url = f"{guarded_results.url}/results/nothing.png"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"X-API-Key": KEY}, timeout=10).status_code == 404


@pytest.mark.e2e
def test_rate_limit_per_client_with_retry_after(guarded_upload) -> None:
    codes = [upload(guarded_upload, client="192.0.2.7").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = upload(guarded_upload, client="192.0.2.7")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    # Another client is not affected...
    assert upload(guarded_upload, client="192.0.2.8").status_code == 200
    # ...and after Retry-After the first may go on.
    time.sleep(int(limited.headers["Retry-After"]))
    assert upload(guarded_upload, client="192.0.2.7").status_code == 200


@pytest.mark.e2e
def test_forged_forwarded_for_entries_do_not_make_new_clients(guarded_upload) -> None:
    # Only the last entry (written by the trusted proxy) counts; forged ones to its left vary.
    codes = [upload(guarded_upload, client=f"10.9.{i}.1, 192.0.2.99").status_code for i in range(5)]
    assert codes.count(429) == 2


@pytest.mark.e2e
def test_behind_the_gateway_the_client_is_the_address_it_saw(guarded_upload) -> None:
    """The local gateway appends the peer address: clients on different loopback addresses
    get their own buckets; a client forging X-Forwarded-For does not."""
    gateway = FrontDoor(
        ("127.0.0.1", free_port()), {"upload": guarded_upload.port}, runtime.current().settings
    ).start()
    try:
        url = f"http://127.0.0.1:{gateway.server_address[1]}/extract-text"

        def send(forged: str) -> int:
            return requests.post(
                url,
                files={"image": ("a.jpg", HELLO)},
                headers={"X-API-Key": KEY, "X-Forwarded-For": forged},
                timeout=60,
            ).status_code

        codes = [send(f"172.16.0.{i}") for i in range(5)]
        assert codes.count(429) == 2  # all from 127.0.0.1, whatever they claimed
    finally:
        gateway.stop()


@pytest.mark.e2e
def test_logs_carry_request_ids_but_never_keys_or_image_bytes(guarded_upload) -> None:
    response = upload(guarded_upload, KEY, client="192.0.2.200")
    request_id = response.headers["X-Request-Id"]
    upload(guarded_upload, "wrong-" + KEY, client="192.0.2.201")
    upload(guarded_upload, OTHER_KEY, client="192.0.2.202")
    time.sleep(0.3)
    log = guarded_upload.log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(entry.get("request_id") == request_id for entry in lines)
    assert all("severity" in entry and "message" in entry for entry in lines)
    assert KEY not in log and OTHER_KEY not in log
    assert base64.b64encode(HELLO[:60]).decode() not in log
    assert HELLO[200:260].hex() not in log and "JFIF" not in log


def test_identical_images_are_answered_from_the_cache(ctx) -> None:
    recognizer = ctx.recognizer
    first = recognizer.extract(HELLO)
    second = recognizer.extract(HELLO)
    assert first["cached"] is False and second["cached"] is True
    assert second["text"] == first["text"] and second["pages"] == first["pages"]
    # "eng" is the default: same key
    assert recognizer.extract(HELLO, lang="eng")["cached"] is True
    assert recognizer.cache.computed == 1


def test_concurrent_identical_requests_compute_once(ctx) -> None:
    receipt = image_bytes("receipt.png")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        docs = list(pool.map(lambda _: ctx.recognizer.extract(receipt), range(8)))
    assert ctx.recognizer.cache.computed == 1
    assert sum(not d["cached"] for d in docs) == 1
    assert all("espresso" in words(d["text"]) for d in docs)


def test_the_cache_is_bounded_by_count_and_bytes(reconfigure) -> None:
    reconfigure(CACHE_MAX_ENTRIES="3")
    recognizer = runtime.current().recognizer
    for i in range(6):
        im = Image.new("L", (200, 60), 255)
        ImageDraw.Draw(im).text((10, 10), f"image {i}", fill=0, font_size=24)
        buf = io.BytesIO()
        im.save(buf, "PNG")
        recognizer.extract(buf.getvalue())
    assert len(recognizer.cache) == 3
    settings = reconfigure(CACHE_MAX_ENTRIES="100", CACHE_MAX_BYTES="6000")
    recognizer = runtime.current().recognizer
    for name in ("hello.jpg", "receipt.png", "invoice.gif", "noisy_photo.jpg"):
        recognizer.extract(image_bytes(name))
    assert 0 < recognizer.cache.size_bytes <= settings.cache_max_bytes


def test_cache_hits_through_the_upload_function(upload_client) -> None:
    def post():
        return upload_client.post(
            "/extract-text",
            data={"image": (io.BytesIO(HELLO), "a.jpg")},
            content_type="multipart/form-data",
        ).get_json()

    assert post()["cached"] is False
    again = post()
    assert again["cached"] is True and "hello world" in " ".join(words(again["text"]))


def test_token_bucket_arithmetic() -> None:
    limiter = RateLimiter(rate=2.0, burst=3, max_clients=2)
    assert [limiter.acquire("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a", now=0.0) == pytest.approx(0.5)  # next token in 1/rate s
    assert limiter.acquire("a", now=0.5) == 0.0  # refilled one
    assert limiter.acquire("b", now=0.5) == 0.0  # another client has its own bucket
    limiter.acquire("c", now=0.5)  # a third client: the least recently seen is forgotten
    assert limiter.acquire("a", now=0.5) == 0.0  # "a" starts again with a full bucket
