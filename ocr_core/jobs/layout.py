"""The results bucket's layout: every object name the service writes for itself, and the
one rule that keeps a user's object from ever mapping onto one of them.

Names in the results bucket (after ``RESULTS_PREFIX`` when one is set)::

    <object>.json                                  the result of <object>
    <object>.shards/output-0001-to-0020.json       pages 1-20 of a document
    _operations/<id>.json                          an operation
    _operations/by-object/<sha256>.json            which operation processes an object
    _operations/progress/<id>/<index>/<first>-<last>.json   a finished shard (write-once)
    <object>.pdf, .hocr, .alto.xml, .txt            renditions (docs/formats.md)

A user's object ``X`` has its result at ``X.json``. That name is one of the service's own
exactly when ``X`` starts with ``_operations/`` or ends like a shard without its
``.json``; with one bucket for both, when ``X`` lies under the results prefix. Such
objects are reserved: never processed, never read back through ``GET /results``, refused
by ``POST /operations``, and answered with ``reserved_object_name`` instead of "pending".
(The local adapter's temporary files live outside the bucket folders, so no user name is
lost to them.)
"""

from __future__ import annotations

import re

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.recognition.render import Format

OPERATIONS_DIR = "_operations/"
SHARDS_SUFFIX = ".shards/"
#: A shard's name without its ``.json``: what a user object must not be called.
_SHARD_STEM = re.compile(r"\.shards/output-[0-9]+-to-[0-9]+$")


def reserved_reason(name: str, settings: Settings) -> str | None:
    """Why ``name`` cannot be a user's object (its result would be a service document),
    or None when it can."""
    if name.startswith(OPERATIONS_DIR) or name == OPERATIONS_DIR.rstrip("/"):
        return f"names under {OPERATIONS_DIR} are where the service keeps its operations"
    if _SHARD_STEM.search(name):
        return "names ending in .shards/output-N-to-M are where documents keep their page shards"
    if settings.results_bucket_is_input and name.startswith(settings.results_prefix):
        return f"names under {settings.results_prefix} are where the service writes results"
    return None


def check_not_reserved(name: str, settings: Settings) -> str:
    """``name``, or ReservedObjectName when the service keeps its own documents there."""
    reason = reserved_reason(name, settings)
    if reason is not None:
        raise errors.ReservedObjectName(
            f"The object name {name[:200]!r} is reserved: {reason}; rename the object",
            object=name[:200],
        )
    return name


def operations_prefix(settings: Settings) -> str:
    return f"{settings.results_prefix}{OPERATIONS_DIR}"


def shards_prefix(settings: Settings, object_name: str) -> str:
    """Where the shards of ``object_name`` live in the results bucket."""
    return f"{settings.results_prefix}{object_name}{SHARDS_SUFFIX}"


def shard_name(settings: Settings, object_name: str, first: int, last: int, pages: int) -> str:
    """``output-0001-to-0020.json``, Vision's naming padded so that names sort in page order."""
    width = max(4, len(str(pages)))
    return (
        f"{shards_prefix(settings, object_name)}output-{first:0{width}d}-to-{last:0{width}d}.json"
    )


def progress_prefix(settings: Settings, op_id: str, index: int) -> str:
    """Where the shard markers of document ``index`` of operation ``op_id`` live."""
    return f"{operations_prefix(settings)}progress/{op_id}/{index:05d}/"


def rendition_name(settings: Settings, object_name: str, fmt: Format) -> str:
    """Where the ``fmt`` file of ``object_name``'s result is written beside it."""
    return f"{settings.results_prefix}{object_name}{fmt.suffix}"
