"""Files written beside a result in the results bucket (``OUTPUT_FORMATS``), and the
source bytes the searchable PDF draws from.

``scans/contract.pdf`` gets ``scans/contract.pdf.pdf``, ``.hocr``, ``.alto.xml`` and
``.txt`` beside ``scans/contract.pdf.json``. Each is rendered chunk by chunk into a
spooled temporary file (memory up to a few MiB, then disk) and stored in one write.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.jobs.layout import rendition_name
from ocr_core.jobs.store import load_json
from ocr_core.logs import get_logger
from ocr_core.recognition.render import FORMATS, render
from ocr_core.storage import Bucket, open_bucket

log = get_logger("render.store")

SPOOL_BYTES = 8 * 1024 * 1024


def shard_loader(results: Bucket) -> Any:
    def load(name: str) -> dict[str, Any] | None:
        return load_json(results, name)

    return load


def source_of(settings: Settings, result: dict[str, Any]) -> bytes:
    """The bytes ``result`` was made from, read from the input bucket and checked against
    the result's own sha256: never a page drawn from another version of the object."""
    obj = result.get("object") or {}
    name = obj.get("name")
    expected = (result.get("document") or result.get("image") or {}).get("sha256")
    if not name or not expected:
        raise errors.SourceUnavailable("The result does not say which file it was made from")
    bucket = open_bucket(settings, obj.get("bucket") or settings.input_bucket)
    try:
        data = bucket.read(name, max_bytes=settings.max_object_bytes)
    except errors.NotFound:
        raise errors.SourceUnavailable(
            f"The object {name!r} is no longer stored, so its pages cannot be drawn; the "
            "json, txt, hocr and alto formats still can be",
            object=name,
        ) from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise errors.SourceUnavailable(
            f"The object {name!r} was replaced after this result was made", object=name
        )
    return data


def spool(chunks: Iterator[bytes]) -> BinaryIO:
    """The chunks in a temporary file, rewound: bounded memory whatever the size."""
    fh = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
    try:
        for chunk in chunks:
            fh.write(chunk)
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return fh  # type: ignore[return-value]


def write_renditions(
    settings: Settings,
    result: dict[str, Any],
    formats: tuple[str, ...],
    source: bytes | None = None,
    *,
    retry: bool = True,
) -> list[str]:
    """Render ``result`` in each of ``formats`` and store the files beside it; returns
    the names written. A permanent rendering failure is logged and skipped (the JSON
    result stands). A storage failure raises TransientError so the task is retried, or
    with ``retry=False`` (where a retry would not come back here) is logged: the file is
    then rendered on the fly when asked for."""
    if not formats or result.get("status") != "done":
        return []
    results = open_bucket(settings, settings.results_bucket)
    name = (result.get("object") or {}).get("name") or ""
    written: list[str] = []
    for fmt_name in formats:
        fmt = FORMATS[fmt_name]
        target = rendition_name(settings, name, fmt)
        try:
            data = source
            if fmt.needs_source and data is None:
                data = source = source_of(settings, result)
            chunks = render(fmt, result, name=name, source=data, load_shard=shard_loader(results))
            with spool(chunks) as fh:
                results.write_file(target, fh, fmt.media_type)
        except errors.TransientError:
            if retry:
                raise
            log.warning("rendition not written; served on the fly", extra={"file": target})
            continue
        except errors.OcrError as exc:
            log.warning("rendition not written", extra={"file": target, "code": exc.code})
            continue
        except Exception:
            log.exception("rendition failed", extra={"file": target})
            continue
        written.append(target)
    if written:
        log.info("renditions stored", extra={"files": written})
    return written
