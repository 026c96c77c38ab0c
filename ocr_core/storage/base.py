"""The bucket port: the few object operations the pipeline needs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


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

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
