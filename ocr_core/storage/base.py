"""The bucket port: the few object operations the pipeline needs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from .. import errors


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    name: str
    generation: int
    size: int
    content_type: str | None = None
    updated: str | None = None


class PreconditionFailed(Exception):
    """A conditional write lost: the object's generation was not the one asked for."""


class Bucket(Protocol):
    name: str

    def stat(self, name: str) -> ObjectInfo | None: ...

    def read(self, name: str, max_bytes: int | None = None) -> bytes: ...

    def write(
        self, name: str, data: bytes, content_type: str, if_generation_match: int | None = None
    ) -> ObjectInfo: ...

    def write_file(self, name: str, fh: BinaryIO, content_type: str) -> ObjectInfo:
        """An unconditional write of a file object's contents, streamed (renditions)."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...


def within_limit(data: bytes, max_bytes: int | None) -> bytes:
    """``data`` if it fits ``max_bytes``; adapters read one byte past the limit to tell."""
    if max_bytes is not None and len(data) > max_bytes:
        raise errors.FileTooLarge(
            f"The object is larger than {max_bytes} bytes", limit_bytes=max_bytes
        )
    return data
