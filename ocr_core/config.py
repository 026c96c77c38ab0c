"""One configuration object, read from the environment once per process (``Settings.from_env``,
called by ``ocr_core.runtime`` at each function's entry) and passed down from there."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
STORAGE_BACKENDS = ("local", "gcs")
TASK_QUEUES = ("local", "pubsub")
#: Files that can be written beside a document's result (docs/formats.md).
OUTPUT_FORMATS = ("pdf", "hocr", "alto", "txt")


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


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0 or value != value:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def available_cores() -> int:
    """Cores this process may run on (a CPU set or ``taskset`` counts, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


def _str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    """Every knob the functions read. Names match the environment variables (upper-cased)."""

    ocr_engine: str = "auto"
    ocr_lang: str = "eng"
    storage_backend: str = "local"
    data_dir: Path = Path("data")
    input_bucket: str = "ocr-input"
    results_bucket: str = "ocr-results"
    results_prefix: str = ""
    max_upload_bytes: int = 10 * MIB
    max_image_pixels: int = 50_000_000
    engine_threads: int = 0  # 0: one engine instance per core
    engine_preload: bool = True  # build the engine as each worker process starts
    results_base_url: str = ""
    log_level: str = "INFO"
    # Multi-page documents (PDF, multi-page TIFF) and long-running operations.
    max_document_bytes: int = 100 * MIB
    max_document_pages: int = 2000
    document_shard_pages: int = 20
    pdf_render_dpi: int = 300
    document_page_max_pixels: int = 12_000_000
    # What a PDF page's images may decode to: PDFium decodes each whole to draw it. A
    # quarter of the OCR function's 2 GiB (terraform/variables.tf): a 20000x20000 grey
    # image (381 MiB decoded) peaked the worker at 706 MiB, a 40000x20000 one at 1,090.
    pdf_max_image_bytes: int = 512 * MIB
    pdf_use_text_layer: bool = True
    task_queue: str = "local"
    tasks_topic: str = ""
    max_operation_objects: int = 500
    max_batch_items: int = 20
    max_batch_bytes: int = 30 * MIB  # under Cloud Run's 32 MiB request cap
    vision_endpoint: str = ""  # empty: vision.googleapis.com; e.g. eu-vision.googleapis.com
    # Robustness and abuse controls (README: Configuration, Robustness).
    body_read_timeout_s: float = 30.0
    rate_limit_rps: float = 5.0  # per client, sustained; 0 turns rate limiting off
    rate_limit_burst: int = 20
    trusted_proxy_hops: int = 1
    api_keys: tuple[str, ...] = ()
    cache_max_entries: int = 256
    cache_max_bytes: int = 32 * MIB
    event_max_age_s: float = 86_400.0  # 0: never drop old events
    output_formats: tuple[str, ...] = ()  # written beside each document's result

    @property
    def engine_pool_size(self) -> int:
        return self.engine_threads or available_cores()

    @property
    def max_request_bytes(self) -> int:
        """Largest request body any HTTP route accepts (a batch may carry several files)."""
        return max(self.max_upload_bytes, self.max_batch_bytes)

    @property
    def max_object_bytes(self) -> int:
        """Largest input object read whole: an image, or a document (PDF, TIFF)."""
        return max(self.max_upload_bytes, self.max_document_bytes)

    @property
    def results_bucket_is_input(self) -> bool:
        return self.results_bucket == self.input_bucket

    def result_name(self, object_name: str) -> str:
        """Where the result document of ``object_name`` lives in the results bucket."""
        return f"{self.results_prefix}{object_name}.json"

    @classmethod
    def from_env(cls) -> Settings:
        """Read every knob from the environment; raises ValueError naming a bad one.

        Called once per process, at the function's entry (``ocr_core.runtime``): everything
        below gets the result passed in, never reads the environment itself."""
        return _load()


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
        engine_preload=_bool("ENGINE_PRELOAD", Settings.engine_preload),
        results_base_url=_str("RESULTS_BASE_URL", "").rstrip("/"),
        log_level=_str("LOG_LEVEL", Settings.log_level).upper(),
        **_document_settings(),
        max_batch_items=max(1, _int("MAX_BATCH_ITEMS", Settings.max_batch_items)),
        max_batch_bytes=_int("MAX_BATCH_BYTES", Settings.max_batch_bytes),
        vision_endpoint=_str("VISION_ENDPOINT", Settings.vision_endpoint).rstrip("/"),
        body_read_timeout_s=_float("BODY_READ_TIMEOUT_S", Settings.body_read_timeout_s),
        rate_limit_rps=_float("RATE_LIMIT_RPS", Settings.rate_limit_rps),
        rate_limit_burst=_int("RATE_LIMIT_BURST", Settings.rate_limit_burst),
        trusted_proxy_hops=_int("TRUSTED_PROXY_HOPS", Settings.trusted_proxy_hops),
        api_keys=tuple(k.strip() for k in os.environ.get("API_KEYS", "").split(",") if k.strip()),
        cache_max_entries=_int("CACHE_MAX_ENTRIES", Settings.cache_max_entries),
        cache_max_bytes=_int("CACHE_MAX_BYTES", Settings.cache_max_bytes),
        event_max_age_s=_float("EVENT_MAX_AGE_S", Settings.event_max_age_s),
        output_formats=_formats("OUTPUT_FORMATS"),
    )


def _formats(name: str) -> tuple[str, ...]:
    items = [f.strip().lower() for f in os.environ.get(name, "").split(",") if f.strip()]
    unknown = [f for f in items if f not in OUTPUT_FORMATS]
    if unknown:
        raise ValueError(f"{name} may list {', '.join(OUTPUT_FORMATS)}; got {unknown[0]!r}")
    return tuple(dict.fromkeys(items))


def _document_settings() -> dict[str, object]:
    queue = _str("TASK_QUEUE", Settings.task_queue).lower()
    if queue not in TASK_QUEUES:
        raise ValueError(f"TASK_QUEUE must be one of {TASK_QUEUES}, got {queue!r}")
    topic = _str("TASKS_TOPIC", "")
    if queue == "pubsub" and not topic.startswith("projects/"):
        raise ValueError("TASK_QUEUE=pubsub needs TASKS_TOPIC=projects/<project>/topics/<topic>")
    use_text = _str("PDF_USE_TEXT_LAYER", "true").lower()
    if use_text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"PDF_USE_TEXT_LAYER must be true or false, got {use_text!r}")
    return {
        "max_document_bytes": _int("MAX_DOCUMENT_BYTES", Settings.max_document_bytes),
        "max_document_pages": _int("MAX_DOCUMENT_PAGES", Settings.max_document_pages),
        "document_shard_pages": max(1, _int("DOCUMENT_SHARD_PAGES", Settings.document_shard_pages)),
        "pdf_render_dpi": max(36, _int("PDF_RENDER_DPI", Settings.pdf_render_dpi)),
        "document_page_max_pixels": _int(
            "DOCUMENT_PAGE_MAX_PIXELS", Settings.document_page_max_pixels
        ),
        "pdf_max_image_bytes": _int("PDF_MAX_IMAGE_MIB", Settings.pdf_max_image_bytes // MIB) * MIB,
        "pdf_use_text_layer": use_text in ("true", "1", "yes"),
        "task_queue": queue,
        "tasks_topic": topic,
        "max_operation_objects": max(
            1, _int("MAX_OPERATION_OBJECTS", Settings.max_operation_objects)
        ),
    }
