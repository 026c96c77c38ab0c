"""Many workers finishing one document's shards at once, on fake-gcs-server: every page is
accounted for, nothing is lost or counted twice, and no object is rewritten per shard (Cloud
Storage takes about one write a second per object name; fake-gcs-server does not enforce it,
so the test counts the writes each name gets)."""

from __future__ import annotations

import collections
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ocr_core import runtime
from ocr_core.config import Settings
from ocr_core.jobs import dispatch, layout, operations, progress
from ocr_core.jobs.store import load_json
from ocr_core.jobs.tasks import Task
from ocr_core.storage import open_bucket
from ocr_core.storage.gcs import GcsBucket
from ocr_local.emulators import FakeGcsServer

from .documents import page_lines, text_pdf

PAGES = 200


@pytest.fixture
def gcs(fake_gcs: FakeGcsServer, reconfigure: Any) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    settings = reconfigure(
        STORAGE_BACKEND="gcs",
        STORAGE_EMULATOR_HOST=fake_gcs.url,
        INPUT_BUCKET=f"in-{suffix}",
        RESULTS_BUCKET=f"out-{suffix}",
        DOCUMENT_SHARD_PAGES="1",  # one shard per page: 200 shards
        OCR_ENGINE="tesseract",  # born-digital pages use their text layer; no OCR is run
    )
    fake_gcs.create_bucket(settings.input_bucket)
    fake_gcs.create_bucket(settings.results_bucket)
    return settings


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """Every write the GCS adapter makes, by object name (the writes still happen)."""
    seen: dict[str, list[float]] = collections.defaultdict(list)
    lock = threading.Lock()
    real = GcsBucket.write

    def counted(self: GcsBucket, name: str, *args: Any, **kwargs: Any) -> Any:
        result = real(self, name, *args, **kwargs)
        with lock:
            seen[name].append(time.monotonic())
        return result

    monkeypatch.setattr(GcsBucket, "write", counted)
    return seen


def _planned(settings: Settings, pages: int) -> str:
    """A born-digital PDF in the input bucket, planned into one page task per page."""
    info = open_bucket(settings, settings.input_bucket).write(
        "scans/long.pdf", text_pdf(pages), "application/pdf", if_generation_match=0
    )
    op = dispatch.start_for_object(
        runtime.current().jobs,
        settings.input_bucket,
        "scans/long.pdf",
        info.generation,
        text_pdf(pages),
    )
    doc = op.metadata.documents[0]
    assert doc.state == "running" and doc.shards_total == pages
    return operations.store_id(op)


def test_200_shards_finishing_at_once_count_every_page_once(gcs, writes) -> None:
    op_id = _planned(gcs, PAGES)
    jobs = runtime.current().jobs
    op_path = f"{layout.operations_prefix(gcs)}{op_id}.json"
    before = len(writes[op_path])
    tasks = [Task("pages", op_id, 0, n, n) for n in range(1, PAGES + 1)]
    duplicates = random.Random(16).sample(tasks, 30)  # at-least-once delivery: some twice
    deliveries = tasks + duplicates
    random.Random(7).shuffle(deliveries)
    go = threading.Event()

    def deliver(task: Task) -> str:
        go.wait(timeout=30)  # the first 32 workers start together, the rest as they free up
        return dispatch.run_task(jobs, task)

    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(deliver, task) for task in deliveries]
        go.set()
        outcomes = [f.result(timeout=300) for f in futures]
    assert set(outcomes) <= {"written", "resumed", "skipped"}, collections.Counter(outcomes)

    op = operations.require(gcs, op_id)
    assert op.done is True and op.metadata.state == "done", op.metadata
    doc = op.metadata.documents[0]
    assert doc.state == "done"
    assert doc.pages_done == PAGES and doc.shards_done == list(range(1, PAGES + 1))
    assert op.metadata.progress["pages_done"] == PAGES
    assert op.metadata.progress["percent"] == 100

    result = load_json(open_bucket(gcs, gcs.results_bucket), doc.result.name)
    assert result is not None and result["status"] == "done"
    numbers = [page["page_number"] for page in result["pages"]]
    assert numbers == list(range(1, PAGES + 1))  # every page, once, in order
    for page in result["pages"]:
        assert page["text"].split("\n")[:2] == page_lines(page["page_number"])

    # The operation document: written at creation and planning, then once at the end —
    # not once per shard. Every other object (shards, markers, the claim, the result) once.
    assert len(writes[op_path]) - before == 1, len(writes[op_path])
    assert len(writes[op_path]) <= 3
    rewritten = {name: len(times) for name, times in writes.items() if len(times) > 1}
    assert set(rewritten) <= {op_path}, rewritten
    markers = [
        n for n in writes if n.startswith(f"{layout.operations_prefix(gcs)}progress/{op_id}/")
    ]
    assert len(markers) == PAGES + 1  # one per shard, and the assembly claim


def test_progress_reads_the_markers_while_the_operation_runs(gcs, writes) -> None:
    op_id = _planned(gcs, 8)
    jobs = runtime.current().jobs
    op_path = f"{layout.operations_prefix(gcs)}{op_id}.json"
    after_plan = len(writes[op_path])
    for n in (1, 2, 5):
        assert dispatch.run_task(jobs, Task("pages", op_id, 0, n, n)) == "written"
    assert dispatch.run_task(jobs, Task("pages", op_id, 0, 2, 2)) == "resumed"  # a duplicate
    assert len(writes[op_path]) == after_plan  # no rewrite of the operation per shard

    op = operations.require(gcs, op_id)
    doc = op.metadata.documents[0]
    assert doc.state == "running" and doc.shards_done == [1, 2, 5]
    assert doc.pages_done == 3
    assert op.metadata.progress == {
        "pages_done": 3,
        "pages_total": 8,
        "documents_done": 0,
        "documents_total": 1,
        "percent": 37,
    }
    # The results function's pending view reads the same markers.
    gen = int(doc.object.generation)
    pending = operations.progress_for_object(gcs, gcs.input_bucket, "scans/long.pdf", gen)
    assert pending["progress"] == {"pages_done": 3, "pages_total": 8}


def test_only_one_shard_assembles_and_its_redelivery_may_resume(gcs) -> None:
    op_id = "20260101T000000000000Z-0123456789"
    assert progress.claim_assembly(gcs, op_id, 0, 7) is True
    assert progress.claim_assembly(gcs, op_id, 0, 3) is False  # someone else's claim
    assert progress.claim_assembly(gcs, op_id, 0, 7) is True  # the winner, redelivered
    assert progress.record_shard(gcs, op_id, 0, 1, 4) is True
    assert progress.record_shard(gcs, op_id, 0, 1, 4) is False
    assert progress.shards_done(gcs, op_id, 0) == {1: 4}  # the claim is not a shard
    assert progress.pages_done(progress.shards_done(gcs, op_id, 0)) == 4
