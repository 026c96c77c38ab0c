"""The local front door: one base URL for the HTTP functions, as a load balancer gives in the
cloud. ``make run`` and ``make run-emulators`` both put it in front of their functions.

HTTP parsing and framing are uvicorn's, over h11 (strict chunk sizes, one Content-Length,
only ``chunked`` as a transfer coding, ``Expect: 100-continue`` answered when the body is
first read), and the hop to the function is httpx's. What is ours sits on top, per route of
``ocr_core.http.routes``:

* a request whose Content-Length is over its route's cap is refused with a JSON 413 before
  any ``100 Continue``, so curl never sends the body; a chunked one as soon as it passes;
* a body that stalls for ``BODY_READ_TIMEOUT_S`` is a JSON 408;
* Content-Length together with Transfer-Encoding (request smuggling), too many headers and
  anything h11 refuses are a JSON 4xx and a closed connection;
* ``X-Forwarded-For`` gets the peer appended; bodies stream up and down in pieces, never
  buffered whole, so memory stays flat whatever a client sends.

Closing after a refused body, the door stops writing but reads and discards what the client
is still sending for up to ``LINGER_S`` (nginx's lingering close): the client then reads
the answer instead of a connection reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Any

import h11
import httpx
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.http import routes
from ocr_core.logs import get_logger
from ocr_core.schema import error_body

log = get_logger("local.gateway")

#: Never forwarded: they describe this hop, not the request (RFC 9110 7.6.1). Expect is
#: answered here, by uvicorn, when the body is first read.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    }
)
#: What the functions' gunicorn takes (it refuses more with an HTML page, so the door refuses
#: first, in JSON): 100 header lines (the door adds two), 8190 bytes a header. The request
#: line it takes at any length (functions-framework's setting); the door bounds it as h11
#: bounds a request still arriving (16 KiB), above the longest object name's URL (12 KiB).
MAX_HEADERS = 96
MAX_HEADER_BYTES = 8000
MAX_TARGET_BYTES = 16 * 1024
LINGER_S = 5.0

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class _Refused(Exception):
    """The request body cannot go on: answer ``error`` (None: the client is gone)."""

    def __init__(self, error: errors.OcrError | None) -> None:
        super().__init__(error)
        self.error = error


class FrontDoorApp:
    """The ASGI application: route by ``ocr_core.http.routes``, cap, forward, relay."""

    def __init__(
        self,
        upstreams: dict[str, int],
        settings: Settings,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.upstreams = upstreams  # function name -> its port on 127.0.0.1
        self.settings = settings
        self.health = health or (lambda: {"status": "ok"})
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made in the server's loop, on its first request
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(600.0, connect=10.0, pool=None),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
            self._client.headers.clear()  # no User-Agent, Accept... of httpx's own
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            await self._handle(scope, receive, send)
        except _Refused as refused:
            if refused.error is not None:
                await _send_error(send, refused.error, close=True)
        except Exception:
            # A bug of ours: logged with its traceback, answered (if still possible) without.
            log.exception("front door error", extra={"path": scope.get("path")})
            err = errors.OcrError("Internal error in the local front door; it has been logged")
            with contextlib.suppress(RuntimeError):  # unless the answer had started
                await _send_error(send, err, close=True)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        names = [name for name, _ in headers]
        has_body = b"content-length" in names or b"transfer-encoding" in names
        if len(headers) > MAX_HEADERS:
            err = errors.InvalidRequest(
                f"The request has {len(headers)} header lines; at most {MAX_HEADERS} are read"
            )
            await _send_error(send, err, close=True, status=431, code="headers_too_large")
            return
        if any(len(name) + len(value) > MAX_HEADER_BYTES for name, value in headers):
            err = errors.InvalidRequest(f"A header is over {MAX_HEADER_BYTES} bytes")
            await _send_error(send, err, close=True, status=431, code="headers_too_large")
            return
        if len(scope["raw_path"]) + len(scope.get("query_string") or b"") > MAX_TARGET_BYTES:
            err = errors.InvalidRequest(f"The URL is over {MAX_TARGET_BYTES} bytes")
            await _send_error(send, err, close=True, status=414, code="uri_too_long")
            return
        if b"content-length" in names and b"transfer-encoding" in names:
            # Which one frames the body is where request smuggling starts (RFC 9112 6.1).
            err = errors.InvalidRequest(
                "Send Content-Length or Transfer-Encoding, not both", parameter="headers"
            )
            await _send_error(send, err, close=True)
            return
        path, method = scope["path"], scope["method"]
        if routes.match(method, path) is routes.HEALTH:
            await _send_json(send, 200, self.health(), close=has_body)
            return
        function = routes.function_for_path(path)
        port = self.upstreams.get(function or "")
        if port is None:
            err = errors.NotFound(f"No route {path!r}; POST images to /extract-text")
            await _send_error(send, err, close=has_body)
            return
        route = routes.match(method, path)
        cap = route.max_body(self.settings) if route else routes.MAX_JSON_BODY
        length = dict(headers).get(b"content-length")
        if length is not None and int(length) > cap:
            await _send_error(send, self._too_large(route, int(length), cap), close=True)
            return
        await self._forward(scope, receive, send, port, route, cap)

    def _too_large(self, route: routes.Route | None, length: int | None, cap: int) -> Any:
        """The same 413 the function itself answers for this route."""
        kind = (route.errors.get(413) or (errors.FileTooLarge,))[0] if route else None
        limit = (
            int(getattr(self.settings, route.body_limit))
            if route and route.body_limit
            else routes.MAX_JSON_BODY
        )
        size = f"is {length} bytes" if length is not None else f"is over {cap} bytes"
        return (kind or errors.FileTooLarge)(
            f"The request body {size}; the limit is {limit} bytes", limit_bytes=limit
        )

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        port: int,
        route: routes.Route | None,
        cap: int,
    ) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        # Headers the client named in Connection are this hop's too.
        connection = b",".join(v for n, v in headers if n == b"connection")
        dropped = HOP_BY_HOP | {t.strip().lower() for t in connection.split(b",") if t.strip()}
        up_headers = [(n, v) for n, v in headers if n not in dropped]
        if not any(n == b"host" for n, _ in up_headers) and scope.get("server"):
            host, server_port = scope["server"]
            up_headers.append((b"host", f"{host}:{server_port}".encode()))
        # Append, as every proxy does: the last entry is the one this door vouches for
        # (the functions trust TRUSTED_PROXY_HOPS entries from the right).
        forwarded = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for"]
        client = scope.get("client") or ("127.0.0.1", 0)
        up_headers.append((b"x-forwarded-for", ", ".join([*forwarded, client[0]]).encode()))
        up_headers.append((b"x-forwarded-proto", b"http"))
        names = {n for n, _ in headers}
        has_body = b"content-length" in names or b"transfer-encoding" in names
        state = {"done": not has_body}
        timeout = self.settings.body_read_timeout_s or None

        async def body() -> AsyncIterator[bytes]:
            received = 0
            while True:
                try:
                    message = await asyncio.wait_for(receive(), timeout)
                except TimeoutError:
                    raise _Refused(
                        errors.RequestTimeout(
                            f"The body stalled for {timeout:g} s before it was complete"
                        )
                    ) from None
                if message["type"] == "http.disconnect":
                    raise _Refused(None)
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > cap:
                    raise _Refused(self._too_large(route, None, cap))
                if chunk:
                    yield chunk
                if not message.get("more_body"):
                    state["done"] = True
                    return

        # The request target goes up byte for byte (httpcore's "target" extension): httpx
        # would normalise "/a/./b" to "/a/b", and a name's validation is the function's.
        target = scope["raw_path"]
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = self.client().build_request(
            scope["method"],
            f"http://127.0.0.1:{port}/",
            headers=up_headers,
            content=body() if has_body else None,
            extensions={"target": target},
        )
        try:
            response = await self.client().send(request, stream=True)
        except _Refused:
            raise
        except httpx.TimeoutException:
            await _send_error(
                send, errors.TransientError("The function did not answer in time"), close=True
            )
            return
        except httpx.HTTPError:
            await _send_error(
                send, errors.TransientError("The function did not answer; try again"), close=True
            )
            return
        try:
            await self._relay(response, send, close=not state["done"])
        finally:
            await response.aclose()

    async def _relay(self, response: httpx.Response, send: Send, close: bool) -> None:
        out = [(n, v) for n, v in response.headers.raw if n.lower() not in HOP_BY_HOP]
        if close:  # the function answered before the body ended: do not read the rest
            out.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        try:
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError:
            log.warning("the function's answer broke off", extra={"status": response.status_code})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _json_body(error: errors.OcrError, code: str | None = None) -> dict[str, Any]:
    body = error_body(error)
    if code:
        body["error"]["code"] = code
    return body


async def _send_error(
    send: Send,
    error: errors.OcrError,
    close: bool,
    status: int | None = None,
    code: str | None = None,
) -> None:
    status = status or (502 if isinstance(error, errors.TransientError) else error.status)
    await _send_json(send, status, _json_body(error, code), close)


async def _send_json(send: Send, status: int, body: dict[str, Any], close: bool) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


class _Connection(h11.Connection):
    """h11's connection, keeping the last protocol error to word the answer to it."""

    error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.error = exc
            raise


