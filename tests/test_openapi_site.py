"""The OpenAPI document, /docs and the web page's files, through functions-framework.

Real responses of the functions are validated against the document's own schemas, so the
document cannot drift from what the code answers.
"""

from __future__ import annotations

import gzip
import inspect
import io
import json
import re
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from ocr_core import errors
from ocr_core.http import routes, site

from .conftest import image_bytes


@pytest.fixture
def spec(upload_client: Any) -> dict[str, Any]:
    response = upload_client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; carry the components along so that
    # "#/components/..." references resolve inside the root schema.
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def _response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    responses = spec["paths"][path][method]["responses"]
    return responses[str(status)]["content"]["application/json"]["schema"]


def _check(spec: dict[str, Any], path: str, method: str, response: Any) -> None:
    schema = _response_schema(spec, path, method, response.status_code)
    _validator(spec, schema).validate(response.get_json())


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_route_and_every_error_code_is_described(spec: dict[str, Any]) -> None:
    assert {
        "/extract-text",
        "/batch-extract",
        "/results/{object}",
        "/healthz",
        "/openapi.json",
        "/docs",
        "/",
        "/assets/{asset}",
        "/operations",
        "/operations/{id}",
        "/operations/{id}:cancel",
    } <= set(spec["paths"])
    text = json.dumps(spec)
    codes = {
        cls.code
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.OcrError)
    }
    missing = {code for code in codes if f'"{code}"' not in text}
    # temporarily_unavailable is the base of engine/storage errors and the gateway's 502.
    assert not missing, f"error codes not in the OpenAPI document: {missing}"
    upload = spec["paths"]["/extract-text"]["post"]
    assert {p["name"] for p in upload["parameters"]} == {"mode", "lang", "format"}
    assert {"200", "202", "400", "405", "413", "415", "500", "503"} <= set(upload["responses"])
    for status, response in upload["responses"].items():
        if status.startswith(("4", "5")):
            examples = response["content"]["application/json"]["examples"]
            assert examples, status


def test_limits_in_the_document_follow_the_settings(upload_client: Any, reconfigure: Any) -> None:
    reconfigure(MAX_BATCH_ITEMS="7", RESULTS_BASE_URL="https://results.example.test")
    spec = upload_client.get("/openapi.json").get_json()
    schema = spec["paths"]["/batch-extract"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]["schema"]
    assert schema["properties"]["images"]["maxItems"] == 7
    # In the cloud the results function has its own URL; the document says so.
    assert spec["paths"]["/results/{object}"]["servers"][0]["url"] == (
        "https://results.example.test"
    )


def test_real_answers_match_the_documented_schemas(
    spec: dict[str, Any], upload_client: Any, results_client: Any
) -> None:
    def post(path: str, field: str, *names: str) -> Any:
        files = [(io.BytesIO(image_bytes(n)), n) for n in names]
        return upload_client.post(
            path,
            data={field: files if len(files) > 1 else files[0]},
            content_type="multipart/form-data",
        )

    done = post("/extract-text", "image", "hello.jpg")
    _check(spec, "/extract-text", "post", done)
    bad = post("/extract-text", "image", "not_an_image.jpg")
    assert bad.status_code == 400
    _check(spec, "/extract-text", "post", bad)
    batch = post("/batch-extract", "images", "receipt.png", "not_an_image.jpg")
    _check(spec, "/batch-extract", "post", batch)
    accepted = post("/extract-text?mode=async", "image", "invoice.gif")
    assert accepted.status_code == 202
    _check(spec, "/extract-text", "post", accepted)
    name = accepted.get_json()["object"]
    pending = results_client.get(f"/results/{name}")
    assert pending.status_code == 202
    _check(spec, "/results/{object}", "get", pending)
    for response in (
        results_client.get("/results/nothing-here.png"),
        results_client.get("/results/a/../b"),
        upload_client.get("/extract-text"),
        upload_client.get("/assets/nope.js"),
    ):
        path = (
            "/assets/{asset}"
            if "assets" in response.request.path
            else ("/results/{object}" if "results" in response.request.path else "/extract-text")
        )
        method = "post" if path == "/extract-text" else "get"
        _check(spec, path, method, response)
    health = upload_client.get("/healthz")
    _check(spec, "/healthz", "get", health)


def test_routing_errors_are_json_too(upload_client: Any, results_client: Any) -> None:
    # A newline in the path is rejected by Flask's router before our handler runs.
    for client, path in ((upload_client, "/assets/%0Ax"), (results_client, "/results/a%0Ab")):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_pages_and_assets_are_served_by_the_function(upload_client: Any) -> None:
    page = upload_client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'type="file"' in html and "multiple" in html and 'value="async"' in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    docs = upload_client.get("/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in docs
    for html_text in (html, docs):
        # Everything a page loads is the project's own: no CDN, no absolute URL.
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html_text):
            assert not re.match(r"^(https?:)?//", ref), ref
            if ref.startswith("assets/"):
                asset = upload_client.get(f"/{ref}")
                assert asset.status_code == 200, ref
                assert len(asset.get_data()) > 100, ref


