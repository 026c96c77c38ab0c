"""Crashes lose nothing: SIGKILL the local stack in the middle of an OCR run, start it
again, and the result appears; killing the stack process alone takes its function
processes with it (PR_SET_PDEATHSIG), so nothing is left running."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from .conftest import words
from .servers import LocalStack

pytestmark = pytest.mark.e2e


def big_page() -> bytes:
    """A dense page that takes the engine seconds: long enough to be killed mid-way."""
    im = Image.new("L", (2400, 3200), 255)
    draw = ImageDraw.Draw(im)
    for i in range(90):
        draw.text((60, 40 + i * 34), f"Line {i:02d} of the crash test page", fill=0, font_size=26)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _log_has(stack: LocalStack, needle: str) -> bool:
    return needle in stack.log_path.read_text(errors="replace")


def test_sigkill_mid_ocr_then_restart_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stack = LocalStack(data_dir, tmp_path / "first.log")
    stack.start()
    try:
        staging = data_dir / "page.tmp"
        staging.write_bytes(big_page())
        target = stack.input_dir / "crash" / "page.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
        wait_for(
            lambda: _log_has(stack, '"processing object"') and _log_has(stack, "crash/page.png"),
            60,
            "the OCR of the page to start",
        )
        time.sleep(0.2)  # well inside the seconds the engine needs for this page
        stack.stop(signal.SIGKILL)  # the whole tree at once: no handler runs, nothing flushes
    finally:
        stack.stop(signal.SIGKILL)
    wait_for(lambda: not stack.session_processes(), 10, "the killed processes to go")
    result_file = stack.results_dir / "crash" / "page.png.json"
    assert not result_file.exists(), "the OCR finished before the kill: the test proves nothing"

    again = LocalStack(data_dir, tmp_path / "second.log")
    again.start()
    try:
        doc = again.wait_result("crash/page.png", timeout_s=90)
    finally:
        again.stop()
    assert doc["status"] == "done"
    text = " ".join(words(doc["text"]))
    assert "line 00 of the crash test page" in text and "line 89" in text
    assert json.loads(result_file.read_text())["object"]["name"] == "crash/page.png"
    # Atomic writes: no half-written or temporary result was left by the killed run.
    assert [p.name for p in result_file.parent.iterdir()] == ["page.png.json"]
    assert not again.session_processes()


def test_killing_the_stack_process_takes_its_functions_with_it(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "data", tmp_path / "stack.log")
    stack.start()
    try:
        pids = stack.session_processes()
        cmdlines = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in pids}
        (stack_pid,) = [pid for pid, cmd in cmdlines.items() if b"ocr_local" in cmd]
        functions = [pid for pid, cmd in cmdlines.items() if b"functions_framework" in cmd]
        assert len(functions) == 6  # a gunicorn master and its worker per function
        os.kill(stack_pid, signal.SIGKILL)  # only the supervisor: no chance to clean up
        wait_for(lambda: not stack.session_processes(), 30, "the function processes to exit")
    finally:
        stack.stop(signal.SIGKILL)
