"""The results bucket's layout: the names the service writes for itself.

Names in the results bucket (after ``RESULTS_PREFIX`` when one is set)::

    _operations/<id>.json                                    an operation
    _operations/by-object/<sha256>.json                      which operation has an object
    _operations/progress/<id>/<document index>/<first>-<last>.json   one per finished shard
"""

from __future__ import annotations

from ocr_core.config import Settings

OPERATIONS_DIR = "_operations/"


def operations_prefix(settings: Settings) -> str:
    """Operations live under this prefix of the results bucket (reserved for them)."""
    return f"{settings.results_prefix}{OPERATIONS_DIR}"


def progress_prefix(settings: Settings, op_id: str, index: int) -> str:
    """Where the shard markers of document ``index`` of operation ``op_id`` live."""
    return f"{operations_prefix(settings)}progress/{op_id}/{index:05d}/"
