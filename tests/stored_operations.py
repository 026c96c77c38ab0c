"""Every operation document a flow left in a local results folder reads as a typed
``Operation`` and writes back byte for byte: the store stays the JSON it always was."""

from __future__ import annotations

import json
from pathlib import Path

from ocr_core.schema import DocumentEntry, Operation


def assert_round_trip(data_dir: Path) -> int:
    """Check every stored operation under ``data_dir``; returns how many there were."""
    count = 0
    for path in sorted(data_dir.rglob("_operations/*.json")):
        raw = path.read_bytes()
        op = Operation.from_dict(json.loads(raw))
        assert all(isinstance(d, DocumentEntry) for d in op.metadata.documents), path
        assert json.dumps(op.to_dict(), ensure_ascii=False).encode() == raw, path
        count += 1
    return count
