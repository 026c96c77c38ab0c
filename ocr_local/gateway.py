"""The local front door: one base URL for the HTTP functions, as a load balancer gives in the cloud.

Routes ``/extract-text``, ``/batch-extract``, the web page (``/``), ``/docs``,
``/openapi.json`` and ``/assets/...`` to the upload function and ``/results/...`` to the
results function. Request bodies are streamed up in 64 KiB pieces, never buffered whole; like
Cloud Run's front end it caps them, so a 1 GB upload is refused from its Content-Length
alone (or, when chunked, as soon as it passes the cap).
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ocr_core import errors
from ocr_core.results import error_body

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
CHUNK = 64 * 1024
#: After refusing a body, how long to keep reading and discarding it so that the client,
#: still sending, gets to read the answer instead of a connection reset (nginx's
#: lingering close). Bounded in time; nothing is kept.
LINGER_S = 5.0


class _ShortBody(Exception):
    """The client's body ended before what it announced, or is not valid chunked coding."""


class Gateway(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: socketserver's default listen backlog is 5: a burst of new clients overflows it and
    #: the kernel drops or resets their connections. A front door needs room.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        routes: dict[str, int],
        max_body: int,
        health: Any = None,
        body_timeout_s: float = 30.0,
    ) -> None:
        self.routes = routes  # path prefix -> upstream port on 127.0.0.1
        self.max_body = max_body
        self.body_timeout_s = body_timeout_s or None
        self.health = health or (lambda: {"status": "ok"})
        super().__init__(address, _Handler)

    def upstream_for(self, path: str) -> int | None:
        for prefix, port in self.routes.items():
            if prefix == "/":  # the root page only, not everything under it
                if path == "/":
                    return port
            elif path == prefix.rstrip("/") or path.startswith(prefix):
                return port
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle's algorithm on, the second
    # waits for the peer's delayed ACK (~40 ms a request on Linux loopback).
    disable_nagle_algorithm = True
    server: Gateway
    server_version = "ocr-local-gateway"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the functions log every request themselves, as JSON

    def setup(self) -> None:
        self.timeout = self.server.body_timeout_s  # a stalled body cannot hold a thread
        super().setup()

    def _send_json(self, status: int, body: dict[str, Any], close: bool = False) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if close and self._has_body():
            self._linger()

    def _linger(self) -> None:
        """Discard the rest of a refused body for up to LINGER_S, then let the socket close."""
        sock = self.connection
        deadline = time.monotonic() + LINGER_S
        try:
            self.wfile.flush()
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(0.5)
            while time.monotonic() < deadline and sock.recv(CHUNK):
                pass
        except OSError:
            pass

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send_json(200, self.server.health())
            return
        if path == "/" and "/" not in self.server.routes:
            self._send_json(
                200,
                {
                    "service": "ocr-pipeline (local)",
                    "routes": {
                        "POST /extract-text": "OCR an image now (multipart field 'image'); "
                        "?mode=async stores it for background OCR",
                        "GET /results/<object name>": "the result document of an object",
                        "POST /operations": "start a batch over objects or a prefix "
                        '({"objects": [...]} or {"prefix": "..."})',
                        "GET /operations[/<id>]": "list operations, or one with its progress",
                        "POST /operations/<id>:cancel": "cancel an operation",
                    },
                },
            )
            return
        port = self.server.upstream_for(path)
        if port is None:
            self._send_json(
                404, error_body(errors.NotFound(f"No route {path!r}")), close=self._has_body()
            )
            return
        length = self.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > self.server.max_body):
            err = (
                errors.FileTooLarge(
                    f"The request body is {length} bytes; the limit is {self.server.max_body}",
                    limit_bytes=self.server.max_body,
                )
                if length.isdigit()
                else errors.InvalidRequest("Content-Length is not a number")
            )
            self._send_json(err.status, error_body(err), close=True)
            return
        self._proxy(port)

    def _has_body(self) -> bool:
        return bool(
            self.headers.get("Content-Length", "0") not in ("", "0")
            or self.headers.get("Transfer-Encoding")
        )

    def _proxy(self, port: int) -> None:
        upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            upstream.connect()
            # The same for the hop to the function: headers, then the body, then its end.
            upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP and key.lower() != "x-forwarded-for":
                    upstream.putheader(key, value)
            # Append, as every proxy does: the last entry is the one this gateway vouches
            # for (the functions trust TRUSTED_PROXY_HOPS entries from the right).
            forwarded = [*self.headers.get_all("X-Forwarded-For", []), self.client_address[0]]
            upstream.putheader("X-Forwarded-For", ", ".join(forwarded))
            upstream.putheader("X-Forwarded-Proto", "http")
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            length = int(self.headers.get("Content-Length") or 0)
            if chunked:
                upstream.putheader("Transfer-Encoding", "chunked")
            elif length or self.headers.get("Content-Length") is not None:
                upstream.putheader("Content-Length", str(length))
            upstream.endheaders()
            complete = self._forward_body(upstream, length, chunked)
            if complete is None:
                err = errors.FileTooLarge(
                    f"The request body is larger than {self.server.max_body} bytes",
                    limit_bytes=self.server.max_body,
                )
                self._send_json(err.status, error_body(err), close=True)
                return
            response = upstream.getresponse()
            self._relay(response, complete)
        except _ShortBody as exc:
            self._try_send(400, error_body(errors.InvalidRequest(str(exc))))
        except TimeoutError:
            # Our socket's timeout (a client that stopped sending) or the function's.
            err = errors.RequestTimeout("The request body or the function timed out")
            self._try_send(err.status, error_body(err))
        except (ConnectionError, http.client.HTTPException):
            err = errors.TransientError("The function did not answer; try again")
            self._try_send(502, error_body(err))
        finally:
            upstream.close()

    def _try_send(self, status: int, body: dict[str, Any]) -> None:
        if self.wfile.closed:
            return
        try:
            self._send_json(status, body, close=True)
        except OSError:
            self.close_connection = True

    def _forward_body(
        self, upstream: http.client.HTTPConnection, length: int, chunked: bool
    ) -> bool | None:
        """Stream the request body up: True when sent whole, False when the upstream
        answered before the end, None when a chunked body passed the cap."""
        sock = upstream.sock
        sent = 0

        def early_answer() -> bool:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable)

        if chunked:
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise _ShortBody("The chunked body ended without its last chunk")
                try:
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise _ShortBody("Malformed chunk size in the chunked body") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    upstream.send(b"0\r\n\r\n")
                    return True
                sent += size
                if sent > self.server.max_body:
                    return None
                if early_answer():
                    return False
                data = self.rfile.read(size)
                self.rfile.readline(16)
                upstream.send(b"%x\r\n%s\r\n" % (len(data), data))
        while sent < length:
            if early_answer():
                return False
            data = self.rfile.read(min(CHUNK, length - sent))
            if not data:
                raise _ShortBody(f"The body ended after {sent} of its {length} bytes")
            upstream.send(data)
            sent += len(data)
        return True

    def _relay(self, response: http.client.HTTPResponse, complete: bool) -> None:
        close = not complete
        body = response.read()
        self.send_response_only(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if close or response.getheader("Connection", "").lower() == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if not complete:
            self._linger()  # the function answered before the body ended

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _route

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) goes up too: the function answers 405 in
        # JSON, where http.server would send a 501 HTML page.
        if name.startswith("do_"):
            return self._route
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests http.server rejects itself get JSON too, never its HTML page."""
        if self.request_version == "HTTP/0.9":  # an unparsable request line: answer with headers
            self.request_version = "HTTP/1.0"
        err = errors.InvalidRequest(message or "Malformed request")
        body = error_body(err)
        body["error"]["code"] = {414: "uri_too_long", 431: "headers_too_large"}.get(
            code, "invalid_request"
        )
        self._send_json(code, body, close=True)
