"""Settings are read once per process, at the function's entry (``ocr_core.runtime``), and
passed down: what is built from them (engine gate, answer cache, rate limiter) belongs to
the context built with them, never to a module global that notices a new environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ocr_core import runtime
from ocr_core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ocr_core"

#: Environment variables read below the entry, each another tool's convention rather than
#: a setting of ours: the Google client library's emulator switch, Tesseract's data folder,
#: glibc's arena count, and the project Cloud Run names.
FOREIGN_ENV = {
    "ocr_core/storage/__init__.py": "STORAGE_EMULATOR_HOST",
    "ocr_core/storage/gcs.py": "STORAGE_EMULATOR_HOST",
    "ocr_core/engines/tesseract.py": "TESSDATA_PREFIX",
    "ocr_core/memory.py": "MALLOC_ARENA_MAX",
    "ocr_core/logs.py": "GOOGLE_CLOUD_PROJECT",
}


def _environment_reads(path: Path) -> list[str]:
    """The variable each ``os.environ`` / ``os.getenv`` use in ``path`` names (the first
    upper-case string on its line), or ``?``."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            quoted = [p for p in lines[node.lineno - 1].split('"')[1::2] if p.isupper()]
            found.append(quoted[0] if quoted else "?")
    return found


def test_only_config_reads_the_environment() -> None:
    reads = {
        str(path.relative_to(ROOT)): _environment_reads(path)
        for path in CORE.rglob("*.py")
        if path.name != "config.py"
    }
    ours = {
        path: names
        for path, names in reads.items()
        if names and any(name != FOREIGN_ENV.get(path) for name in names)
    }
    assert ours == {}
    assert reads["ocr_core/storage/gcs.py"], "the scan finds known reads"


def test_runtime_is_imported_by_the_entry_points_only() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in CORE.rglob("*.py")
        if path.name != "runtime.py" and _imports_runtime(path)
    ]
    assert importers == []
    for function in ("upload", "ocr", "results"):
        assert _imports_runtime(ROOT / "functions" / function / "main.py")


def _imports_runtime(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (
            node.module == "ocr_core.runtime"
            or (node.module == "ocr_core" and any(a.name == "runtime" for a in node.names))
        ):
            return True
        if isinstance(node, ast.Import) and any(a.name == "ocr_core.runtime" for a in node.names):
            return True
    return False


def test_the_environment_is_read_once_and_again_only_on_reload(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = runtime.current()
    monkeypatch.setenv("CACHE_MAX_ENTRIES", "3")
    monkeypatch.setenv("ENGINE_THREADS", "1")
    monkeypatch.setenv("RATE_LIMIT_RPS", "7")
    # The environment changed, the process did not look: same context, same caches.
    assert runtime.current() is first
    assert first.settings.cache_max_entries != 3
    new = runtime.reload()
    assert runtime.current() is new
    assert new.settings.cache_max_entries == 3 and new.settings.engine_pool_size == 1
    # Everything built from the settings is built anew with them, explicitly.
    assert new.recognizer.cache is not first.recognizer.cache
    assert new.recognizer.cache.max_entries == 3
    assert new.jobs.engines.gate is not first.jobs.engines.gate
    assert new.jobs.engines.gate.slots == 1
    assert new.limiter is not first.limiter and new.limiter.rate == 7


def test_contexts_do_not_share_what_they_build(settings: Settings) -> None:
    """Two contexts (two configurations in one process: tests, tools) keep their own cache
    and gate; the engines themselves, dear to build, are shared when built alike."""
    one = runtime.build(settings)
    two = runtime.build(settings)
    assert one.recognizer.cache is not two.recognizer.cache
    assert one.jobs.engines.gate is not two.jobs.engines.gate
    assert one.jobs.engines.get("tesseract") is two.jobs.engines.get("tesseract")


def test_a_bad_setting_fails_at_the_entry_with_its_name(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "lots")
    with pytest.raises(ValueError, match="MAX_UPLOAD_BYTES"):
        runtime.reload()
