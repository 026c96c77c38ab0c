"""Cloud Logging groups a request's lines by ``logging.googleapis.com/trace``: the HTTP
functions take it (and ``spanId``) from the incoming ``traceparent`` or
``X-Cloud-Trace-Context``, on every line of the request, through functions-framework."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ocr_core.logs import (
    SAMPLED_FIELD,
    SPAN_FIELD,
    TRACE_FIELD,
    JsonFormatter,
    setup_logging,
    trace_fields,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
            {
                TRACE_FIELD: f"projects/p1/traces/{TRACE}",
                SPAN_FIELD: "00f067aa0ba902b7",
                SAMPLED_FIELD: True,
            },
        ),
        (  # decimal span id, as Google's header carries it: 16 hex digits in the log
            {"X-Cloud-Trace-Context": f"{TRACE.upper()}/12345;o=0"},
            {
                TRACE_FIELD: f"projects/p1/traces/{TRACE}",
                SPAN_FIELD: f"{12345:016x}",
                SAMPLED_FIELD: False,
            },
        ),
        (
            {"X-Cloud-Trace-Context": TRACE},
            {TRACE_FIELD: f"projects/p1/traces/{TRACE}", SAMPLED_FIELD: False},
        ),
        (  # traceparent wins over the older header
            {
                "traceparent": f"00-{TRACE}-00f067aa0ba902b7-00",
                "X-Cloud-Trace-Context": f"{'1' * 32}/1;o=1",
            },
            {
                TRACE_FIELD: f"projects/p1/traces/{TRACE}",
                SPAN_FIELD: "00f067aa0ba902b7",
                SAMPLED_FIELD: False,
            },
        ),
        ({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, {}),  # invalid: all zero
        ({"traceparent": f"ff-{TRACE}-00f067aa0ba902b7-01"}, {}),  # forbidden version
        ({"traceparent": "junk", "X-Cloud-Trace-Context": "../../etc"}, {}),
        (
            {"X-Cloud-Trace-Context": f"{TRACE}/{2**64}"},
            {  # span out of range: no span
                TRACE_FIELD: f"projects/p1/traces/{TRACE}",
                SAMPLED_FIELD: False,
            },
        ),
        ({}, {}),
    ],
)
def test_trace_fields_from_headers(headers: dict[str, str], expected: dict) -> None:
    assert trace_fields(headers, project="p1") == expected


def test_without_a_project_the_trace_id_is_logged_alone() -> None:
    headers = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    assert trace_fields(headers, project="") == {"trace_id": TRACE}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    setup_logging()  # first, or it would replace the handler added here
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("ocr")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_every_line_of_a_request_carries_its_trace(upload_client, log_lines, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "ocr-project")
    response = upload_client.get(
        "/healthz", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    )
    assert response.status_code == 200
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line]
    request_lines = [line for line in lines if line.get("message") == "request"]
    assert request_lines, lines
    for line in request_lines:
        assert line[TRACE_FIELD] == f"projects/ocr-project/traces/{TRACE}"
        assert line[SPAN_FIELD] == "00f067aa0ba902b7"
        assert line[SAMPLED_FIELD] is True
        assert line["httpRequest"]["requestUrl"] == "/healthz"
    # A request without a trace header logs no trace field (nothing made up).
    log_lines.truncate(0)
    log_lines.seek(0)
    assert upload_client.get("/healthz").status_code == 200
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line]
    assert lines and not any(TRACE_FIELD in line for line in lines)
