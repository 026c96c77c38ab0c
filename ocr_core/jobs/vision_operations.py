"""Operations as ``google.longrunning.Operation`` JSON, over the one operations store.

Any operation of the store can be read here (those started with ``POST /operations`` too);
an operation started by ``files:asyncBatchAnnotate`` or ``images:asyncBatchAnnotate``
carries its Vision request in ``metadata.request.vision``. Once the OCR function has
finished its documents, ``complete`` writes Vision's output files
(``<prefix>output-<first>-to-<last>.json``, ``batchSize`` responses each) and records that
in the operation; only then does the Vision view say ``done``, so a client that sees
``done`` finds every output file in place. ``complete`` runs in whoever looks first (a
poll, a listing) and in the OCR function after each task of the operation
(``after_task``), so the files appear even for a client that never polls. It is
idempotent: two at once write the same files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ocr_core import errors
from ocr_core.jobs import operations
from ocr_core.jobs.context import JobContext
from ocr_core.jobs.documents import write_cancelled_results
from ocr_core.logs import get_logger
from ocr_core.recognition import vision_wire
from ocr_core.schema import UNSET, DocumentEntry, ErrorDetail, Operation, utc_now

log = get_logger("vision.operations")

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
_STATE = {
    operations.QUEUED: "CREATED",
    operations.RUNNING: "RUNNING",
    operations.DONE: "DONE",
    operations.FAILED: "DONE",
    operations.CANCELLED: "CANCELLED",
}


def _all_errors(kind: type[errors.OcrError] = errors.OcrError) -> Iterator[type[errors.OcrError]]:
    yield kind
    for sub in kind.__subclasses__():
        yield from _all_errors(sub)


_ERROR_BY_CODE = {cls.code: cls for cls in _all_errors()}


def _status_of(error: ErrorDetail | dict[str, Any] | None) -> dict[str, Any]:
    """Our ``{"code": "corrupt_document", "message"}`` (an operation's or document's error,
    or a stored result's) as a ``google.rpc.Status``."""
    body = (error.to_dict() if isinstance(error, ErrorDetail) else error) or {}
    if body.get("code") == "cancelled":
        return {
            "code": vision_wire.RPC_CODES["CANCELLED"],
            "message": "The operation was cancelled",
        }
    kind = _ERROR_BY_CODE.get(str(body.get("code")), errors.OcrError)
    return vision_wire.rpc_status(kind(str(body.get("message") or "The operation failed")))


def vision_request(op: Operation) -> dict[str, Any] | None:
    request = op.metadata.request or {}
    vision = request.get("vision")
    return vision if isinstance(vision, dict) else None


def op_id_of(name: str) -> str:
    """The store id in ``operations/<id>``, ``projects/p/operations/<id>``, ... or <id>."""
    return operations.validate_id(name.rsplit("/", 1)[-1])


# --- rendering --------------------------------------------------------------------------


def render(op: Operation, ints: bool) -> dict[str, Any]:
    meta = op.metadata
    vision = vision_request(op)
    finished = op.done and (
        vision is None or meta.state == operations.CANCELLED or meta.vision_output is not UNSET
    )
    state = _STATE.get(meta.state, "RUNNING")
    if state == "DONE" and not finished:
        state = "RUNNING"  # the OCR is done, the output files are not written yet
    op_id = operations.store_id(op)
    parent = (vision or {}).get("parent") or ""
    body: dict[str, Any] = {
        "name": f"{parent}/operations/{op_id}" if parent else f"operations/{op_id}",
        "metadata": {
            "@type": vision_wire.TYPE_PREFIX + "OperationMetadata",
            "state": vision_wire.enum_value(state, vision_wire.STATES, ints),
            "createTime": meta.create_time,
            "updateTime": meta.update_time,
        },
        "done": finished,
    }
    if not finished:
        return body
    if meta.state in (operations.CANCELLED, operations.FAILED):
        body["error"] = _status_of(op.error or None)
    elif vision is not None and vision.get("kind") == "images":
        body["response"] = {
            "@type": vision_wire.TYPE_PREFIX + "AsyncBatchAnnotateImagesResponse",
            "outputConfig": vision["outputConfig"],
        }
    elif vision is not None:
        body["response"] = {
            "@type": vision_wire.TYPE_PREFIX + "AsyncBatchAnnotateFilesResponse",
            "responses": [{"outputConfig": f["outputConfig"]} for f in vision["files"]],
        }
    else:  # an operation of POST /operations: its outputs are the result documents
        body["response"] = {
            "@type": vision_wire.TYPE_PREFIX + "AsyncBatchAnnotateFilesResponse",
            "responses": [
                {
                    "outputConfig": {
                        "gcsDestination": {"uri": f"gs://{d.result.bucket}/{d.result.name}"},
                        "batchSize": 0,
                    }
                }
                for d in meta.documents
            ],
        }
    return body


# --- writing Vision's output files ------------------------------------------------------


def complete(ctx: JobContext, op: Operation) -> Operation:
    """Write the output files of a finished Vision operation (once) and record them."""
    vision = vision_request(op)
    meta = op.metadata
    if (
        vision is None
        or not op.done
        or meta.state == operations.CANCELLED
        or meta.vision_output is not UNSET
    ):
        return op
    written = _write_outputs(ctx, op, vision)

    def record(stored: Operation) -> bool:
        if stored.metadata.vision_output is not UNSET:
            return False
        stored.metadata.vision_output = {"files": written, "written_at": utc_now()}
        return True

    return operations.update(ctx.settings, op_id_of(op.name), record) or op


def after_task(ctx: JobContext, op_id: str) -> None:
    """The OCR function ran a task of ``op_id``: if that finished a Vision operation, write
    its output files now. A passing fault raises (the task is delivered again and this runs
    again); anything else is logged and left to the next reader of the operation."""
    try:
        op = operations.get(ctx.settings, op_id)
        if op is not None and op.done and vision_request(op) is not None:
            complete(ctx, op)
    except errors.OcrError as exc:
        if not exc.permanent:
            raise
        log.error("Vision output files not written", extra={"code": exc.code})
    except Exception:
        log.exception("Vision output files not written; the next poll retries")


def _write_outputs(ctx: JobContext, op: Operation, vision: dict[str, Any]) -> list[str]:
    docs = op.metadata.documents
    written: list[str] = []
    if vision.get("kind") == "images":
        output = vision["outputConfig"]
        responses = []
        for doc, image in zip(docs, vision["images"], strict=True):
            response = _image_response(ctx, doc, image["features"])
            if image.get("uri"):
                response["context"] = {"uri": image["uri"]}
            responses.append(response)
        for first, chunk in _chunks(responses, output["batchSize"]):
            written.append(_write(ctx, output, first, first + len(chunk) - 1, {"responses": chunk}))
        return written
    for doc, file in zip(docs, vision["files"], strict=True):
        output, config = file["outputConfig"], file["inputConfig"]
        uri = (config.get("gcsSource") or {}).get("uri")
        if doc.state != operations.DONE:
            body = {"inputConfig": config, "responses": [], "error": _status_of(doc.error)}
            written.append(_write(ctx, output, 1, 1, body))
            continue
        pages = [
            {
                **vision_wire.page_annotation(page, file["features"], False),
                "context": {"uri": uri, "pageNumber": page["page_number"]},
            }
            for page in _pages(ctx, doc)
        ]
        for first, chunk in _chunks(pages, output["batchSize"]):
            last = first + len(chunk) - 1
            body = {"inputConfig": config, "responses": chunk, "totalPages": len(pages)}
            written.append(_write(ctx, output, first, last, body))
    return written


def _chunks(items: list[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    for start in range(0, len(items), size):
        yield start + 1, items[start : start + size]


def _write(
    ctx: JobContext, output: dict[str, Any], first: int, last: int, body: dict[str, Any]
) -> str:
    prefix = vision_wire.parse_gs_uri(output["gcsDestination"]["uri"], "gcsDestination")
    name = f"{prefix.name}output-{first}-to-{last}.json"
    payload = json.dumps(body, ensure_ascii=False).encode()
    ctx.bucket(prefix.bucket).write(name, payload, "application/json")
    return f"gs://{prefix.bucket}/{name}"


def _load(ctx: JobContext, bucket: str, name: str) -> dict[str, Any]:
    try:
        body = json.loads(ctx.bucket(bucket).read(name))
    except (errors.NotFound, ValueError) as exc:
        raise errors.StorageError(f"The result {name!r} is not readable yet; retry") from exc
    if not isinstance(body, dict):
        raise errors.StorageError(f"The result {name!r} is not a result document")
    return body


def _result(ctx: JobContext, doc: DocumentEntry) -> dict[str, Any]:
    return _load(ctx, doc.result.bucket, doc.result.name)


def _pages(ctx: JobContext, doc: DocumentEntry) -> Iterator[dict[str, Any]]:
    """Every page entry of a finished document, with its blocks, in page order."""
    result = _result(ctx, doc)
    if "document" not in result:  # one image (a single-page TIFF or GIF)
        page = dict((result.get("pages") or [{}])[0])
        yield {**page, "page_number": 1, "language": result.get("language")}
        return
    bucket = doc.result.bucket
    for shard in result.get("shards") or doc.shards:
        yield from sorted(_load(ctx, bucket, shard)["responses"], key=lambda p: p["page_number"])


def _image_response(ctx: JobContext, doc: DocumentEntry, features: list[str]) -> dict[str, Any]:
    if doc.state != operations.DONE:
        return {"error": _status_of(doc.error)}
    result = _result(ctx, doc)
    if result.get("status") == "failed":
        return {"error": _status_of(result.get("error"))}
    return vision_wire.document_annotation(result, features, False)


# --- the routes' work -------------------------------------------------------------------


def get(ctx: JobContext, name: str, ints: bool) -> dict[str, Any]:
    return render(complete(ctx, operations.require(ctx.settings, op_id_of(name))), ints)


def list_operations(ctx: JobContext, args: Any, ints: bool) -> dict[str, Any]:
    raw_size = args.get("pageSize") or args.get("page_size") or str(DEFAULT_PAGE_SIZE)
    if not raw_size.isdigit() or not 0 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise errors.InvalidRequest(f"pageSize must be from 0 to {MAX_PAGE_SIZE}")
    size = int(raw_size) or DEFAULT_PAGE_SIZE
    done_filter = _filter(args.get("filter", ""))
    token = args.get("pageToken") or args.get("page_token") or None
    ops, next_token = operations.list_page(ctx.settings, size, token)
    rendered = [render(complete(ctx, op), ints) for op in ops]
    if done_filter is not None:
        rendered = [op for op in rendered if op["done"] is done_filter]
    body: dict[str, Any] = {"operations": rendered}
    if next_token:
        body["nextPageToken"] = next_token
    return body


def _filter(text: str) -> bool | None:
    """The one filter served: ``done = true`` or ``done = false`` (AIP-160 spelling)."""
    compact = text.replace(" ", "").lower()
    if not compact:
        return None
    if compact in ("done=true", "done:true"):
        return True
    if compact in ("done=false", "done:false"):
        return False
    raise errors.InvalidRequest(
        "filter supports 'done = true' and 'done = false' only", parameter="filter"
    )


def cancel(ctx: JobContext, name: str) -> dict[str, Any]:
    op, stopped = operations.cancel(ctx.settings, op_id_of(name))
    write_cancelled_results(ctx, op, stopped)
    return {}
