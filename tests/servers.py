"""Real servers on loopback for tests and benchmarks: `make run` (the local stack) and one
function alone under functions-framework's gunicorn, as Cloud Run runs it.

Each is started in its own session so that everything it spawns can be stopped together
by the group id of the process we started, and nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from ocr_local.stack import free_port, functions_framework_command

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120
RESULT_TIMEOUT_S = 60
#: Variables of the developer's shell that would change what a test server does.
_SCRUBBED = (
    "INPUT_BUCKET",
    "RESULTS_BUCKET",
    "RESULTS_PREFIX",
    "STORAGE_BACKEND",
    "API_KEYS",
    "RATE_LIMIT_RPS",
    "RATE_LIMIT_BURST",
    "TRUSTED_PROXY_HOPS",
    "MAX_UPLOAD_BYTES",
    "EVENT_MAX_AGE_S",
)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(extra or {})
    return env


class _Server:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _wait_healthy(self, health: bool = True) -> None:
        """Until /healthz says ok (or, for an event function, the port accepts)."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self._log_tail()}")
            try:
                if not health:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                if requests.get(f"{self.url}/healthz", timeout=2).json().get("status") == "ok":
                    return
            except (OSError, requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not healthy in {START_TIMEOUT_S} s:\n{self._log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def session_processes(self) -> list[int]:
        """PIDs still alive in the session we started (the group leader's id)."""
        assert self.process is not None
        sid = self.process.pid
        alive = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # fields: state ppid pgrp session ...; zombies are already dead
            if int(fields[3]) == sid and fields[0] != "Z":
                alive.append(int(entry.name))
        return alive

    def rss_kib(self, pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


class LocalStack(_Server):
    """`make run` on a free port with its own data folder."""

    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.extra_env = env or {}

    @property
    def input_dir(self) -> Path:
        return self.data_dir / "ocr-input"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "ocr-results"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "run",
                f"PORT={self.port}",
                f"DATA_DIR={self.data_dir}",
            ],
            cwd=ROOT,
            env=_env(self.extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy()

    def wait_result(self, name: str, timeout_s: float = RESULT_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = requests.get(f"{self.url}/results/{name}", timeout=10)
            if response.status_code == 200:
                return response.json()
            assert response.status_code == 202, response.text
            time.sleep(0.3)
        raise AssertionError(f"no result for {name} within {timeout_s} s")


class FunctionServer(_Server):
    """One function under ``python -m functions_framework`` (gunicorn, gthread), as in the
    cloud where no gateway stands in front of it."""

    def __init__(
        self,
        function: str,
        target: str,
        data_dir: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.function, self.target = function, target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_env = env or {}

    def start(self) -> None:
        env = _env(
            {
                "DATA_DIR": str(self.data_dir),
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
            }
        )
        self.process = subprocess.Popen(
            functions_framework_command(
                self.target, ROOT / "functions" / self.function / "main.py", self.port
            ),
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy(health=self.target != "on_object_finalized")

    def worker_pids(self) -> list[int]:
        return [pid for pid in self.session_processes() if pid != self.process.pid]


class EmulatorStack(_Server):
    """`make run-emulators` on free ports: fake-gcs-server, the Pub/Sub emulator, the
    functions and the front door, as a person runs it."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port, self.gcs_port, self.pubsub_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gcs_url = f"http://127.0.0.1:{self.gcs_port}"
        self.log_path = log_path
        self.extra_env = env or {}

    def start(self) -> None:
        env = _env({"GCS_PORT": str(self.gcs_port), "PUBSUB_PORT": str(self.pubsub_port)})
        env.pop("STORAGE_EMULATOR_HOST", None)
        env.update(self.extra_env)
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run-emulators", f"PORT={self.port}"],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy()
