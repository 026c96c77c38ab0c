"""One configuration object, read from the environment once per process."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
STORAGE_BACKENDS = ("local",)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    """Every knob the functions read. Names match the environment variables (upper-cased)."""

    ocr_engine: str = "tesseract"
    ocr_lang: str = "eng"
    storage_backend: str = "local"
    data_dir: Path = Path("data")
    input_bucket: str = "ocr-input"
    results_bucket: str = "ocr-results"
    results_prefix: str = ""
    max_upload_bytes: int = 10 * MIB
    max_image_pixels: int = 50_000_000
    engine_threads: int = 0  # 0: one engine instance per core
    results_base_url: str = ""
    log_level: str = "INFO"

    @property
    def engine_pool_size(self) -> int:
        return self.engine_threads or (os.cpu_count() or 1)

    @property
    def results_bucket_is_input(self) -> bool:
        return self.results_bucket == self.input_bucket

    def result_name(self, object_name: str) -> str:
        """Where the result document of ``object_name`` lives in the results bucket."""
        return f"{self.results_prefix}{object_name}.json"


def _load() -> Settings:
    input_bucket = _str("INPUT_BUCKET", Settings.input_bucket)
    results_bucket = _str("RESULTS_BUCKET", Settings.results_bucket)
    results_prefix = os.environ.get("RESULTS_PREFIX", "").strip()
    if results_bucket == input_bucket and not results_prefix:
        # One bucket for both: results must live under a prefix the OCR function ignores,
        # or every result would trigger another OCR run (GCS triggers filter by bucket only).
        results_prefix = "_results/"
    if results_prefix and not results_prefix.endswith("/"):
        results_prefix += "/"
    backend = _str("STORAGE_BACKEND", Settings.storage_backend).lower()
    if backend not in STORAGE_BACKENDS:
        raise ValueError(f"STORAGE_BACKEND must be one of {STORAGE_BACKENDS}, got {backend!r}")
    return Settings(
        ocr_engine=_str("OCR_ENGINE", Settings.ocr_engine).lower(),
        ocr_lang=_str("OCR_LANG", Settings.ocr_lang),
        storage_backend=backend,
        data_dir=Path(_str("DATA_DIR", str(Settings.data_dir))).expanduser().resolve(),
        input_bucket=input_bucket,
        results_bucket=results_bucket,
        results_prefix=results_prefix,
        max_upload_bytes=_int("MAX_UPLOAD_BYTES", Settings.max_upload_bytes),
        max_image_pixels=_int("MAX_IMAGE_PIXELS", Settings.max_image_pixels),
        engine_threads=_int("ENGINE_THREADS", Settings.engine_threads),
        results_base_url=_str("RESULTS_BASE_URL", "").rstrip("/"),
        log_level=_str("LOG_LEVEL", Settings.log_level).upper(),
    )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _load()


def reload_settings() -> Settings:
    """Re-read the environment (tests and the local stack change it between runs)."""
    get_settings.cache_clear()
    return get_settings()
