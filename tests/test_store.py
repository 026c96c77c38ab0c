"""jobs/store.py on a real local bucket: one JSON loader, one conditional write.

Results and shards name the object generation they are for; whatever order deliveries
come in, the document for the newest generation is the one that stays.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr_core import errors
from ocr_core.jobs.store import load_json, stored_generation, write_if_newer
from ocr_core.storage.local import LocalBucket


@pytest.fixture
def bucket(tmp_path: Path) -> LocalBucket:
    return LocalBucket(tmp_path, "results")


def _doc(generation: int, text: str = "") -> dict[str, object]:
    return {"object": {"bucket": "in", "name": "a.png", "generation": str(generation)}, "t": text}


def test_load_json_has_one_policy_chosen_by_the_caller(bucket: LocalBucket) -> None:
    assert load_json(bucket, "missing.json") is None
    bucket.write("list.json", b"[1, 2]", "application/json")
    assert load_json(bucket, "list.json") is None  # JSON, but not a document
    bucket.write("bad.json", b"{not json", "application/json")
    bucket.write("deep.json", b"[" * 100_000 + b"]" * 100_000, "application/json")
    for name in ("bad.json", "deep.json"):
        assert load_json(bucket, name) is None
        with pytest.raises(errors.StorageError) as caught:
            load_json(bucket, name, unreadable="error", what="result")
        assert caught.value.message == "The stored result is unreadable"
    bucket.write("ok.json", json.dumps(_doc(3)).encode(), "application/json")
    assert load_json(bucket, "ok.json") == _doc(3)


def test_stored_generation_names_both_generations(bucket: LocalBucket) -> None:
    assert stored_generation(bucket, "a.png.json") == (None, 0)
    info = bucket.write("a.png.json", json.dumps(_doc(7)).encode(), "application/json")
    assert stored_generation(bucket, "a.png.json") == (7, info.generation)
    foreign = bucket.write("a.png.json", b'{"hand": "written"}', "application/json")
    assert stored_generation(bucket, "a.png.json") == (None, foreign.generation)


def test_the_newest_generation_stays_in_any_order(bucket: LocalBucket) -> None:
    assert write_if_newer(bucket, "a.png.json", _doc(5, "five"), 5)
    assert not write_if_newer(bucket, "a.png.json", _doc(4, "four"), 4)  # a stale event
    assert load_json(bucket, "a.png.json") == _doc(5, "five")
    assert write_if_newer(bucket, "a.png.json", _doc(5, "again"), 5)  # same: replaced...
    assert not write_if_newer(bucket, "a.png.json", _doc(5, "dup"), 5, keep_same=True)  # ...or kept
    assert write_if_newer(bucket, "a.png.json", _doc(6, "six"), 6)
    assert load_json(bucket, "a.png.json") == _doc(6, "six")


def test_a_racing_writer_is_seen_not_overwritten(bucket: LocalBucket) -> None:
    known = stored_generation(bucket, "a.png.json")  # (None, 0): nothing yet
    # Another delivery writes a newer result between our look and our write.
    bucket.write("a.png.json", json.dumps(_doc(9, "theirs")).encode(), "application/json")
    assert not write_if_newer(bucket, "a.png.json", _doc(8, "ours"), 8, known=known)
    assert load_json(bucket, "a.png.json") == _doc(9, "theirs")
    # An older one racing in is replaced: the precondition fails, the re-read decides.
    known = stored_generation(bucket, "a.png.json")
    bucket.write("a.png.json", json.dumps(_doc(2, "stale")).encode(), "application/json")
    assert write_if_newer(bucket, "a.png.json", _doc(10, "newest"), 10, known=known)
    assert load_json(bucket, "a.png.json") == _doc(10, "newest")
