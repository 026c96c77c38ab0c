"""Hostile input against real servers on loopback: the upload function alone under
functions-framework's gunicorn (as in Cloud Run, where nothing stands in front of it) and
the whole local stack behind its gateway. Every case gets a precise JSON 4xx, in bounded
time, and the server answers normally afterwards."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from .conftest import TEST_IMAGES, image_bytes, words
from .hostile import gif_with_frames, multipart, png_broken_crc, png_bytes, png_with_size
from .servers import FunctionServer, LocalStack

pytestmark = pytest.mark.e2e

BODY_TIMEOUT_S = 2
ENV = {"BODY_READ_TIMEOUT_S": str(BODY_TIMEOUT_S), "RATE_LIMIT_RPS": "0"}
MB = 1024 * 1024
SECRET = "TOP-SECRET-OUTSIDE-THE-BUCKET"


@pytest.fixture(scope="module")
def function_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    base = tmp_path_factory.mktemp("upload-fn")
    server = FunctionServer("upload", "extract_text", base / "data", base / "server.log", ENV)
    server.start()
    yield server
    server.stop()
    assert not server.session_processes(), "function server left processes behind"


@pytest.fixture(scope="module")
def results_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    base = tmp_path_factory.mktemp("results-fn")
    server = FunctionServer("results", "get_result", base / "data", base / "server.log", ENV)
    (base / "data" / "ocr-results").mkdir(parents=True)
    (base / "data" / "secret.json").write_text(json.dumps({"secret": SECRET}))
    (base / "data" / "ocr-input.json").write_text(json.dumps({"secret": SECRET}))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    base = tmp_path_factory.mktemp("hostile-stack")
    server = LocalStack(base / "data", base / "stack.log", ENV)
    server.data_dir.mkdir(parents=True)
    (server.data_dir / "secret.json").write_text(json.dumps({"secret": SECRET}))
    server.start()
    yield server
    server.stop()
    assert not server.session_processes(), "the stack left processes behind"


@pytest.fixture(params=["function", "gateway"])
def server(request: pytest.FixtureRequest) -> FunctionServer | LocalStack:
    return request.getfixturevalue("function_server" if request.param == "function" else "stack")


def post(server, body: bytes | object, content_type: str, query: str = "", **kw):
    return requests.post(
        f"{server.url}/extract-text{query}",
        data=body,
        headers={"Content-Type": content_type, **kw.pop("headers", {})},
        timeout=kw.pop("timeout", 60),
        **kw,
    )


def error_code(response) -> str:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    assert body["success"] is False and body["error"]["message"]
    assert "Traceback" not in response.text and "/work/" not in response.text
    return body["error"]["code"]


def assert_alive(server) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"


def _image_form(data: bytes, filename: str = "photo.jpg") -> tuple[bytes, str]:
    return multipart([("image", filename, data)])


def _sliver() -> bytes:
    return png_bytes(Image.new("L", (2400, 12), 255))


HELLO = image_bytes("hello.jpg")
CASES = {
    "empty body": (lambda: (b"", "multipart/form-data; boundary=x"), 400, "missing_file"),
    "not multipart": (lambda: (HELLO, "image/jpeg"), 400, "invalid_request"),
    "wrong field name": (lambda: multipart([("file", "a.jpg", HELLO)]), 400, "missing_file"),
    "two files": (
        lambda: multipart([("image", "a.jpg", HELLO), ("image", "b.jpg", HELLO)]),
        400,
        "too_many_files",
    ),
    "empty file": (lambda: _image_form(b""), 400, "empty_file"),
    "text named .jpg": (
        lambda: _image_form((TEST_IMAGES / "not_an_image.jpg").read_bytes()),
        400,
        "not_an_image",
    ),
    "pdf": (lambda: _image_form(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), 415, "unsupported_format"),
    "svg": (
        lambda: _image_form(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'),
        415,
        "unsupported_format",
    ),
    "truncated jpeg": (lambda: _image_form(HELLO[: len(HELLO) // 3]), 400, "corrupt_image"),
    "png with a broken crc": (lambda: _image_form(png_broken_crc()), 400, "corrupt_image"),
    "decompression bomb": (
        lambda: _image_form(png_with_size(25_000, 25_000)),
        413,
        "image_too_large",
    ),
    "one pixel": (lambda: _image_form(png_bytes(Image.new("L", (1, 1)))), 400, "image_too_small"),
    "extreme aspect ratio": (lambda: _image_form(_sliver()), 400, "invalid_dimensions"),
    "malformed multipart": (
        lambda: (b"--x\r\nnot a header line\r\n\r\n", "multipart/form-data; boundary=x"),
        400,
        "invalid_request",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_upload_gets_a_precise_json_error(server, case: str) -> None:
    make, status, code = CASES[case]
    body, content_type = make()
    started = time.monotonic()
    response = post(server, body, content_type)
    assert time.monotonic() - started < 10
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert_alive(server)


def test_server_still_reads_images_after_the_hostile_cases(server) -> None:
    response = post(server, *_image_form(HELLO))
    assert response.status_code == 200
    assert "optical character recognition" in " ".join(words(response.json()["text"]))


def test_gif_with_thousands_of_frames_costs_one_frame(server) -> None:
    many = gif_with_frames(5000)
    assert Image.open(io.BytesIO(many)).n_frames == 5001
    started = time.monotonic()
    response = post(server, *_image_form(many, "anim.gif"))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert "frame zero" in " ".join(words(response.json()["text"]))
    assert response.json()["image"]["format"] == "gif"
    # Decoding all 5001 frames would take seconds; only frame 0 is read.
    assert elapsed < 3, elapsed


def _raw_exchange(server, payload: bytes, half_close: bool = False) -> tuple[float, str]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return time.monotonic() - started, reply.decode("latin-1")


def _headers(length: int) -> bytes:
    return (
        b"POST /extract-text HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=" + b"hostile-boundary" + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )


def _reply_code(reply: str) -> tuple[int, str]:
    """Status and error code of the first response in ``reply``."""
    head, rest = reply.split("\r\n\r\n", 1)
    length = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1))
    body = json.loads(rest[:length])
    return int(head.split(" ", 2)[1]), body["error"]["code"]


def test_content_length_larger_than_a_stalled_body(server) -> None:
    body, _ = _image_form(HELLO)
    partial = body[: len(body) // 2]  # announce all of it, send half, then wait
    elapsed, reply = _raw_exchange(server, _headers(len(body)) + partial)
    assert _reply_code(reply) == (408, "request_timeout")
    assert BODY_TIMEOUT_S - 0.5 < elapsed < BODY_TIMEOUT_S + 5
    assert_alive(server)


def test_batch_endpoint_bounds_a_stalled_body_too(function_server) -> None:
    body, _ = multipart([("images", "a.jpg", HELLO), ("images", "b.jpg", HELLO)])
    head = _headers(len(body)).replace(b"/extract-text", b"/batch-extract")
    elapsed, reply = _raw_exchange(function_server, head + body[: len(body) // 2])
    assert _reply_code(reply) == (408, "request_timeout")
    assert elapsed < BODY_TIMEOUT_S + 5
    assert_alive(function_server)


def test_content_length_larger_than_a_body_that_ends(server) -> None:
    body, _ = _image_form(HELLO)
    elapsed, reply = _raw_exchange(
        server, _headers(len(body) + 5000) + body[:-100], half_close=True
    )
    assert _reply_code(reply) == (400, "invalid_request")
    assert elapsed < 5
    assert_alive(server)


def test_content_length_smaller_than_the_body(server) -> None:
    body, _ = _image_form(HELLO)
    elapsed, reply = _raw_exchange(server, _headers(len(body) - 500) + body)
    assert _reply_code(reply) == (400, "invalid_request")
    assert elapsed < 5
    assert_alive(server)


class Zeros:
    """A 200 MB body produced 1 MiB at a time by a generator; ``len`` makes requests send
    it with a Content-Length instead of chunked."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        head = b'--hostile-boundary\r\nContent-Disposition: form-data; name="image"; '
        head += b'filename="big.jpg"\r\n\r\n\xff\xd8\xff'
        yield head
        sent = len(head)
        block = b"\0" * MB
        while sent < self.size:
            piece = block[: self.size - sent]
            sent += len(piece)
            yield piece


