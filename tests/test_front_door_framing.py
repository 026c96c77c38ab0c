"""The front door (`make run`) against hand-framed requests on raw sockets.

Every malformed or ambiguous framing gets a JSON 4xx and a closed connection; nothing hidden
in a body is ever answered as a request of its own; the door's memory stays flat while a
client streams junk at it; nothing is logged with a traceback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .servers import LocalStack

pytestmark = pytest.mark.e2e

#: A well-formed request smuggled after the end of an outer one.
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
FORM = b"multipart/form-data; boundary=b"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    base = tmp_path_factory.mktemp("framing-stack")
    # A short stall bound, so that the stall test takes seconds, not the default 30.
    local = LocalStack(base / "data", base / "stack.log", env={"BODY_READ_TIMEOUT_S": "3"})
    local.start()
    yield local
    local.stop()


@pytest.fixture(autouse=True)
def no_traceback_logged(stack: LocalStack) -> Iterator[None]:
    """Whatever a client sends, the stack's log never gets a traceback from it."""
    start = stack.log_path.stat().st_size
    yield
    with stack.log_path.open("rb") as log:
        log.seek(start)
        new = log.read().decode(errors="replace")
    assert "Traceback" not in new, new[-3000:]


def front_door_rss_kib(stack: LocalStack) -> int:
    for pid in stack.session_processes():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"ocr_local" in cmdline:
            return stack.rss_kib(pid)
    raise AssertionError("no front door process")


