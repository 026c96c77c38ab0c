"""Settings are read once per process; caches built from them change only through the one
public seam, ``reload_settings`` (never by noticing a new environment on their own)."""

from __future__ import annotations

import pytest

from ocr_core.config import get_settings, reload_settings
from ocr_core.engines import slots
from ocr_core.recognition.extract import result_cache


def test_caches_are_built_once_and_rebuilt_by_reload(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = result_cache()
    gate = slots._current_gate()
    monkeypatch.setenv("CACHE_MAX_ENTRIES", "3")
    monkeypatch.setenv("ENGINE_THREADS", "1")
    # The environment changed, the process did not look: same settings, same caches.
    assert get_settings().cache_max_entries != 3
    assert result_cache() is cache and slots._current_gate() is gate
    new = reload_settings()
    assert new.cache_max_entries == 3 and new.engine_pool_size == 1
    assert result_cache() is not cache and result_cache().max_entries == 3
    assert slots._current_gate() is not gate and slots._current_gate().slots == 1
