"""Start the whole pipeline on one machine: ``python -m ocr_local`` (what ``make run`` does).

Each function runs in its own functions-framework process on a private loopback port, as
each is its own service in the cloud; a gateway gives the HTTP routes one base URL; a
watcher turns files landing in the input folder into storage CloudEvents. A function
process that dies is restarted; stopping the stack (Ctrl-C, SIGTERM) stops them all, and
they die with the stack even when it is killed outright (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ocr_core.config import Settings
from ocr_core.jobs.tasks import local_queue_folder
from ocr_core.logs import get_logger, setup_logging

from .gateway import FrontDoor
from .task_pusher import TaskPusher, http_deliver
from .watcher import Watcher

ROOT = Path(__file__).resolve().parent.parent
log = get_logger("local.stack")


@dataclass
class FunctionSpec:
    name: str
    target: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: int = 0

    @property
    def source(self) -> Path:
        return ROOT / "functions" / self.name / "main.py"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return functions_framework_command(self.target, self.source, self.port)


def functions_framework_command(target: str, source: Path, port: int) -> list[str]:
    """functions-framework serving ``target`` of ``source`` on a loopback port, as in the
    cloud (the benchmarks and tests start their functions with it too)."""
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--target",
        target,
        "--source",
        str(source),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes] | None, timeout_s: float = 10) -> None:
    """Stop a process we started in its own session, with everything it started."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the stack dies, even by SIGKILL (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Stack:
    def __init__(self, host: str, port: int, env: dict[str, str]) -> None:
        self.host, self.port, self.env = host, port, env
        self.functions = [
            FunctionSpec("upload", "extract_text"),
            FunctionSpec("ocr", "on_object_finalized"),
            FunctionSpec("results", "get_result"),
        ]
        self._stopping = threading.Event()
        self.pusher: TaskPusher | None = None

    def _spawn(self, spec: FunctionSpec) -> None:
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        spec.process = subprocess.Popen(spec.command(), env=self.env, cwd=ROOT, preexec_fn=preexec)

    def _wait_ready(self, spec: FunctionSpec, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if spec.process is not None and spec.process.poll() is not None:
                raise RuntimeError(f"{spec.name} function exited with {spec.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", spec.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{spec.name} function did not start within {timeout_s:.0f} s")

    def start(self) -> tuple[FrontDoor, Watcher]:
        taken = {self.port}
        for spec in self.functions:
            while not spec.port or spec.port in taken:
                spec.port = free_port()
            taken.add(spec.port)
        upload, ocr, results = self.functions
        settings = Settings.from_env()
        # One base URL, routed by ocr_core.http.routes, capped per route as the functions
        # cap. Bound before any function starts: while they boot, their own sockets (and
        # their workers' connections) could otherwise take the public port.
        gateway = FrontDoor(
            (self.host, self.port),
            {"upload": upload.port, "results": results.port},
            settings,
            health=self.health,
        )
        try:
            for spec in self.functions:
                self._spawn(spec)
            for spec in self.functions:
                self._wait_ready(spec)
        except BaseException:
            gateway.socket.close()
            raise
        gateway.start()
        watcher = Watcher(settings, ocr.url, workers=max(2, os.cpu_count() or 1))
        watcher.start()
        # Operation tasks (document pages) reach the OCR function as Pub/Sub pushes would.
        self.pusher = TaskPusher(
            local_queue_folder(settings), http_deliver(ocr.url), workers=max(2, os.cpu_count() or 1)
        )
        self.pusher.start()
        return gateway, watcher

    def health(self) -> dict[str, object]:
        alive = {s.name: s.process is not None and s.process.poll() is None for s in self.functions}
        return {"status": "ok" if all(alive.values()) else "degraded", "functions": alive}

    def supervise(self) -> None:
        """Restart a function process that died, until asked to stop."""
        while not self._stopping.wait(0.5):
            for spec in self.functions:
                if spec.process is not None and spec.process.poll() is not None:
                    spec.restarts += 1
                    log.error(
                        "function process died; restarting",
                        extra={
                            "function": spec.name,
                            "code": spec.process.returncode,
                            "restarts": spec.restarts,
                        },
                    )
                    self._spawn(spec)

    def stop(self) -> None:
        self._stopping.set()
        if self.pusher is not None:
            self.pusher.stop()
        for spec in self.functions:
            if spec.process is not None and spec.process.poll() is None:
                spec.process.terminate()
        for spec in self.functions:
            if spec.process is not None:
                try:
                    spec.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    spec.process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr_local", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "data"))
    args = parser.parse_args(argv)

    data_dir = Path(args.data_dir).expanduser().resolve()
    base_url = f"http://{args.host}:{args.port}"
    env = dict(os.environ)
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "STORAGE_BACKEND": "local",
            "RESULTS_BASE_URL": env.get("RESULTS_BASE_URL") or base_url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    os.environ.update(env)
    settings = Settings.from_env()
    setup_logging(settings.log_level)
    for bucket in {settings.input_bucket, settings.results_bucket}:
        (data_dir / bucket).mkdir(parents=True, exist_ok=True)

    stack = Stack(args.host, args.port, env)
    signal.signal(signal.SIGTERM, lambda *_: stack._stopping.set())
    try:
        gateway, watcher = stack.start()
    except (RuntimeError, OSError) as exc:
        print(f"ocr_local: could not start: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    print(
        f"""
OCR pipeline running at {base_url}
  web page      {base_url}/   (API docs: {base_url}/docs)
  inline OCR    curl -F "image=@test_images/hello.jpg" {base_url}/extract-text
  background    cp scan.jpg {data_dir / settings.input_bucket}/
  results       curl {base_url}/results/scan.jpg
  operations    curl {base_url}/operations
Buckets are folders under {data_dir}. Ctrl-C stops everything.
""",
        file=sys.stderr,
        flush=True,
    )
    try:
        stack.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        gateway.stop()
        stack.stop()
    return 0