def _chunked_zeros(size: int) -> Iterator[bytes]:
    """The same bytes from a bare generator: no length, so requests sends it chunked."""
    yield from Zeros(size)


def _rss_kib(server) -> int:
    return sum(server.rss_kib(pid) for pid in server.session_processes())


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_200_mb_body_is_refused_early_and_never_buffered(server, framing: str) -> None:
    size = 200 * MB
    before = _rss_kib(server)
    body = Zeros(size) if framing == "content-length" else _chunked_zeros(size)
    started = time.monotonic()
    response = post(server, body, "multipart/form-data; boundary=hostile-boundary", timeout=60)
    elapsed = time.monotonic() - started
    after = _rss_kib(server)
    print(f"200 MB {framing}: {elapsed:.2f} s, RSS {before} -> {after} KiB")
    assert response.status_code == 413, response.text
    assert error_code(response) == "file_too_large"
    assert elapsed < 10, elapsed
    # Buffering the body would grow the servers by ~200 MB; allow normal jitter.
    assert after - before < 40 * 1024, (before, after)
    assert_alive(server)


def test_non_utf8_file_name_is_a_clear_400(server) -> None:
    # RFC 7578: part headers are UTF-8. The image is refused with a reason, never stored.
    response = post(server, *multipart([("image", b"\xff\xfe\xc3(scan.jpg", HELLO)]))
    assert response.status_code == 400
    assert error_code(response) == "invalid_request"
    assert "UTF-8" in response.json()["error"]["message"]
    assert_alive(server)


