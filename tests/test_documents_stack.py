"""Documents on the real local stack (`make run`): a crash mid-document loses nothing and
redoes nothing, and the operations examples of docs/operations.md work as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, TEST_IMAGES, words
from .documents import WORDS, image_pdf
from .test_local_stack import LocalStack

pytestmark = pytest.mark.e2e

PAGES = 8


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # One page per shard and one engine thread: shards land one by one, slowly enough
    # to kill the stack between two of them.
    monkeypatch.setenv("DOCUMENT_SHARD_PAGES", "1")
    monkeypatch.setenv("ENGINE_THREADS", "1")


@pytest.fixture
def stack(tmp_path: Path, stack_env: None) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path / "data", tmp_path / "stack.log")
    yield local
    local.stop(signal.SIGKILL)


def shard_times(folder: Path) -> dict[str, int]:
    if not folder.is_dir():
        return {}
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("output-*.json")}


def test_a_killed_stack_resumes_the_document_without_redoing_shards(stack: LocalStack) -> None:
    stack.start()
    target = stack.input_dir / "long" / "report.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(image_pdf(PAGES, filler=10))
    shards = stack.data_dir / "ocr-results" / "long" / "report.pdf.shards"

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(shard_times(shards)) < 2:
        time.sleep(0.02)
    stack.stop(signal.SIGKILL)  # the whole process group, mid-document
    before = shard_times(shards)
    assert 2 <= len(before) < PAGES, f"crash did not land mid-document: {sorted(before)}"
    assert not (stack.data_dir / "ocr-results" / "long" / "report.pdf.json").exists()

    stack.start()
    doc = stack.wait_result("long/report.pdf", timeout_s=120)
    assert doc["status"] == "done"
    assert [p["page_number"] for p in doc["pages"]] == list(range(1, PAGES + 1))
    for number, page in enumerate(doc["pages"], 1):
        found = words(page["text"])
        assert str(number) in found and WORDS[(number - 1) % len(WORDS)] in found
    after = shard_times(shards)
    assert len(after) == PAGES
    # Shards finished before the crash were not written again after the restart.
    assert {name: after[name] for name in before} == before
    # One operation, done, with every page counted once.
    ops = requests.get(f"{stack.url}/operations", timeout=10).json()["operations"]
    assert len(ops) == 1 and ops[0]["metadata"]["state"] == "done"
    assert ops[0]["metadata"]["progress"]["pages_done"] == PAGES


def _readme_block() -> str:
    readme = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"<!-- example:operations -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "docs/operations.md lost its tested operations example block"
    return block.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_operations_examples_work_as_written(stack: LocalStack) -> None:
    stack.start()
    script = "\n".join(
        line.replace("data/", f"{stack.data_dir}/")
        for line in _readme_block().splitlines()
        if not line.startswith("URL=")
    )
    marked = "\n".join(
        f"echo '>>> {i}'; {line}" if line.strip() and not line.lstrip().startswith("#") else line
        for i, line in enumerate(script.splitlines())
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", marked],
        cwd=ROOT,
        env={**os.environ, "URL": stack.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outputs = [chunk.split("\n", 1)[-1] for chunk in done.stdout.split(">>> ")[1:]]
    bodies = [json.loads(out) for out in outputs if out.strip().startswith("{")]
    started = next(b for b in bodies if b.get("metadata", {}).get("trigger") == "api")
    assert started["metadata"]["request"] == {"prefix": "contracts/"}
    listing = next(b for b in bodies if "operations" in b)
    assert listing["operations"][0]["name"].startswith("operations/")
    cancel = bodies[-1]
    assert cancel.get("metadata", {}).get("state") == "cancelled" or (
        cancel["error"]["code"] == "operation_finished"
    )
    # The contract ends done, or failed with "cancelled" when the cancel stopped the
    # operation that was processing it; then a new batch does it again.
    doc = wait_final(stack, "contracts/contract.pdf")
    if doc["status"] == "failed":
        assert doc["error"]["code"] == "cancelled"
        again = requests.post(
            f"{stack.url}/operations", json={"objects": ["contracts/contract.pdf"]}, timeout=10
        )
        assert again.status_code == 202
        doc = wait_final(stack, "contracts/contract.pdf", "done")
    assert doc["status"] == "done", doc
    truth = (TEST_IMAGES / "contract.gt.txt").read_text().split("\f")
    assert len(doc["pages"]) == len(truth) == 3
    for page, expected in zip(doc["pages"], truth, strict=True):
        assert words(page["text"]) == words(expected)


def wait_final(stack: LocalStack, name: str, want: str | None = None) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        doc = stack.wait_result(name)
        if want is None or doc["status"] == want:
            return doc
        time.sleep(0.3)
    raise AssertionError(f"{name} did not reach {want}: {doc}")
