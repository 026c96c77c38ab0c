"""Who may call the HTTP functions, and how often: API keys, client identity, rate limits.

These sit on top of Cloud Run's IAM (which decides who reaches the service at all):
an optional shared-secret check for callers IAM lets through, and a per-client token
bucket that keeps one client from taking every engine slot.

Client identity. ``X-Forwarded-For`` is a list that every proxy *appends* to, so only the
entries added by proxies we trust are facts; anything to their left was written by the
client and may be forged. With ``TRUSTED_PROXY_HOPS = n`` the client is the n-th entry from
the right: 1 behind the local gateway and behind Cloud Run's own front end (each appends
the address it saw), 2 behind an external Application Load Balancer in front of Cloud Run
(it appends ``<client>, <load balancer>``), 0 to ignore the header and use the peer address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict

import flask

from ocr_core import errors
from ocr_core.config import Settings

API_KEY_HEADER = "X-API-Key"
#: Where Google's client libraries put a key (``client_options={"api_key": ...}``): the
#: ``x-goog-api-key`` header, or ``?key=`` in the query as Google's REST APIs also take it.
GOOGLE_API_KEY_HEADER = "x-goog-api-key"
#: Clients remembered at once per process; the least recently seen are forgotten first.
MAX_TRACKED_CLIENTS = 10_000


def client_id(request: flask.Request, trusted_hops: int) -> str:
    """The caller's address under the trust rule above."""
    peer = request.remote_addr or "unknown"
    if trusted_hops <= 0:
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("X-Forwarded-For")).split(",")]
    hops = [h for h in hops if h]
    if len(hops) >= trusted_hops:
        return hops[-trusted_hops][:64]
    return peer


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _configured_digests(keys: tuple[str, ...]) -> list[bytes]:
    """API_KEYS entries are plain keys or ``sha256:<hex>`` of a key (no secret in the env)."""
    digests = []
    for entry in keys:
        if entry.startswith("sha256:"):
            try:
                digests.append(bytes.fromhex(entry[len("sha256:") :]))
            except ValueError:
                continue  # a malformed entry matches nothing
        else:
            digests.append(_key_digest(entry))
    return digests


def check_api_key(request: flask.Request, settings: Settings) -> None:
    """Raise Unauthorized unless API keys are off or the request carries one of them.

    Digests are compared, each with ``hmac.compare_digest`` and without stopping at the
    first match, so timing says nothing about how much of a key was right. The presented
    key is never logged or echoed.
    """
    if not settings.api_keys:
        return
    presented = (
        request.headers.get(API_KEY_HEADER)
        or request.headers.get(GOOGLE_API_KEY_HEADER)
        or request.args.get("key")
        or ""
    )
    digest = _key_digest(presented)
    matched = False
    for expected in _configured_digests(settings.api_keys):
        matched |= hmac.compare_digest(digest, expected)
    if not presented or not matched:
        raise errors.Unauthorized(
            f"Send a valid API key in the {API_KEY_HEADER} header", header=API_KEY_HEADER
        )


class RateLimiter:
    """Token bucket per client, in memory, per process.

    Each client gets ``burst`` tokens, refilled at ``rate`` per second; a request takes
    one. Per process means a service scaled to N instances allows up to N times the rate:
    a bound on abuse, not an exact quota (that would need shared state such as Redis).
    """

    def __init__(self, rate: float, burst: int, max_clients: int = MAX_TRACKED_CLIENTS) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


def rate_limit(request: flask.Request, settings: Settings, limiter: RateLimiter) -> None:
    """Raise RateLimited (429, with ``Retry-After``) when this client is over its rate."""
    if settings.rate_limit_rps <= 0:
        return
    wait = limiter.acquire(client_id(request, settings.trusted_proxy_hops))
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise errors.RateLimited(
            f"Too many requests from this client; retry in {retry_after} s",
            retry_after_s=retry_after,
        )
