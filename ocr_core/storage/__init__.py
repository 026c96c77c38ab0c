"""Bucket factory: ``STORAGE_BACKEND`` picks the adapter; buckets are cached per process."""

from __future__ import annotations

import functools
import os

from ..config import Settings
from .base import Bucket, ObjectInfo, PreconditionFailed

__all__ = ["Bucket", "ObjectInfo", "PreconditionFailed", "open_bucket"]


@functools.lru_cache(maxsize=8)
def _open(backend: str, name: str, data_dir: str, emulator: str = "") -> Bucket:
    if backend == "local":
        from pathlib import Path

        from .local import LocalBucket

        return LocalBucket(Path(data_dir), name)
    if backend == "gcs":
        from .gcs import GcsBucket

        return GcsBucket(name)
    raise ValueError(f"Unknown STORAGE_BACKEND {backend!r}")


def open_bucket(settings: Settings, name: str) -> Bucket:
    """Bucket ``name`` on the settings' backend (one adapter per bucket and process)."""
    if settings.storage_backend == "gcs":
        # Keyed by the emulator too: tests and `make run-emulators` point at their own.
        return _open("gcs", name, "", os.environ.get("STORAGE_EMULATOR_HOST", ""))
    return _open(settings.storage_backend, name, str(settings.data_dir))
