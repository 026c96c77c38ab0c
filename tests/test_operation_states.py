"""The seams of jobs/: a document's state machine, and the one module that names objects.

A document entry (a typed ``schema.DocumentEntry``) changes state only through
``operations.move``; every object name the service writes for itself comes from
``jobs.layout`` and is covered by its reserved-name rule.
"""

from __future__ import annotations

import dataclasses

import pytest

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.jobs import layout, operations
from ocr_core.jobs.operations import CANCELLED, DONE, FAILED, NEXT, QUEUED, RUNNING, TERMINAL
from ocr_core.schema import DocumentEntry, ErrorDetail


def _entry(state: str) -> DocumentEntry:
    entry = operations.document_entry(Settings(), "in", "a.pdf", 1)
    entry.state = state  # type: ignore[assignment]
    return entry


def test_terminal_states_never_change_and_every_state_is_reachable() -> None:
    assert set(NEXT) == {QUEUED, RUNNING, *TERMINAL}
    assert all(NEXT[state] == frozenset() for state in TERMINAL)
    reachable, frontier = {QUEUED}, [QUEUED]
    while frontier:
        for nxt in NEXT[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(NEXT)


@pytest.mark.parametrize(
    ("start", "target", "only_from", "moved"),
    [
        (QUEUED, RUNNING, (), True),
        (RUNNING, DONE, (RUNNING,), True),
        (QUEUED, DONE, (RUNNING,), False),  # finalize only finishes a running document
        (RUNNING, RUNNING, (), False),  # planned twice: the second plan records nothing
        (DONE, FAILED, (), False),  # a late failure cannot undo a result
        (CANCELLED, RUNNING, (), False),  # a task after a cancel stays cancelled
        (FAILED, CANCELLED, (), False),
    ],
)
def test_move_follows_the_state_machine(
    start: str, target: str, only_from: tuple[str, ...], moved: bool
) -> None:
    entry = _entry(start)
    assert operations.move(entry, target, only_from=only_from, pages_done=7) is moved
    assert entry.state == (target if moved else start)
    assert entry.pages_done == (7 if moved else 0)  # nothing changes on a refusal


@pytest.mark.parametrize("terminal", TERMINAL)
def test_a_terminal_entry_never_moves_and_keeps_every_field(terminal: str) -> None:
    entry = _entry(terminal)
    entry.error = ErrorDetail("corrupt_document", "damaged")
    before = entry.to_dict()
    for target in NEXT:
        assert operations.move(entry, target, pages_done=9, error=None) is False
    assert entry.to_dict() == before


def test_move_sets_only_fields_the_entry_has() -> None:
    entry = _entry(QUEUED)
    with pytest.raises(TypeError, match="page_cuont"):
        operations.move(entry, RUNNING, page_cuont=3)
    with pytest.raises(TypeError, match="state"):
        operations.move(entry, RUNNING, state=DONE)
    assert entry.state == QUEUED


def test_cancel_stops_only_what_is_not_finished() -> None:
    entries = [operations.document_entry(Settings(), "in", f"d{i}.pdf", 1) for i in range(4)]
    for entry, state in zip(entries, (QUEUED, RUNNING, DONE, FAILED), strict=True):
        entry.state = state  # type: ignore[assignment]
    op = operations.new_operation("20261203T000000000000Z-abc", entries, "test", {})
    stopped = [d.object.name for d in op.metadata.documents if operations.move(d, CANCELLED)]
    assert stopped == ["d0.pdf", "d1.pdf"]
    assert [d.state for d in op.metadata.documents] == [
        CANCELLED,
        CANCELLED,
        DONE,
        FAILED,
    ]


def test_every_name_the_service_writes_is_reserved() -> None:
    settings = Settings()
    op_id = "20261203T000000000000Z-abc"
    shard = layout.shard_name(settings, "scans/a.pdf", 21, 40, 120)
    assert shard == "scans/a.pdf.shards/output-0021-to-0040.json"
    assert layout.shard_name(settings, "b.pdf", 1, 20, 12345) == (
        "b.pdf.shards/output-00001-to-00020.json"  # padded to sort in page order
    )
    marker_dir = layout.progress_prefix(settings, op_id, 3)
    written = [
        f"{layout.operations_prefix(settings)}{op_id}.json",
        f"{marker_dir}000001-000020.json",
        shard,
    ]
    for name in written:
        # The user object whose result would land on this name is refused.
        user_object = name.removesuffix(".json")
        assert layout.reserved_reason(user_object, settings), name
        with pytest.raises(errors.ReservedObjectName):
            layout.check_not_reserved(user_object, settings)
    assert layout.reserved_reason("scans/a.pdf", settings) is None
    assert layout.check_not_reserved("scans/a.pdf", settings) == "scans/a.pdf"


def test_a_results_prefix_moves_every_name() -> None:
    settings = dataclasses.replace(Settings(), results_prefix="_results/")
    assert layout.operations_prefix(settings) == "_results/_operations/"
    assert layout.progress_prefix(settings, "x", 0).startswith("_results/_operations/progress/")
    assert layout.shard_name(settings, "a.pdf", 1, 1, 1).startswith("_results/a.pdf.shards/")
