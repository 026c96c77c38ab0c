"""Bucket factory: ``STORAGE_BACKEND`` picks the adapter; buckets are cached per process."""

from __future__ import annotations

import functools

from ..config import get_settings
from .base import Bucket, ObjectInfo, PreconditionFailed

__all__ = ["Bucket", "ObjectInfo", "PreconditionFailed", "open_bucket"]


@functools.lru_cache(maxsize=8)
def _open(backend: str, name: str, data_dir: str) -> Bucket:
    if backend == "local":
        from pathlib import Path

        from .local import LocalBucket

        return LocalBucket(Path(data_dir), name)
    raise ValueError(f"Unknown STORAGE_BACKEND {backend!r}")


def open_bucket(name: str) -> Bucket:
    settings = get_settings()
    return _open(settings.storage_backend, name, str(settings.data_dir))