def test_vendored_bundle_is_sent_gzipped_or_plain(upload_client: Any) -> None:
    path = "/assets/swagger-ui/swagger-ui-bundle.js"
    zipped = upload_client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.mimetype == "text/javascript"
    plain = upload_client.get(path)
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert b"SwaggerUIBundle" in plain.get_data()
    licence = upload_client.get("/assets/swagger-ui/LICENSE").get_data(as_text=True)
    assert "Apache License" in licence


def test_assets_revalidate_and_nothing_outside_the_folder_is_served(upload_client: Any) -> None:
    first = upload_client.get("/assets/app.js")
    again = upload_client.get("/assets/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    for path in ("/assets/../site.py", "/assets/%2e%2e/site.py", "/assets/", "/assets/app"):
        response = upload_client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"
    assert upload_client.post("/docs").status_code == 405
    assert upload_client.head("/").status_code == 200
    assert set(site._ASSETS) >= {"index.html", "docs.html", "app.js", "app.css", "docs.js"}


def test_the_documents_paths_and_error_lists_are_the_route_tables(spec: dict[str, Any]) -> None:
    """A route added to routes.ROUTES appears here with its errors; nothing else does."""
    expected = {(r.path, m.lower()) for r in routes.ROUTES for m in r.methods if m != "HEAD"}
    documented = {(path, m) for path, item in spec["paths"].items() for m in item if m != "servers"}
    assert documented == expected
    for route in routes.ROUTES:
        for method in route.methods:
            if method == "HEAD":
                continue
            responses = spec["paths"][route.path][method.lower()]["responses"]
            if "vision" in route.tags:  # Google's error shape: by status, not by code
                assert {str(status) for status in route.errors} <= set(responses)
                continue
            for status, classes in route.errors.items():
                enum = responses[str(status)]["content"]["application/json"]["schema"]["allOf"]
                assert {c.code for c in classes} <= set(
                    enum[1]["properties"]["error"]["properties"]["code"]["enum"]
                )


def test_results_are_readable_by_the_page_from_another_origin(results_client: Any) -> None:
    # In the cloud the page comes from the upload function's URL and polls the results
    # function's URL: without this header the browser would hide every answer from it.
    for path in ("/results/nothing-here.png", "/results/a/../b"):
        response = results_client.get(path, headers={"Origin": "https://upload.example.test"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_results_preflight_lets_the_page_send_its_api_key(
    results_client: Any, reconfigure: Any
) -> None:
    # The page sends X-API-Key when keys are configured; from another origin the browser
    # first asks (OPTIONS, no key) whether it may, and must not be turned away with a 401.
    reconfigure(API_KEYS="page-key")
    origin = {"Origin": "https://upload.example.test"}
    preflight = results_client.options(
        "/results/scan.png",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status_code == 204
    assert "X-API-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert results_client.get("/results/scan.png", headers=origin).status_code == 401
    keyed = results_client.get("/results/scan.png", headers={**origin, "X-API-Key": "page-key"})
    assert keyed.status_code == 404
    assert keyed.headers["Access-Control-Allow-Origin"] == "*"


def test_document_results_and_operations_match_the_documented_schemas(
    spec: dict[str, Any], ocr_client: Any, upload_client: Any, results_client: Any, settings: Any
) -> None:
    from .documents import encrypted_pdf, text_pdf
    from .test_documents import drop, operation_id, run_queue

    drop(ocr_client, settings, "docs/two.pdf", text_pdf(2))
    pending = results_client.get("/results/docs/two.pdf")
    assert pending.status_code == 202 and "progress" in pending.get_json()
    _check(spec, "/results/{object}", "get", pending)
    op_id = operation_id(settings)
    running = upload_client.get(f"/operations/{op_id}")
    _check(spec, "/operations/{id}", "get", running)
    run_queue(ocr_client, settings)
    done = results_client.get("/results/docs/two.pdf")
    assert done.status_code == 200 and done.get_json()["document"]["page_count"] == 2
    _check(spec, "/results/{object}", "get", done)
    listing = upload_client.get("/operations?page_size=5")
    _check(spec, "/operations", "get", listing)
    finished = upload_client.post(f"/operations/{op_id}:cancel")
    assert finished.status_code == 409
    _check(spec, "/operations/{id}:cancel", "post", finished)
    started = upload_client.post("/operations", json={"objects": ["docs/two.pdf"]})
    assert started.status_code == 202
    _check(spec, "/operations", "post", started)
    refused = upload_client.post("/operations", json={"objects": []})
    _check(spec, "/operations", "post", refused)

    drop(ocr_client, settings, "docs/locked.pdf", encrypted_pdf(), event_id="e2")
    run_queue(ocr_client, settings)
    failed = results_client.get("/results/docs/locked.pdf")
    assert failed.get_json()["error"]["code"] == "encrypted_document"
    _check(spec, "/results/{object}", "get", failed)
    as_text = results_client.get("/results/docs/locked.pdf?format=text")
    assert as_text.status_code == 422
    _check(spec, "/results/{object}", "get", as_text)