NASTY_FILENAMES = [
    b"../../../../etc/passwd.jpg",
    b"..\\..\\windows\\win.ini.jpg",
    b"/absolute/path/photo.jpg",
    b"%2e%2e%2f%2e%2e%2fescape.jpg",
    "C:\\Users\\\u00e9t\u00e9\\r\u00e9sum\u00e9 \u2603.jpg".encode(),
    b"a" * 3000 + b".jpg",
]
SAFE_NAME = re.compile(r"^uploads/\d{4}/\d\d/\d\d/[0-9a-f]{16}(-[A-Za-z0-9._-]{1,60})?\.jpeg$")


@pytest.mark.parametrize("filename", NASTY_FILENAMES, ids=range(len(NASTY_FILENAMES)))
def test_file_names_never_choose_where_an_upload_lands(server, filename: bytes) -> None:
    response = post(server, *multipart([("image", filename, HELLO)]), query="?mode=async")
    assert response.status_code == 202, response.text
    name = response.json()["object"]
    assert SAFE_NAME.match(name), name
    stored = server.data_dir / "ocr-input" / name
    assert stored.read_bytes() == HELLO
    strays = [
        p
        for p in server.data_dir.rglob("*")
        if p.is_file()
        and not p.is_relative_to(server.data_dir / "ocr-input" / "uploads")
        and not p.is_relative_to(server.data_dir / "ocr-results")
        and p.name not in ("secret.json", ".ocr-input.lock", ".ocr-results.lock")
    ]
    assert not strays, strays


TRICKY_PATHS = [
    ("/results/%2e%2e/secret", 400),
    ("/results/%2E%2E%2Fsecret", 400),
    ("/results/..%2fsecret", 400),
    ("/results/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400),
    ("/results/%252e%252e/secret", 404),  # double-encoded: a strange but harmless name
    ("/results/%252e%252e%252fsecret", 404),
    ("/results/a%5c..%5c..%5csecret", 400),
    ("/results/..\\secret", 400),
    ("/results/%2fetc%2fpasswd", 400),
    ("/results//etc/passwd", 400),
    ("/results/ok/./x.png", 400),
    ("/results/a%00b.png", 400),
    # No route matches a decoded line break: a JSON 404 from the framework's router.
    ("/results/a%0d%0aSet-Cookie:%20x=1", 404),
    ("/results/" + "a" * 1025, 400),
    ("/results/%c0%ae%c0%ae/secret", 404),  # overlong UTF-8 dots: not dots
    ("/results/.well-known/acme-challenge/x", 400),
]


@pytest.mark.parametrize("path, status", TRICKY_PATHS)
@pytest.mark.parametrize("target", ["results_server", "stack"])
def test_object_names_from_urls_never_leave_the_bucket(
    request: pytest.FixtureRequest, target: str, path: str, status: int
) -> None:
    server = request.getfixturevalue(target)
    # http.client sends the path exactly as written: no client-side normalisation.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        conn.close()
    assert SECRET not in text
    assert response.status == status, text
    expected = "invalid_object_name" if status == 400 else "not_found"
    assert json.loads(text)["error"]["code"] == expected
    assert_alive(server)


def test_nothing_outside_the_buckets_was_touched(stack: LocalStack) -> None:
    assert json.loads((stack.data_dir / "secret.json").read_text())["secret"] == SECRET
    assert not any(Path(stack.data_dir).parent.glob("*.json"))