class _LingeringTransport:
    """The connection's transport, closing lingeringly while the request body is unread."""

    def __init__(self, transport: asyncio.Transport, protocol: FrontDoorProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        transport = self._transport
        protocol = self._protocol
        if transport.is_closing() or protocol.eof_seen or not protocol.body_unread():
            transport.close()
            return
        protocol.lingering = True
        try:
            transport.write_eof()  # after what is buffered: the answer goes out whole
            transport.resume_reading()
        except (OSError, RuntimeError):
            transport.close()
            return
        asyncio.get_running_loop().call_later(LINGER_S, transport.close)


class FrontDoorProtocol(H11Protocol):
    """uvicorn's h11 protocol, with JSON for what it refuses itself (never its text/plain
    400), a lingering close, and a bound on a request line and headers that never end."""

    header_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(h11.SERVER, self.config.h11_max_incomplete_event_size or 16384)
        self.lingering = False
        self.eof_seen = False
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._arm_header_timer()

    def body_unread(self) -> bool:
        return self.conn.their_state in (h11.SEND_BODY, h11.ERROR)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return  # a refused body, read and dropped
        super().data_received(data)

    def eof_received(self) -> bool | None:
        """The client stopped sending (a half-close). Mid-body, h11 words that as an error
        (the body ended early) and a 400 goes back; after a whole request, the answer."""
        self.eof_seen = True
        if self.lingering:
            return None  # close
        if self.conn.their_state is h11.SEND_BODY:
            self.conn.receive_data(b"")
            self.handle_events()
            return True
        if self.conn.their_state is h11.DONE and self.cycle and not self.cycle.response_complete:
            return True  # keep the connection open for the answer
        return None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.eof_seen:
            self.transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        if self.header_timeout_s:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _headers_late(self) -> None:
        # Still no whole request line and headers: nothing to answer yet, so just close.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        exc = self.conn.error
        status = 431 if exc is not None and exc.error_status_hint == 431 else 400
        # h11 words its errors with the offending bytes' repr; the client has those already.
        reason = re.sub(r":? ?bytearray\(.*", "", str(exc)) if exc is not None else msg
        log.info("malformed request refused", extra={"reason": reason[:200]})
        err = errors.InvalidRequest(f"Malformed request: {reason}"[:300])
        code = "headers_too_large" if status == 431 else None
        payload = json.dumps(_json_body(err, code)).encode()
        response = h11.Response(
            status_code=status,
            reason=HTTPStatus(status).phrase.encode(),
            headers=[
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        )
        try:
            for event in (response, h11.Data(data=payload), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:
            pass  # an answer was already under way; closing is all that is left
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application stops reading the body
            self.cycle.message_event.set()
        self.transport.close()


class FrontDoor:
    """The front door on its own thread and event loop; ``start`` returns once it listens."""

    def __init__(
        self,
        address: tuple[str, int],
        upstreams: dict[str, int],
        settings: Settings,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.app = FrontDoorApp(upstreams, settings, health)
        self.socket = socket.create_server(address, backlog=1024)
        self.server_address = self.socket.getsockname()[:2]
        protocol = type(
            "FrontDoorProtocol",
            (FrontDoorProtocol,),
            {"header_timeout_s": settings.body_read_timeout_s},
        )
        config = uvicorn.Config(
            self.app,
            http=protocol,
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # the peer is the client; X-Forwarded-For is appended to
            server_header=False,
            date_header=False,  # the functions date their answers
            ws="none",
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        # What uvicorn warns about (a malformed request) is answered and logged above.
        logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
        self._thread: threading.Thread | None = None

    def start(self) -> FrontDoor:
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="gateway", daemon=True
        )
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            self._thread.join(0.05)
        if not self.server.started:
            raise RuntimeError("the front door did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()
