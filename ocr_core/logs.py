"""Structured JSON logs in the shape Cloud Logging reads (``severity``, ``message``).

A request or event id set with ``log_context`` rides along on every line logged in that
thread, so one request's lines can be found together. ``trace_fields`` turns the incoming
trace header (W3C ``traceparent``, or Google's ``X-Cloud-Trace-Context``) into Cloud
Logging's own ``logging.googleapis.com/trace`` and ``spanId`` fields, which group a
request's lines under its trace in the console (the load balancer and Cloud Run start the
trace). Never log image bytes or secrets.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None
)

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "logger": record.name,
        }
        entry.update(_context.get() or {})
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            # Tracebacks go to the log (for the operator), never into a response.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_configured = False


def setup_logging(level: str = "INFO") -> None:
    """Route the ``ocr`` loggers to stderr as JSON lines; idempotent."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("ocr")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"ocr.{name}")


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


# --- trace context -------------------------------------------------------------------------

TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"
#: W3C Trace Context: version-traceid-parentid-flags, lower-case hex.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
#: X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS, the span id in decimal.
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=([0-9]+))?$")


def project_id() -> str:
    """The project the trace ids belong to: GOOGLE_CLOUD_PROJECT (Terraform sets it; the
    name is the one Google's client libraries read), or empty when unknown."""
    return os.environ.get("GOOGLE_CLOUD_PROJECT", "").strip()


def parse_trace(headers: Mapping[str, str]) -> tuple[str, str | None, bool] | None:
    """(trace id, span id as 16 hex digits or None, sampled) from the request's headers:
    ``traceparent`` first (what the load balancer and Cloud Run propagate), then
    ``X-Cloud-Trace-Context``. A malformed or all-zero header counts as none."""
    parent = (headers.get("traceparent") or "").strip().lower()
    m = _TRACEPARENT.match(parent)
    if m and m.group(1) != "ff" and set(m.group(2)) != {"0"} and set(m.group(3)) != {"0"}:
        return m.group(2), m.group(3), bool(int(m.group(4), 16) & 1)
    cloud = (headers.get("X-Cloud-Trace-Context") or "").strip()
    m = _CLOUD_TRACE.match(cloud)
    if m and set(m.group(1)) != {"0"}:
        span = int(m.group(2)) if m.group(2) else 0
        span_hex = f"{span:016x}" if 0 < span < 2**64 else None
        return m.group(1).lower(), span_hex, m.group(3) == "1"
    return None


def trace_fields(headers: Mapping[str, str], project: str | None = None) -> dict[str, Any]:
    """Cloud Logging's trace fields for ``log_context``: ``{"logging.googleapis.com/trace":
    "projects/<project>/traces/<id>", ...spanId, trace_sampled}``; without a project (local
    runs) the id alone, as ``trace_id``; nothing without a trace header."""
    found = parse_trace(headers)
    if found is None:
        return {}
    trace_id, span_id, sampled = found
    project = project_id() if project is None else project
    if not project:
        return {"trace_id": trace_id}
    fields: dict[str, Any] = {TRACE_FIELD: f"projects/{project}/traces/{trace_id}"}
    if span_id:
        fields[SPAN_FIELD] = span_id
    fields[SAMPLED_FIELD] = sampled
    return fields
