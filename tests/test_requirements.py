"""What `make run` installs (the runtime only) and what bootstrap.sh asks of the system."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

DEV_ONLY = {"pytest", "ruff", "hypothesis", "playwright", "schemathesis", "python-hcl2"}


def _pins(path: Path) -> set[str]:
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= _pins(path.parent / line[3:].strip())
        elif line:
            names.add(re.split(r"[=<>~!\[ ]", line, maxsplit=1)[0].lower())
    return names


def test_make_run_installs_the_runtime_requirements_only() -> None:
    for target in ("run", "run-emulators"):
        done = subprocess.run(
            ["make", "-n", "--always-make", target, "PORT=1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert "scripts/bootstrap.sh .venv requirements.txt" in done.stdout, done.stdout
        assert "requirements-dev.txt" not in done.stdout, done.stdout
    runtime = _pins(ROOT / "requirements.txt")
    assert not runtime & DEV_ONLY
    assert {"uvicorn", "h11", "httpx", "functions-framework"} <= runtime
    assert runtime <= _pins(ROOT / "requirements-dev.txt")


def test_bootstrap_asks_for_no_system_libraries_for_a_venv_without_opencv(tmp_path: Path) -> None:
    """checkov's venv has no OpenCV: nothing to apt-get for it."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "apt-calls"
    apt = stubs / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    apt.chmod(0o755)
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# nothing: like a venv for a tool without OpenCV\n")
    done = subprocess.run(
        [str(ROOT / "scripts" / "bootstrap.sh"), str(tmp_path / "venv"), str(reqs)],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not calls.exists(), calls.read_text()
