"""A Cloud Storage bucket through google-cloud-storage (imported when a bucket is opened).

Works unchanged against fake-gcs-server: the client library itself honours
``STORAGE_EMULATOR_HOST`` (and then sends no credentials). Same semantics as the local
adapter: ``stat`` answers None for a missing object, ``read`` refuses objects over
``max_bytes`` before downloading them, and ``write`` is one upload that either creates the
whole object or nothing, conditional on ``if_generation_match`` (0: only if absent) so that
the first writer wins and a loser learns it from ``PreconditionFailed``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from .. import errors
from ..names import validate_object_name
from .base import ObjectInfo, PreconditionFailed, within_limit

_clients: dict[str, Any] = {}
_client_lock = threading.Lock()


def client() -> Any:
    """One client per process (per emulator, in tests): it holds the HTTP session and the
    credentials, and is safe to share between threads for the calls made here."""
    key = os.environ.get("STORAGE_EMULATOR_HOST", "")
    found = _clients.get(key)
    if found is None:
        with _client_lock:
            found = _clients.get(key)
            if found is None:
                from google.cloud import storage

                found = _clients[key] = storage.Client()
    return found


def _api_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'storage trouble' rather than a bug: API errors and transport."""
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    return (api.GoogleAPIError, auth.TransportError, auth.RefreshError, requests.RequestException)


#: Total time one call may spend retrying passing faults. Short on purpose: a failed event
#: is delivered again by the platform, with backoff, so waiting longer here only holds an
#: instance (the client library's own default is 120 s).
RETRY_DEADLINE_S = 20.0
#: Per HTTP request: (connect, read) seconds.
REQUEST_TIMEOUT_S = (10.0, 60.0)


class GcsBucket:
    def __init__(
        self, name: str, storage_client: Any = None, retry_deadline_s: float = RETRY_DEADLINE_S
    ) -> None:
        from google.api_core import exceptions as api
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.name = name
        self._api = api
        self._client = storage_client or client()
        self._bucket = self._client.bucket(name)
        self._retry = DEFAULT_RETRY.with_timeout(retry_deadline_s)
        self._call = {"retry": self._retry, "timeout": REQUEST_TIMEOUT_S}

    def _info(self, blob: Any) -> ObjectInfo:
        updated = blob.updated.isoformat().replace("+00:00", "Z") if blob.updated else None
        return ObjectInfo(
            bucket=self.name,
            name=blob.name,
            generation=int(blob.generation),
            size=int(blob.size or 0),
            content_type=blob.content_type,
            updated=updated,
        )

    def stat(self, name: str) -> ObjectInfo | None:
        validate_object_name(name)
        try:
            blob = self._bucket.get_blob(name, **self._call)
        except _api_errors() as exc:
            raise errors.StorageError(f"Cannot stat object {name!r}") from exc
        return self._info(blob) if blob is not None else None

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        # One ranged request for at most max_bytes + 1 bytes: the size limit holds without a
        # stat first, so there is no window in which a rewrite (operation documents are
        # rewritten often) can make a present object look missing.
        call = dict(self._call)
        if max_bytes is not None:
            call["end"] = max_bytes  # inclusive
        try:
            data = bytes(self._bucket.blob(name).download_as_bytes(**call))
        except self._api.NotFound as exc:
            raise errors.NotFound(f"No object {name!r} in bucket {self.name!r}") from exc
        except self._api.RequestRangeNotSatisfiable:
            data = b""  # an empty object has no byte 0 to start a range at
        except _api_errors() as exc:
            raise errors.StorageError(f"Cannot read object {name!r}") from exc
        return within_limit(data, max_bytes)

    def write(
        self, name: str, data: bytes, content_type: str, if_generation_match: int | None = None
    ) -> ObjectInfo:
        validate_object_name(name)
        blob = self._bucket.blob(name)
        try:
            # One request creates the object whole or not at all; with a generation
            # precondition it is also safe for the client to retry.
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=if_generation_match,
                # An unconditional upload is not idempotent: the library then never retries.
                retry=self._retry if if_generation_match is not None else None,
                timeout=REQUEST_TIMEOUT_S,
            )
        except self._api.PreconditionFailed as exc:
            raise PreconditionFailed(f"{name}: generation is not {if_generation_match}") from exc
        except _api_errors() as exc:
            raise errors.StorageError(f"Cannot write object {name!r}") from exc
        return self._info(blob)

    def write_file(self, name: str, fh: BinaryIO, content_type: str) -> ObjectInfo:
        """Store a file object's contents in chunks (a resumable upload past 8 MiB), so a
        long document's PDF never sits in memory whole. Unconditional: not retried."""
        validate_object_name(name)
        blob = self._bucket.blob(name)
        try:
            blob.upload_from_file(fh, content_type=content_type, timeout=REQUEST_TIMEOUT_S)
        except _api_errors() as exc:
            raise errors.StorageError(f"Cannot write object {name!r}") from exc
        return self._info(blob)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for blob in self._client.list_blobs(self._bucket, prefix=prefix or None, **self._call):
                if not blob.name.endswith("/"):  # folder placeholders are not objects
                    yield self._info(blob)
        except _api_errors() as exc:
            raise errors.StorageError(f"Cannot list bucket {self.name!r}") from exc
