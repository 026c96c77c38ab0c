"""The layers hold: every import in ocr_core points down, none forms a cycle, Flask lives in http.

Read from the source (every import statement, in functions and under TYPE_CHECKING too), so
a lazy import cannot hide an upward edge or a cycle.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ocr_core"

#: What each layer may import besides itself. ``bottom`` is config, errors, logs, names,
#: memory, schema and the package's __init__; ``runtime`` is ocr_core/runtime.py.
ALLOWED: dict[str, set[str]] = {
    "bottom": set(),
    "engines": {"bottom"},
    "storage": {"bottom"},
    "recognition": {"bottom", "engines"},
    "jobs": {"bottom", "engines", "recognition", "storage"},
    "http": {"bottom", "engines", "recognition", "storage", "jobs"},
    # The composition root: builds every layer's context from the settings; only the
    # function entry points import it (test_runtime.py).
    "runtime": {"bottom", "engines", "recognition", "storage", "jobs", "http"},
}
WEB_PACKAGES = {"flask", "werkzeug", "functions_framework"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in CORE.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "bottom"


def imports(module: str) -> set[str]:
    """The ocr_core modules and the top-level external packages ``module`` imports."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in modules() else source)
    core = {m for m in found if m.split(".")[0] == "ocr_core"}
    resolved = set()
    for m in core:
        while m not in modules():  # from ocr_core.engines.base import Block -> the module
            m = m.rpartition(".")[0]
        resolved.add(m)
    return resolved | {m.split(".")[0] for m in found if m.split(".")[0] != "ocr_core"}


def core_graph() -> dict[str, set[str]]:
    return {m: {d for d in imports(m) if d in modules() and d != m} for m in modules()}


def test_the_scan_sees_the_layers() -> None:
    # The test can fail: it finds known edges, so an empty scan cannot pass it.
    graph = core_graph()
    assert "ocr_core.recognition.extract" in graph["ocr_core.http.context"]
    assert "ocr_core.recognition.documents" in graph["ocr_core.jobs.images"]
    assert {layer(m) for m in graph} == set(ALLOWED)


def test_nothing_imports_upward() -> None:
    upward = [
        f"{m} ({layer(m)}) imports {d} ({layer(d)})"
        for m, deps in core_graph().items()
        for d in deps
        if layer(d) != layer(m) and layer(d) not in ALLOWED[layer(m)]
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = core_graph()
    # The package __init__ files run on any import below them; an edge to one is no cycle.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_flask_lives_only_in_http() -> None:
    outside = {
        m: sorted(imports(m) & WEB_PACKAGES)
        for m in modules()
        if layer(m) != "http" and imports(m) & WEB_PACKAGES
    }
    assert outside == {}
    assert "flask" in imports("ocr_core.http.guard")


@pytest.mark.parametrize("function", ["upload", "ocr", "results"])
def test_functions_enter_through_one_layer(function: str) -> None:
    """Each function's main.py is thin: the upload and results functions speak to http,
    the OCR function (events, no HTTP surface of its own) to jobs."""
    tree = ast.parse((ROOT / "functions" / function / "main.py").read_text())
    core = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ocr_core")
    }
    assert core, "main.py imports nothing from ocr_core?"
    entry = "ocr_core.jobs" if function == "ocr" else "ocr_core.http"
    assert entry in core


def test_one_module_tells_images_documents_and_tasks_apart() -> None:
    """``jobs.dispatch`` is the one fork: the only jobs module that knows both the image job
    and the document jobs, and the only one besides the image job (which reads a stored
    object's bytes and hands a document over through dispatch's callback) that asks what
    kind of bytes an object holds."""
    graph = core_graph()
    images, documents = "ocr_core.jobs.images", "ocr_core.jobs.documents"
    both = sorted(
        m for m, deps in graph.items() if layer(m) == "jobs" and {images, documents} <= deps
    )
    assert both == ["ocr_core.jobs.dispatch"]
    assert images not in graph[documents] and documents not in graph[images]

    def asks_the_kind(module: str) -> bool:
        tree = ast.parse(modules()[module].read_text())
        return any(
            isinstance(node, ast.ImportFrom)
            and node.module == "ocr_core.recognition.documents"
            and any(alias.name == "document_kind" for alias in node.names)
            for node in ast.walk(tree)
        )

    jobs_asking = sorted(m for m in modules() if layer(m) == "jobs" and asks_the_kind(m))
    assert jobs_asking == ["ocr_core.jobs.dispatch", images]
