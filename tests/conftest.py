"""Shared fixtures: a fresh local data folder per test, the functions through
functions-framework's own test client, and the real corpus in ../shared when present."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from bench.scoring import cer, words
from ocr_core import runtime
from ocr_core.config import Settings
from ocr_core.engines import Engine
from ocr_core.http.context import HttpContext
from ocr_local.emulators import EmulatorChain, EmulatorUnavailable, FakeGcsServer

__all__ = ["cer", "words"]  # the benchmark's scoring, shared with the tests

ROOT = Path(__file__).resolve().parent.parent
TEST_IMAGES = ROOT / "test_images"
SAMPLES = ROOT.parent / "shared" / "ocr-samples"
VISION_FIXTURES = ROOT.parent / "shared" / "vision-fixtures"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at an empty local data folder for this test only."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    for name in (
        "INPUT_BUCKET",
        "RESULTS_BUCKET",
        "RESULTS_PREFIX",
        "MAX_UPLOAD_BYTES",
        "RESULTS_BASE_URL",
        "OCR_ENGINE",
        "OCR_LANG",
        "API_KEYS",
        "EVENT_MAX_AGE_S",
        "CACHE_MAX_ENTRIES",
        "CACHE_MAX_BYTES",
        "TRUSTED_PROXY_HOPS",
        "BODY_READ_TIMEOUT_S",
    ):
        monkeypatch.delenv(name, raising=False)
    # Every request of the suite comes from 127.0.0.1: tests that are about the rate
    # limit turn it on themselves.
    monkeypatch.setenv("RATE_LIMIT_RPS", "0")
    # A new context: fresh settings, engine gate, result cache and rate limiter.
    yield runtime.reload().settings
    monkeypatch.undo()
    runtime.reload()


@pytest.fixture
def ctx(settings: Settings) -> HttpContext:
    """This test's process context (``runtime.current()``): call it again after
    ``reconfigure`` for the new one."""
    return runtime.current()


@pytest.fixture
def reconfigure(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Change environment variables for this test and re-read the settings."""

    def apply(**env: str) -> Settings:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return runtime.reload().settings

    return apply


def _client(function: str, target: str) -> Any:
    app = functions_framework.create_app(
        target=target, source=str(ROOT / "functions" / function / "main.py")
    )
    return app.test_client()


@pytest.fixture
def upload_client(settings: Settings) -> Any:
    return _client("upload", "extract_text")


@pytest.fixture
def results_client(settings: Settings) -> Any:
    return _client("results", "get_result")


@pytest.fixture
def ocr_client(settings: Settings) -> Any:
    return _client("ocr", "on_object_finalized")


def extract(data: bytes, **kw: Any) -> dict[str, Any]:
    """The inline path (``Recognizer.extract``) of the current context: after a
    ``reconfigure``, the new one."""
    return runtime.current().recognizer.extract(data, **kw)


def engine(name: str | None = None) -> Engine:
    """Engine ``name`` (default: ``OCR_ENGINE``) from the current context's registry."""
    return runtime.current().jobs.engines.get(name)


def image_bytes(name: str) -> bytes:
    return (TEST_IMAGES / name).read_bytes()


def ground_truth(path: Path) -> str:
    stem = path.name.rsplit(".", 1)[0]
    return (path.parent / f"{stem}.gt.txt").read_text(encoding="utf-8")


@pytest.fixture
def samples() -> Path:
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        pytest.skip(f"real corpus not found at {SAMPLES}")
    return SAMPLES


def finalized_headers(bucket: str, name: str, event_id: str = "evt-1") -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": "google.cloud.storage.object.v1.finalized",
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "ce-subject": f"objects/{name}",
        "ce-time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "Content-Type": "application/json",
    }


def finalized_body(bucket: str, name: str, generation: int | None) -> str:
    body: dict[str, Any] = {"kind": "storage#object", "bucket": bucket, "name": name}
    if generation is not None:
        body["generation"] = str(generation)
    return json.dumps(body)


@pytest.fixture(scope="module")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcsServer]:
    """fake-gcs-server for the tests of one module (each makes buckets of its own); skips
    with the reason when its binary is missing."""
    log = tmp_path_factory.mktemp("fake-gcs") / "fake-gcs-server.log"
    try:
        server = FakeGcsServer(log).start()
    except EmulatorUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorChain]:
    """The cloud wiring on emulators (fake-gcs-server -> Pub/Sub emulator -> functions) for
    the tests of one module; skips with the reason when an emulator is missing."""
    emulators = EmulatorChain(work_dir=tmp_path_factory.mktemp("emulators"))
    try:
        emulators.start()
    except EmulatorUnavailable as exc:
        pytest.skip(f"emulator chain unavailable: {exc}")
    yield emulators
    emulators.stop()


@pytest.fixture(scope="module")
def storage_client(chain: EmulatorChain) -> Any:
    """The official google-cloud-storage client, pointed at the chain's fake-gcs-server."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="ocr-local",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": chain.gcs_url},
    )
