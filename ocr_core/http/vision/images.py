"""``POST /v1/images:annotate``: up to 16 images, each answered on its own.

Every ``AnnotateImageRequest`` becomes one ``AnnotateImageResponse``, in order: its
annotations, or its ``error`` (a ``google.rpc.Status``) when that image is unreadable, too
large, in a foreign bucket or asks for a feature not served here. Only what concerns the
request as a whole (not JSON, no requests, more than 16) fails it. Images run side by side
on the engine's threads, through the same ``Recognizer.extract`` (and answer cache) as
``POST /extract-text``.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ocr_core import errors
from ocr_core.http.context import HttpContext
from ocr_core.http.vision import sources
from ocr_core.logs import get_logger
from ocr_core.recognition import vision_wire
from ocr_core.recognition.vision_messages import MAX_IMAGES

log = get_logger("vision.images")


def request_list(body: dict[str, Any], limit: int, what: str) -> list[Any]:
    requests = sources.field(body, "requests", list, "request", [])
    if not requests:
        raise errors.InvalidRequest("requests is required: send at least one request")
    if len(requests) > limit:
        raise errors.InvalidRequest(
            f"At most {limit} {what} are allowed per request; got {len(requests)}",
            limit=limit,
        )
    return requests


def annotate(ctx: HttpContext, body: dict[str, Any], ints: bool) -> dict[str, Any]:
    """A ``BatchAnnotateImagesResponse`` for a ``BatchAnnotateImagesRequest``."""
    requests = request_list(body, MAX_IMAGES, "images")
    workers = max(1, min(len(requests), ctx.settings.engine_pool_size))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vision") as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, one, ctx, item, f"requests[{i}]", ints)
            for i, item in enumerate(requests)
        ]
        return {"responses": [future.result() for future in futures]}


def one(ctx: HttpContext, item: Any, where: str, ints: bool) -> dict[str, Any]:
    """One image's ``AnnotateImageResponse``; never raises."""
    try:
        names = sources.features(item, where)
        refused = sources.unsupported(names)
        if refused is not None:
            raise refused
        lang = sources.lang(ctx.jobs.engines, item, where)
        data, gcs = sources.image_source(ctx.settings, item.get("image"), where)
        if data is None:
            assert gcs is not None
            data, _ = sources.read_object(ctx.settings, gcs, ctx.settings.max_upload_bytes)
        if data[:5] == b"%PDF-":
            raise errors.InvalidRequest("This is a PDF: send it to files:annotate")
        document = ctx.recognizer.extract(data, lang=lang)
        return vision_wire.document_annotation(document, names, ints)
    except errors.OcrError as exc:
        return {"error": vision_wire.rpc_status(exc)}
    except Exception:
        # A bug on one image must not cost the others their answers; the trace is logged.
        log.exception("unhandled error in an images:annotate item")
        return {"error": vision_wire.rpc_status(errors.OcrError("Internal error on this image"))}