def send_and_read(stack: LocalStack, raw: bytes, timeout_s: float = 10) -> bytes:
    """Send ``raw`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=timeout_s) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):  # a timeout here: the connection was left open
            reply += chunk
    return reply


def exchange(stack: LocalStack, raw: bytes, timeout_s: float = 10) -> tuple[list[str], float]:
    """Send ``raw``, read until the server closes; the responses seen and the seconds taken."""
    started = time.monotonic()
    reply = send_and_read(stack, raw, timeout_s)
    return responses(reply.decode("latin-1")), time.monotonic() - started


def read_while_flooding(sock: socket.socket, flood: Callable[[], None]) -> bytes:
    """Run ``flood`` on a thread of its own while reading the answer until the door closes
    the connection (a reset counts as closed); the socket is closed after."""
    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    reply = b""
    try:
        while chunk := sock.recv(65536):
            reply += chunk
    except ConnectionResetError:
        pass
    sender.join(30)
    sock.close()
    return reply


def responses(reply: str) -> list[str]:
    """The status lines of every response in ``reply`` (a smuggled one would be a second)."""
    return [line for line in reply.split("\r\n") if line.startswith("HTTP/1.")]


def json_error(reply: bytes | str) -> tuple[int, str]:
    text = reply.decode("latin-1") if isinstance(reply, bytes) else reply
    head, _, body = text.partition("\r\n\r\n")
    assert "content-type: application/json" in head.lower(), text[:500]
    assert "Traceback" not in body
    return int(head.split(" ", 2)[1]), json.loads(body[: body.rindex("}") + 1])["error"]["code"]


def chunked(te: bytes, size_line: bytes) -> bytes:
    return (
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Transfer-Encoding: " + te + b"\r\n\r\n" + size_line + b"\r\n" + b"A" * 16 + b"\r\n"
        b"0\r\n\r\n" + SMUGGLED
    )


@pytest.mark.parametrize(
    "raw",
    [
        chunked(b"chunked", b"0x10"),
        chunked(b"chunked", b"1_0"),
        chunked(b"chunked", b"-1"),
        chunked(b"chunked", b"+10"),
        chunked(b"xchunked", b"10"),
        chunked(b"chunked, chunked", b"10"),
        # Content-Length and Transfer-Encoding: which frames the body? Refused outright.
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + SMUGGLED,
        # Two Content-Lengths that disagree.
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 37\r\n"
        b"\r\n" + SMUGGLED,
        "POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Length: ²\r\n\r\n".encode() + SMUGGLED,
        # The same superscript two as one Latin-1 byte: str.isdigit() says yes, int() no.
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n" + SMUGGLED,
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + SMUGGLED,
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n" + SMUGGLED,
    ],
    ids=[
        "size-0x10",
        "size-1_0",
        "size-minus-1",
        "size-plus",
        "te-xchunked",
        "te-twice",
        "cl-then-te",
        "te-then-cl",
        "cl-conflict",
        "cl-superscript-two",
        "cl-superscript-two-latin1",
        "cl-negative",
        "cl-float",
    ],
)
def test_ambiguous_framing_is_a_json_400_and_nothing_smuggled_is_answered(
    stack: LocalStack, raw: bytes
) -> None:
    reply = send_and_read(stack, raw)
    seen = responses(reply.decode("latin-1"))
    assert len(seen) == 1, seen  # the request hidden in the body was not answered
    assert json_error(reply) == (400, "invalid_request")


def test_too_many_headers_is_a_json_431(stack: LocalStack) -> None:
    headers = b"".join(b"X-H-%d: v\r\n" % i for i in range(150))
    seen, _ = exchange(stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert len(seen) == 1 and seen[0].startswith("HTTP/1.1 431"), seen


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET /results/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /results/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000, 431),
        (b"GET /results/" + b"a" * 17_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ],
    ids=["header-9KB", "header-70KB-unfinished", "url-17KB"],
)
def test_what_the_functions_server_would_refuse_in_html_is_refused_in_json(
    stack: LocalStack, raw: bytes, expected: int
) -> None:
    reply = send_and_read(stack, raw)
    found = json_error(reply)
    # A long URL read in one piece is the door's 414; in several, h11's 431 as it grows.
    allowed = {(431, "headers_too_large")}
    if expected == 414:
        allowed.add((414, "uri_too_long"))
    assert found in allowed, found


def test_a_bad_chunk_size_in_a_gigabyte_stream_keeps_memory_flat(stack: LocalStack) -> None:
    """Chunk size -1 once meant "read to the end of the stream": 1 GB in, 1 GB of memory."""
    before = front_door_rss_kib(stack)
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    sock.sendall(
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n-1\r\n"
    )
    sent = [0]

    def flood() -> None:
        junk = b"x" * (1 << 20)
        try:
            while sent[0] < 256 << 20:
                sock.sendall(junk)
                sent[0] += len(junk)
        except OSError:
            pass  # the door closed the connection: what it should do

    reply = read_while_flooding(sock, flood)
    assert json_error(reply) == (400, "invalid_request")
    grown_mib = (front_door_rss_kib(stack) - before) / 1024
    assert grown_mib < 20, f"the front door grew by {grown_mib:.0f} MiB ({sent[0] >> 20} MiB sent)"


def test_a_chunked_body_past_the_cap_is_a_413_as_it_passes(stack: LocalStack) -> None:
    before = front_door_rss_kib(stack)
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    sock.sendall(
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    part = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
    sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    piece = b"%x\r\n%s\r\n" % (1 << 20, b"y" * (1 << 20))

    def flood() -> None:
        try:
            for _ in range(200):
                sock.sendall(piece)
        except OSError:
            pass

    reply = read_while_flooding(sock, flood)
    assert json_error(reply) == (413, "file_too_large")
    assert (front_door_rss_kib(stack) - before) / 1024 < 40


def test_expect_100_continue_gets_its_go_ahead_or_an_early_final_answer(
    stack: LocalStack,
) -> None:
    head = (
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n"
    )
    # Over the cap: the final 413 comes at once, and no 100 Continue before it.
    reply = send_and_read(stack, head % (50 << 20))
    assert not reply.startswith(b"HTTP/1.1 100"), reply[:200]
    assert json_error(reply) == (413, "file_too_large")
    # Within it: 100 Continue, then the answer to the body sent after it.
    body = b"--b\r\nContent-Disposition: form-data; name=other\r\n\r\nx\r\n--b--\r\n"
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(head % len(body))
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim[:200]
        sock.sendall(body)
        reply = interim.split(b"\r\n\r\n", 1)[1]
        while b"}" not in reply:
            reply += sock.recv(65536)
    assert json_error(reply) == (400, "missing_file")


def test_a_stalled_body_is_a_408(stack: LocalStack) -> None:
    raw = (
        b"POST /extract-text HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nabc"
    )
    reply = send_and_read(stack, raw, timeout_s=60)
    status, code = json_error(reply)
    assert (status, code) == (408, "request_timeout")


def test_the_door_still_serves_after_all_this(stack: LocalStack) -> None:
    seen, _ = exchange(stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert seen == ["HTTP/1.1 200 OK"]
