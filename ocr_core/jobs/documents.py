"""The work of an operation: plan each document, OCR its page ranges into shards, and
assemble the document-level result once every shard is in. Which objects are documents is
``jobs.dispatch``'s to say; this module is handed documents and their kind.

Every step is idempotent, so a task delivered twice, or again after a crash, does no harm
and no repeated OCR: a shard already written for the object's generation is not redone,
progress is a set of finished shards, and the document result is written under the
result's own generation precondition.

Results bucket layout for an object ``scans/contract.pdf``::

    scans/contract.pdf.json                               document-level result
    scans/contract.pdf.shards/output-0001-to-0020.json    pages 1-20, full detail
    scans/contract.pdf.shards/output-0021-to-0040.json    ...
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from ocr_core import __version__, errors
from ocr_core.jobs import operations, progress
from ocr_core.jobs.context import JobContext
from ocr_core.jobs.layout import shard_name
from ocr_core.jobs.operations import DONE, FAILED, QUEUED, RUNNING, TERMINAL
from ocr_core.jobs.renditions import write_renditions
from ocr_core.jobs.store import load_json, stored_generation, write_if_newer
from ocr_core.jobs.tasks import Task, publish
from ocr_core.logs import get_logger
from ocr_core.names import MAX_NAME_BYTES
from ocr_core.recognition.documents import (
    document_confidence,
    ocr_pages,
    open_document,
    page_ranges,
)
from ocr_core.schema import (
    SCHEMA_VERSION,
    UNSET,
    DocumentEntry,
    DocumentMetadata,
    ErrorDetail,
    ObjectRef,
    Operation,
    ResultDocument,
    failed_document,
    utc_now,
)
from ocr_core.storage import Bucket, PreconditionFailed

log = get_logger("documents.jobs")

MIME = {"pdf": "application/pdf", "tiff": "image/tiff"}


def open_operation(
    ctx: JobContext, bucket: str, name: str, generation: int
) -> tuple[Operation, list[Task]]:
    """A document landed in the input bucket: start (or find) its operation. Returns it
    and the plan tasks of this object's entries, for the caller to run with the bytes it
    has read. A duplicate event finds the first operation."""
    op_id = operations.new_id()
    holder = operations.claim_object(ctx.settings, bucket, name, generation, op_id, replace=False)
    op = operations.get(ctx.settings, holder)
    if op is None:  # ours, or a claim whose operation was never written (crash): write it
        op = operations.new_operation(
            holder,
            [operations.document_entry(ctx.settings, bucket, name, generation)],
            "storage_event",
            {"objects": [name]},
        )
        try:
            operations.create(ctx.settings, op)
        except PreconditionFailed:
            op = operations.require(ctx.settings, holder)
    elif holder != op_id:
        log.info("document already has an operation", extra={"operation": op.name})
    tasks = [
        Task("plan", holder, index)
        for index, doc in enumerate(op.metadata.documents)
        if doc.object.name == name and doc.object.generation == str(generation)
    ]
    return op, tasks


def start_batch(
    ctx: JobContext, objects: list[tuple[str, str, int]], request: dict[str, Any]
) -> Operation:
    """Start an operation over ``(bucket, name, generation)`` objects; planning happens in
    the OCR function, one ``plan`` task per object."""
    op_id = operations.new_id()
    docs = [operations.document_entry(ctx.settings, b, n, g) for b, n, g in objects]
    op = operations.create(ctx.settings, operations.new_operation(op_id, docs, "api", request))
    for bucket, name, generation in objects:
        operations.claim_object(ctx.settings, bucket, name, generation, op_id, replace=True)
    publish(ctx.settings, [Task("plan", op_id, index) for index in range(len(objects))])
    return op


# --- planning ----------------------------------------------------------------------------


def _document(ctx: JobContext, task: Task) -> tuple[Operation, DocumentEntry] | None:
    op = operations.get(ctx.settings, task.operation)
    if op is None:
        log.warning("task for an unknown operation acknowledged")
        return None
    docs = op.metadata.documents
    if task.index >= len(docs):
        log.warning("task for a document the operation does not have; acknowledged")
        return None
    return op, docs[task.index]


def queued(ctx: JobContext, task: Task) -> tuple[Operation, DocumentEntry] | str:
    """The operation and the entry a plan task is for, while the entry waits to be planned;
    otherwise what the task did (``unknown``, ``skipped``)."""
    found = _document(ctx, task)
    if found is None:
        return "unknown"
    op, doc = found
    if op.done or doc.state != QUEUED:
        return "skipped"
    return found


def current_bytes(
    ctx: JobContext, task: Task, doc: DocumentEntry, data: bytes | None = None
) -> bytes | None:
    """The entry's object at its generation: ``data`` when the caller has read it already,
    else read now; None when a result already stored for it is reused (and recorded)."""
    obj = doc.object
    source = ctx.bucket(obj.bucket)
    _check_current(source, obj.name, int(obj.generation or 0))
    if _reuse_result(ctx, task, doc):
        return None
    return (
        data if data is not None else source.read(obj.name, max_bytes=ctx.settings.max_object_bytes)
    )


def fail_on_permanent(ctx: JobContext, task: Task, step: Callable[[], str]) -> str:
    """Run one step of planning ``task``: a permanent failure fails the document (and is
    what the task did), a passing one raises so that the task is delivered again."""
    try:
        return step()
    except errors.OcrError as exc:
        if not exc.permanent:
            raise
        fail(ctx, task, exc)
        return "failed"


def plan_document(ctx: JobContext, task: Task, doc: DocumentEntry, data: bytes, kind: str) -> str:
    """Count a document's pages (``kind``: pdf or tiff) and queue its page ranges. Raises
    what opening it raises (run it under ``fail_on_permanent``)."""
    settings = ctx.settings
    obj = doc.object
    with open_document(data, kind, settings) as document:
        page_count = document.page_count
        sha256, size = document.sha256, document.size_bytes
    longest = shard_name(settings, obj.name, page_count, page_count, page_count)
    if len(longest.encode()) > MAX_NAME_BYTES:
        raise errors.InvalidObjectName(
            f"The object name is too long to name its result shards ({MAX_NAME_BYTES} "
            "bytes at most, shard suffix included)"
        )
    ranges = page_ranges(page_count, settings.document_shard_pages)
    shards = [shard_name(settings, obj.name, f, last, page_count) for f, last in ranges]
    # Queue first, record second: a crash in between leaves the document queued, and the
    # next delivery plans it again (duplicate page tasks are harmless), never stuck.
    publish(
        ctx.settings, [Task("pages", task.operation, task.index, f, last) for f, last in ranges]
    )

    def record(op: Operation) -> bool:
        if not operations.move(
            op.metadata.documents[task.index],
            RUNNING,
            only_from=(QUEUED,),
            kind=kind,
            page_count=page_count,
            shards_total=len(ranges),
            shards=shards,
            sha256=sha256,
            size_bytes=size,
            started_at=utc_now(),
        ):
            return False
        operations.settle(op)
        return True

    operations.update(ctx.settings, task.operation, record)
    log.info("document planned", extra={"pages": page_count, "shards": len(ranges)})
    return "planned"


def _check_current(source: Bucket, name: str, generation: int) -> None:
    info = source.stat(name)
    if info is None:
        raise errors.NotFound(f"The object {name!r} no longer exists", object=name)
    if info.generation != generation:
        raise errors.ObjectReplaced(
            f"The object {name!r} was replaced by a newer version while it was processed",
            object=name,
        )


def _reuse_result(ctx: JobContext, task: Task, doc: DocumentEntry) -> bool:
    """An object already finished at this generation keeps its result (a batch over a
    prefix does not redo work); only a cancelled result is redone."""
    existing = load_json(ctx.bucket(doc.result.bucket), doc.result.name)
    if existing is None:
        return False
    stored = (existing.get("object") or {}).get("generation")
    if stored != doc.object.generation:
        return False
    if existing.get("status") == "failed" and (existing.get("error") or {}).get("code") in (
        "cancelled",
        "object_replaced",
    ):
        return False
    record_result(ctx, task, existing)
    return True


def record_result(ctx: JobContext, task: Task, result: dict[str, Any]) -> None:
    """The entry of ``task`` is finished with ``result`` (a stored result document)."""
    failed = result.get("status") == "failed"
    pages = int((result.get("document") or {}).get("page_count") or 1)
    error = result.get("error") if failed else None

    def mutate(op: Operation) -> bool:
        if not operations.move(
            op.metadata.documents[task.index],
            FAILED if failed else DONE,
            kind=(result.get("document") or {}).get("format")
            or (result.get("image") or {}).get("format"),
            page_count=pages,
            pages_done=0 if failed else pages,
            shards=list(result.get("shards") or []),
            error=ErrorDetail.from_dict(error) if error else None,
        ):
            return False
        operations.settle(op)
        return True

    operations.update(ctx.settings, task.operation, mutate)


def run_pages(ctx: JobContext, task: Task) -> str:
    found = _document(ctx, task)
    if found is None:
        return "unknown"
    op, doc = found
    if doc.state == QUEUED and not op.done:
        # Page tasks are queued a moment before their plan is recorded: come back later.
        raise errors.TransientError("The document's plan is not recorded yet; retry")
    if op.done or doc.state != RUNNING:
        return "skipped"  # cancelled, failed or finished meanwhile: nothing left to do
    settings = ctx.settings
    obj = doc.object
    generation = int(obj.generation or 0)
    shard = shard_name(settings, obj.name, task.first, task.last, doc.page_count)
    results = ctx.results
    shard_gen, storage_gen = stored_generation(results, shard)
    if shard_gen == generation:
        action = "resumed"  # written before a crash or by a duplicate delivery: not redone
    else:
        try:
            source = ctx.bucket(obj.bucket)
            _check_current(source, obj.name, generation)
            data = source.read(obj.name, max_bytes=ctx.settings.max_object_bytes)
            started = time.perf_counter()
            with open_document(data, doc.kind, settings) as document:
                pages = ocr_pages(ctx.engines, document, task.first, task.last)
        except errors.OcrError as exc:
            if not exc.permanent:
                raise
            fail(ctx, task, exc)
            return "failed"
        body = _shard_body(ctx, op, obj, task, pages, (time.perf_counter() - started) * 1000)
        known = (shard_gen, storage_gen)
        if not write_if_newer(results, shard, body, generation, keep_same=True, known=known):
            log.info("shard written meanwhile by another delivery", extra={"shard": shard})
        action = "written"
        log.info("shard stored", extra={"shard": shard, "pages": len(pages)})

    # Progress is a write-once marker per shard (ocr_core/jobs/progress.py), not a rewrite of
    # the operation document: many shards finishing at once never contend on one object.
    progress.record_shard(ctx.settings, task.operation, task.index, task.first, task.last)
    done = progress.shards_done(ctx.settings, task.operation, task.index)
    if len(done) >= doc.shards_total and progress.claim_assembly(
        ctx.settings, task.operation, task.index, task.first
    ):
        finalize(ctx, task)
    return action


def _shard_body(
    ctx: JobContext, op: Operation, obj: ObjectRef, task: Task, pages: list[dict], elapsed_ms: float
) -> dict[str, Any]:
    engine = ctx.engines.get()
    return {
        "object": obj.to_dict(),
        "operation": op.name,
        "first_page": task.first,
        "last_page": task.last,
        "responses": pages,
        "engine": {"name": engine.name, "version": engine.version},
        "processing_time_ms": round(elapsed_ms, 1),
        "created_at": utc_now(),
        "schema_version": SCHEMA_VERSION,
        "service_version": __version__,
    }


def finalize(ctx: JobContext, task: Task) -> None:
    """Every shard is in: assemble and store the document-level result."""
    found = _document(ctx, task)
    if found is None:
        return
    op, doc = found
    if doc.state != RUNNING:
        return
    settings = ctx.settings
    results = ctx.results
    pages: list[dict[str, Any]] = []
    engine: dict[str, Any] = {}
    for shard in doc.shards:
        body = load_json(results, shard)
        if body is None or body.get("object", {}).get("generation") != doc.object.generation:
            fail(
                ctx,
                task,
                errors.ObjectReplaced("A page shard belongs to another version of the object"),
            )
            return
        engine = body.get("engine") or engine
        for page in body["responses"]:
            page_entry = {k: v for k, v in page.items() if k != "blocks"}
            pages.append({**page_entry, "shard": shard})
    pages.sort(key=lambda p: p["page_number"])
    document = _document_result(op, doc, pages, engine)
    _write_result(results, doc, document)
    # PDF, hOCR, ALTO beside the result (docs/formats.md), read shard by shard; before the
    # document is marked done, so that a done operation's files are there.
    request = op.metadata.request or {}
    formats = request.get("output_formats", settings.output_formats)
    if formats:
        write_renditions(settings, document, tuple(formats))

    def mutate(op: Operation) -> bool:
        entry = op.metadata.documents[task.index]
        if not operations.move(
            entry,
            DONE,
            only_from=(RUNNING,),
            pages_done=entry.page_count,
            shards_done=sorted(progress.shards_done(ctx.settings, task.operation, task.index)),
        ):
            return False
        operations.settle(op)
        return True

    operations.update(ctx.settings, task.operation, mutate)
    log.info("document result stored", extra={"pages": len(pages)})


def _document_result(
    op: Operation, doc: DocumentEntry, pages: list[dict[str, Any]], engine: dict[str, Any]
) -> dict[str, Any]:
    texts = [p.get("text", "") for p in pages]
    text = "\f".join(texts).strip("\f")
    languages = collections.Counter(p["language"] for p in pages if p.get("language"))
    return ResultDocument(
        success=True,
        status="done",
        # Pages are separated by a form feed, as pdftotext does; ``pages`` has each alone.
        text=text,
        confidence=document_confidence(pages) if text.strip() else 0.0,
        no_text_found=not any(t.strip() for t in texts),
        processing_time_ms=round(sum(p.get("processing_time_ms", 0.0) for p in pages), 1),
        language=languages.most_common(1)[0][0] if languages else None,
        word_count=sum(p.get("word_count", 0) for p in pages),
        document=DocumentMetadata(
            format=doc.kind,
            mime_type=MIME.get(doc.kind or "", "application/octet-stream"),
            page_count=doc.page_count,
            size_bytes=None if doc.size_bytes is UNSET else doc.size_bytes,
            sha256=None if doc.sha256 is UNSET else doc.sha256,
        ),
        engine=engine,  # type: ignore[arg-type]
        cached=False,
        pages=pages,  # type: ignore[arg-type]
        shards=list(doc.shards),
        operation=op.name,
        object=doc.object,
    ).to_dict()


def fail(ctx: JobContext, task: Task, error: errors.OcrError) -> None:
    """A permanent failure of one document: a ``failed`` result (unless the object is gone
    or replaced: then there is nothing to report on) and the document marked failed."""
    found = _document(ctx, task)
    if found is None:
        return
    op, doc = found
    if doc.state in TERMINAL:
        return
    log.info("document failed", extra={"code": error.code})
    if not isinstance(error, (errors.NotFound, errors.ObjectReplaced)):
        body = failed_document(error, processing_time_ms=0.0, obj=doc.object.to_dict())
        body["operation"] = op.name
        _write_result(ctx.results, doc, body)

    def mutate(op: Operation) -> bool:
        entry = op.metadata.documents[task.index]
        if not operations.move(entry, FAILED, error=ErrorDetail.of(error)):
            return False
        operations.settle(op)
        return True

    operations.update(ctx.settings, task.operation, mutate)


def write_cancelled_results(ctx: JobContext, op: Operation, docs: list[DocumentEntry]) -> None:
    """After a cancel: each stopped document gets a ``failed`` result with code
    ``cancelled``, so its ``GET /results`` answers instead of pending forever."""
    results = ctx.results
    for doc in docs:
        body = failed_document(
            errors.Cancelled("The operation processing this object was cancelled"),
            processing_time_ms=0.0,
            obj=doc.object.to_dict(),
        )
        body["operation"] = op.name
        # Never over a result another operation already made for this version.
        _write_result(results, doc, body, keep_same_generation=True)


def _write_result(
    results: Bucket, doc: DocumentEntry, body: dict[str, Any], keep_same_generation: bool = False
) -> None:
    """Store a document-level result unless one for a newer generation (or, with
    ``keep_same_generation``, for this one) is already there."""
    generation = int(doc.object.generation or 0)
    write_if_newer(results, doc.result.name, body, generation, keep_same=keep_same_generation)
