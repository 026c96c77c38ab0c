"""The folder-backed bucket: generations, conditional writes, names that must not escape."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ocr_core import errors
from ocr_core.storage import PreconditionFailed
from ocr_core.storage.local import TEMP_PREFIX, LocalBucket


@pytest.fixture
def bucket(tmp_path: Path) -> LocalBucket:
    return LocalBucket(tmp_path, "in")


def test_write_read_stat_list(bucket: LocalBucket) -> None:
    info = bucket.write("a/b.json", b"{}", "application/json")
    assert bucket.read("a/b.json") == b"{}"
    assert bucket.stat("a/b.json") == info
    assert [o.name for o in bucket.list()] == ["a/b.json"]
    assert bucket.stat("a/missing") is None
    with pytest.raises(errors.NotFound):
        bucket.read("a/missing")


def test_read_limit(bucket: LocalBucket) -> None:
    bucket.write("big", b"x" * 100, "application/octet-stream")
    with pytest.raises(errors.FileTooLarge):
        bucket.read("big", max_bytes=99)
    assert len(bucket.read("big", max_bytes=100)) == 100


def test_conditional_writes_are_first_write_wins(bucket: LocalBucket) -> None:
    first = bucket.write("r.json", b"1", "application/json", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.write("r.json", b"2", "application/json", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.write("r.json", b"2", "application/json", if_generation_match=first.generation - 1)
    second = bucket.write("r.json", b"3", "application/json", if_generation_match=first.generation)
    assert bucket.read("r.json") == b"3" and second.generation > first.generation
    assert not [p for p in bucket.root.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_a_replacing_file_with_an_old_mtime_is_still_a_newer_generation(
    bucket: LocalBucket, tmp_path: Path
) -> None:
    bucket.write("scan.jpg", b"first", "image/jpeg")
    before = bucket.stat("scan.jpg").generation
    outside = tmp_path / "old-scan.jpg"
    outside.write_bytes(b"second")
    os.utime(outside, ns=(10**18, 10**18))  # an mtime from 2001: what mv / cp -p keep
    os.replace(outside, bucket.root / "scan.jpg")
    assert bucket.stat("scan.jpg").generation > before


def test_temp_files_live_outside_the_bucket_and_take_no_user_name(bucket: LocalBucket) -> None:
    # A user's file may be called anything, our temporary files' prefix included.
    (bucket.root / f"{TEMP_PREFIX}abc-x.jpg").write_bytes(b"a user's file")
    bucket.write("x.jpg", b"whole", "image/jpeg")
    assert [o.name for o in bucket.list()] == [f"{TEMP_PREFIX}abc-x.jpg", "x.jpg"]
    assert sorted(p.name for p in bucket.root.iterdir()) == [f"{TEMP_PREFIX}abc-x.jpg", "x.jpg"]
    assert list(bucket.temp_dir.iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "../out",
        "a/../../out",
        "/etc/passwd",
        "a\\b",
        "a//b",
        "",
        "a/./b",
        "x\x00y",
        "ctl\x07",
        "é" * 600,
    ],
)
def test_names_that_would_escape_or_break_are_refused(bucket: LocalBucket, name: str) -> None:
    with pytest.raises(errors.InvalidObjectName):
        bucket.write(name, b"x", "text/plain")
    assert not (bucket.root.parent / "out").exists()


def test_symlink_out_of_the_bucket_is_refused(bucket: LocalBucket, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (bucket.root / "link").symlink_to(tmp_path)
    with pytest.raises(errors.NotFound):  # not an object of this bucket
        bucket.read("link/secret.txt")
    assert bucket.stat("link/secret.txt") is None


def test_temp_files_a_killed_writer_left_are_removed_after_an_hour(tmp_path: Path) -> None:
    first = LocalBucket(tmp_path, "b")
    first.temp_dir.mkdir()
    old, fresh = first.temp_dir / f"{TEMP_PREFIX}old", first.temp_dir / f"{TEMP_PREFIX}new"
    old.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    LocalBucket(tmp_path, "b")
    assert not old.exists() and fresh.exists()


def test_links_and_unusable_names_are_not_objects(bucket: LocalBucket) -> None:
    (bucket.root / "passwd.jpg").symlink_to("/etc/passwd")
    (bucket.root / "etc").symlink_to("/etc")
    with open(os.path.join(os.fsencode(bucket.root), b"bad\x01name.jpg"), "wb") as fh:
        fh.write(b"x")
    bucket.write("real.jpg", b"x", "image/jpeg")
    assert [o.name for o in bucket.list()] == ["real.jpg"]
    assert bucket.stat("passwd.jpg") is None and bucket.stat("etc/passwd") is None
    with pytest.raises(errors.NotFound):
        bucket.read("passwd.jpg")
