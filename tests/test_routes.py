"""The one route table and the dispatch over it: every route reaches its handler through its
function, other methods get a JSON 405 with Allow, other paths a JSON 404."""

from __future__ import annotations

from typing import Any

import pytest

from ocr_core.http import routes
from ocr_core.http import upload as upload_api


def test_every_upload_route_has_its_handler() -> None:
    names = {route.name for route in routes.for_function("upload") if "vision" not in route.tags}
    assert names == set(upload_api._HANDLERS)
    assert len({route.name for route in routes.ROUTES}) == len(routes.ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "name", "params"),
    [
        ("POST", "/extract-text", "extractText", {}),
        ("POST", "/extract-text/", "extractText", {}),
        ("GET", "/results/scans/2026/a b.png", "getResult", {"object": "scans/2026/a b.png"}),
        ("HEAD", "/results/x.png", "getResult", {"object": "x.png"}),
        ("POST", "/operations/abc:cancel", "cancelOperation", {"id": "abc"}),
        ("GET", "/operations/abc", "getOperation", {"id": "abc"}),
        ("GET", "/operations", "listOperations", {}),
        ("POST", "/operations", "startOperation", {}),
        ("GET", "/assets/vendor/x.js", "staticAsset", {"asset": "vendor/x.js"}),
        ("GET", "/", "webPage", {}),
    ],
)
def test_match_finds_the_route_and_its_parameters(
    method: str, path: str, name: str, params: dict[str, str]
) -> None:
    route = routes.match(method, path)
    assert route is not None and route.name == name
    assert (route.params(path) or route.params(path.rstrip("/")) or {}) == params


def test_what_matches_nothing() -> None:
    assert routes.match("GET", "/extract-text") is None
    assert routes.allowed_methods("/extract-text") == ("POST",)
    assert routes.match("GET", "/operations/abc:cancel") is None
    assert routes.match("GET", "/results/") is None
    assert routes.match("GET", "/nope") is None and routes.allowed_methods("/nope") == ()
    assert routes.function_for_path("/results/a/b") == "results"
    assert routes.function_for_path("/operations/x") == "upload"


def test_prefixes_for_a_url_map_cover_every_route() -> None:
    assert routes.path_prefixes("results") == ["/results/"]
    upload = routes.path_prefixes("upload")
    assert {"/extract-text", "/batch-extract", "/operations", "/operations/", "/assets/"} <= set(
        upload
    )
    for route in routes.ROUTES:
        prefixes = routes.path_prefixes(route.function)
        example = (
            route.path.replace("{id}", "x").replace("{object}", "a/b").replace("{asset}", "app.js")
        )
        assert any(example == p or (p.endswith("/") and example.startswith(p)) for p in prefixes)


def test_upload_function_dispatch_answers_json_405_and_404(upload_client: Any) -> None:
    wrong = upload_client.get("/extract-text")
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert wrong.headers["Allow"] == "POST"
    elsewhere = upload_client.get("/results/x.png")
    assert elsewhere.status_code == 404
    assert "results function" in elsewhere.get_json()["error"]["message"]
    assert upload_client.get("/nope").get_json()["error"]["code"] == "not_found"


def test_results_function_serves_only_its_route(results_client: Any) -> None:
    assert results_client.get("/healthz").get_json() == {"status": "ok"}
    assert results_client.post("/results/x.png").status_code == 405
    assert results_client.post("/extract-text").status_code == 404
