"""A document's page progress as write-once objects, so that no object is rewritten faster
than Cloud Storage allows (about once a second per name) however many shards finish at once.

Each finished shard creates its own marker (``if_generation_match=0``), written once and
never again; a delivery of the same shard twice finds it there and counts nothing. Pages
done is the listing of a document's markers (Cloud Storage lists strongly consistently), so
the operation document is written once when a document is planned and once when it is
finished, not once per shard. The shard that finds every marker in place claims the
document's assembly with one more write-once object; a redelivery of the claiming shard
(after a crash) may resume it, nobody else can, so the result is assembled once.

Layout, in the results bucket beside the operations::

    _operations/progress/<operation id>/<document index>/<first>-<last>.json   one per shard
    _operations/progress/<operation id>/<document index>/final.json          who assembles

The page range is in the marker's name, so progress is one listing, no reads.
"""

from __future__ import annotations

import json
import re

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.jobs.layout import progress_prefix
from ocr_core.schema import utc_now
from ocr_core.storage import Bucket, PreconditionFailed, open_bucket

FINAL = "final.json"
_MARKER = re.compile(r"^(\d{6})-(\d{6})\.json$")


def _bucket(settings: Settings) -> Bucket:
    return open_bucket(settings, settings.results_bucket)


def record_shard(settings: Settings, op_id: str, index: int, first: int, last: int) -> bool:
    """Mark pages ``first``..``last`` of document ``index`` done. True when this call wrote
    the marker, False when it was there already (a duplicate delivery)."""
    body = json.dumps({"first": first, "last": last, "at": utc_now()}).encode()
    try:
        _bucket(settings).write(
            f"{progress_prefix(settings, op_id, index)}{first:06d}-{last:06d}.json",
            body,
            "application/json",
            if_generation_match=0,
        )
    except PreconditionFailed:
        return False
    return True


def shards_done(settings: Settings, op_id: str, index: int) -> dict[int, int]:
    """first page -> last page of every shard of document ``index`` marked done."""
    prefix = progress_prefix(settings, op_id, index)
    done: dict[int, int] = {}
    for info in _bucket(settings).list(prefix):
        m = _MARKER.match(info.name[len(prefix) :])
        if m:
            done[int(m.group(1))] = int(m.group(2))
    return done


def pages_done(done: dict[int, int]) -> int:
    return sum(last - first + 1 for first, last in done.items())


def claim_assembly(settings: Settings, op_id: str, index: int, first: int) -> bool:
    """Whether the shard starting at ``first`` assembles document ``index``: the first claim
    wins; the winner's own redelivery may claim again (it crashed before finishing)."""
    name = f"{progress_prefix(settings, op_id, index)}{FINAL}"
    bucket = _bucket(settings)
    try:
        bucket.write(
            name, json.dumps({"first": first}).encode(), "application/json", if_generation_match=0
        )
        return True
    except PreconditionFailed:
        pass
    try:
        holder = json.loads(bucket.read(name)).get("first")
    except (errors.NotFound, ValueError, AttributeError):
        return False
    return holder == first
