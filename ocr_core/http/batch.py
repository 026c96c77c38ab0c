"""``POST /batch-extract``: several images in one request, OCRed side by side.

Every file in the multipart field ``images`` becomes one item of the answer, in upload
order, each with its own result document or its own error: one bad file never fails the
others. Items run in parallel on as many threads as the engine has instances (one per core
by default), so a batch costs about what its slowest share of the cores costs. The batch as
a whole is refused only for what concerns it as a whole: not multipart, no file, more files
than ``MAX_BATCH_ITEMS``, or a body over ``MAX_BATCH_BYTES`` (checked from Content-Length
before reading, and while reading when the body is chunked).
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import flask
from werkzeug.exceptions import RequestEntityTooLarge

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.http.context import HttpContext
from ocr_core.http.forms import MAX_FORM_PARTS, MULTIPART_OVERHEAD, files_in, parse_form
from ocr_core.http.guard import json_response
from ocr_core.logs import get_logger
from ocr_core.recognition.extract import Recognizer
from ocr_core.schema import BatchResponse, failed_document

FIELD = "images"

log = get_logger("batch")


def batch_extract(request: flask.Request, ctx: HttpContext, *, lang: str | None) -> flask.Response:
    settings = ctx.settings
    started = time.perf_counter()
    uploads = _read_items(request, settings)
    workers = max(1, min(len(uploads), settings.engine_pool_size))
    # Each thread runs in a copy of this request's context so its log lines keep the id.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch") as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, _one, ctx.recognizer, data, lang)
            for _, data in uploads
        ]
        outcomes = [future.result() for future in futures]
    results = []
    for index, ((filename, _), outcome) in enumerate(zip(uploads, outcomes, strict=True)):
        results.append({"index": index, "filename": filename, **outcome})
    succeeded = sum(1 for item in results if item["success"])
    elapsed_ms = (time.perf_counter() - started) * 1000
    return json_response(
        BatchResponse(
            success=True,
            count=len(results),
            succeeded=succeeded,
            failed=len(results) - succeeded,
            parallelism=workers,
            processing_time_ms=round(elapsed_ms, 1),
            items_processing_time_ms=round(
                sum(float(item.get("processing_time_ms", 0)) for item in results), 1
            ),
            results=results,
        ).to_dict()
    )


def _one(recognizer: Recognizer, data: bytes | errors.OcrError, lang: str | None) -> dict[str, Any]:
    """One item's outcome: its result document, or its error in the same envelope."""
    started = time.perf_counter()
    try:
        if isinstance(data, errors.OcrError):
            raise data
        return {"http_status": 200, **recognizer.extract(data, lang=lang)}
    except errors.OcrError as exc:
        error = exc
    except Exception:
        # A bug on one file must not cost the other files their results; the trace is logged.
        log.exception("unhandled error in a batch item")
        error = errors.OcrError("Internal error on this file; it has been logged")
    elapsed_ms = (time.perf_counter() - started) * 1000
    # The same shape as a stored failed result, so clients read one schema everywhere.
    return {"http_status": error.status, **failed_document(error, processing_time_ms=elapsed_ms)}


def _read_items(
    request: flask.Request, settings: Settings
) -> list[tuple[str | None, bytes | errors.OcrError]]:
    """(client file name, bytes or the item's own error) per file, in upload order."""
    total_limit = settings.max_batch_bytes
    max_items = settings.max_batch_items
    length = request.content_length
    if length is not None and length > total_limit + MULTIPART_OVERHEAD:
        raise errors.BatchTooLarge(
            f"The request body is {length} bytes; a batch may carry {total_limit} bytes",
            limit_bytes=total_limit,
        )
    if request.mimetype != "multipart/form-data":
        raise errors.InvalidRequest(
            f"Send the images as multipart/form-data, one file per field named {FIELD!r} "
            f'(curl -F "{FIELD}=@a.jpg" -F "{FIELD}=@b.png"); '
            f"got Content-Type {request.mimetype or 'none'!r}"
        )
    request.max_content_length = total_limit + MULTIPART_OVERHEAD
    request.max_form_parts = max_items + MAX_FORM_PARTS
    try:
        files = parse_form(request, settings)  # strict, limits and a read timeout while reading
    except RequestEntityTooLarge:
        if length is not None:  # the size was checked above: too many parts it is
            raise errors.TooManyFiles(
                f"A batch holds at most {max_items} files", limit=max_items, field=FIELD
            ) from None
        raise errors.BatchTooLarge(
            f"The request body is larger than the {total_limit}-byte batch limit",
            limit_bytes=total_limit,
        ) from None
    uploads = files_in(files, FIELD)
    if len(uploads) > max_items:
        raise errors.TooManyFiles(
            f"A batch holds at most {max_items} files; got {len(uploads)}",
            limit=max_items,
            field=FIELD,
        )
    limit = settings.max_upload_bytes
    items: list[tuple[str | None, bytes | errors.OcrError]] = []
    total = 0
    for upload in uploads:
        data = upload.stream.read(limit + 1)
        total += len(data)
        item: bytes | errors.OcrError = data
        if len(data) > limit:
            item = errors.FileTooLarge(
                f"The file is larger than the {limit}-byte limit", limit_bytes=limit
            )
        elif not data:
            item = errors.EmptyFile("The file is empty")
        items.append((upload.filename or None, item))
    if total > total_limit:  # the body check above allows for multipart overhead; this is exact
        raise errors.BatchTooLarge(
            f"The files add up to {total} bytes; a batch may carry {total_limit} bytes",
            limit_bytes=total_limit,
        )
    return items
