"""``terraform plan`` on the configuration without the google provider (tests/terraform_offline.py
says how): every expression Terraform can evaluate by itself is evaluated, with the archives
the packaging step really builds. A ``file()`` on binary content, a path that does not exist,
a stale manifest, a type error or a failing validation fails here, as it would at the first
``terraform apply``. What it cannot see: the google provider's schema and the API's answers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from . import terraform_offline
from .conftest import ROOT

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is not installed")
TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")

BASE_VARS = {"project_id": "offline-check", "api_keys_secret": "ocr-api-keys"}


def _packaging() -> Any:
    spec = importlib.util.spec_from_file_location(
        "package_functions", ROOT / "scripts" / "package_functions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


packaging = _packaging()


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build/functions as `make package` writes it, in a folder of the test's own."""
    out = tmp_path_factory.mktemp("package") / "functions"
    assert packaging.main(["--out", str(out)]) == 0
    return out


def stripped(tmp_path: Path, archives: Path, edit: Any = None) -> Path:
    """<tmp>/terraform (provider-free copy) beside <tmp>/build/functions (the archives)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "terraform", source, ignore=shutil.ignore_patterns(".terraform*"))
    if edit:
        edit(source)
    (tmp_path / "build").mkdir()
    shutil.copytree(archives, tmp_path / "build" / "functions")
    for folder in ("ocr_core", "functions"):  # what ../ paths of the configuration may name
        (tmp_path / folder).symlink_to(ROOT / folder, target_is_directory=True)
    return terraform_offline.stripped_copy(source, tmp_path / "terraform", hcl2)


def run_plan(tmp_path: Path, archives: Path, variables: dict[str, Any], edit: Any = None):
    config = stripped(tmp_path, archives, edit)
    assert TERRAFORM
    return terraform_offline.plan(TERRAFORM, config, tmp_path, variables)


@pytest.fixture(scope="module")
def default_plan(tmp_path_factory: pytest.TempPathFactory, archives: Path):
    tmp = tmp_path_factory.mktemp("plan")
    result = run_plan(tmp, archives, BASE_VARS)
    assert result.returncode == 0, result.output[-4000:]
    return result


def inputs(result: terraform_offline.PlanResult) -> dict[str, dict[str, Any]]:
    """Planned stand-ins by their original address: {"module.ocr.google_x.y": {args}}."""
    found = {}
    for address, values in result.resources().items():
        if ".terraform_data." not in f".{address}" or "__computed" in address:
            continue
        module, _, rest = address.rpartition("terraform_data.")
        stub, _, index = rest.partition("[")
        rtype, _, name = stub.removeprefix("data__").partition("__")
        prefix = "data." if stub.startswith("data__") else ""
        found[f"{module}{prefix}{rtype}.{name}{'[' + index if index else ''}"] = values["input"]
    return found


def test_plan_evaluates_every_expression_with_the_packaged_archives(default_plan, archives):
    planned = inputs(default_plan)
    manifest = json.loads((archives / packaging.MANIFEST).read_text())
    for function, entry in manifest.items():
        obj = planned[f"module.{function}.google_storage_bucket_object.source"]
        assert obj["name"] == f"ocr-{function}/{entry['sha256']}.zip"
        assert Path(obj["source"]).name == entry["archive"]
        fn = planned[f"module.{function}.google_cloudfunctions2_function.this"]
        source = fn["build_config__block1"]["source__block1"]["storage_source__block1"]
        assert source["object"] == obj["name"]
        service = fn["service_config__block1"]
        expected = "ALLOW_INTERNAL_ONLY" if function == "ocr" else "ALLOW_INTERNAL_AND_GCLB"
        assert service["ingress_settings"] == expected
        env = service["environment_variables"]
        assert env["STORAGE_BACKEND"] == "gcs" and env["TRUSTED_PROXY_HOPS"] == "2"
    upload_env = planned["module.upload.google_cloudfunctions2_function.this"][
        "service_config__block1"
    ]["environment_variables"]
    assert upload_env["ENGINE_THREADS"] == "1" and upload_env["THREADS"] == "8"
    # The HTTP functions take allUsers (behind ingress internal-and-gclb), the OCR function
    # its pusher only.
    invokers = {k: v for k, v in planned.items() if "service_iam_member.invoker" in k}
    assert {(v["name"], v["member"]) for v in invokers.values()} == {
        ("ocr-upload", "allUsers"),
        ("ocr-results", "allUsers"),
    }
    assert planned["google_cloud_run_v2_service_iam_member.pusher_invokes_ocr"]["name"] == "ocr-ocr"
    # Without a domain: plain HTTP on the address, no certificate.
    assert not any("managed_ssl_certificate" in k for k in planned)
    assert "google_compute_global_forwarding_rule.http[0]" in planned
    rule = planned["google_compute_global_forwarding_rule.http[0]"]
    assert rule["port_range"] == "80" and rule["load_balancing_scheme"] == "EXTERNAL_MANAGED"
    outputs = default_plan.plan["planned_values"]["outputs"]
    assert set(outputs) >= {"base_url", "front_door_address", "function_urls"}


def test_cloud_armor_limits_each_client(default_plan):
    policy = inputs(default_plan)["google_compute_security_policy.edge[0]"]
    rules = [v for k, v in policy.items() if k.startswith("rule__block")]
    throttle = next(r for r in rules if r["action"] == "throttle")
    options = throttle["rate_limit_options__block1"]
    assert options["enforce_on_key"] == "IP" and options["exceed_action"] == "deny(429)"
    threshold = options["rate_limit_threshold__block1"]
    assert threshold == {"count": 600, "interval_sec": 60}
    assert any(r["priority"] == 2147483647 and r["action"] == "allow" for r in rules)
    for key, backend in inputs(default_plan).items():
        if key.startswith("google_compute_backend_service.fn["):
            assert backend["load_balancing_scheme"] == "EXTERNAL_MANAGED"
            assert backend["protocol"] == "HTTPS"


def test_alert_policies_watch_dead_letters_5xx_and_ocr_latency(default_plan):
    planned = inputs(default_plan)
    filters = {
        name: planned[f"google_monitoring_alert_policy.{name}"]["conditions__block1"][
            "condition_threshold__block1"
        ]["filter"]
        for name in ("dead_letters", "errors_5xx", "ocr_latency")
    }
    assert "num_undelivered_messages" in filters["dead_letters"]
    assert 'subscription_id = "ocr-dead-letters"' in filters["dead_letters"]
    assert 'response_code_class = "5xx"' in filters["errors_5xx"]
    assert 'one_of("ocr-upload", "ocr-ocr", "ocr-results")' in filters["errors_5xx"] or all(
        f'"ocr-{fn}"' in filters["errors_5xx"] for fn in ("upload", "ocr", "results")
    )
    assert "request_latencies" in filters["ocr_latency"]
    assert 'service_name = "ocr-ocr"' in filters["ocr_latency"]


def test_a_domain_gets_https_with_a_managed_certificate(tmp_path, archives):
    result = run_plan(tmp_path, archives, {**BASE_VARS, "domain": "ocr.example.com"})
    assert result.returncode == 0, result.output[-4000:]
    planned = inputs(result)
    cert = planned["google_compute_managed_ssl_certificate.front[0]"]
    assert cert["managed__block1"]["domains"] == ["ocr.example.com"]
    assert planned["google_compute_global_forwarding_rule.https[0]"]["port_range"] == "443"
    assert planned["google_compute_ssl_policy.front[0]"]["min_tls_version"] == "TLS_1_2"
    redirect = planned["google_compute_url_map.http_redirect[0]"]
    assert redirect["default_url_redirect__block1"]["https_redirect"] is True
    outputs = result.plan["planned_values"]["outputs"]
    assert outputs["base_url"]["value"] == "https://ocr.example.com"
    upload = planned["module.upload.google_cloudfunctions2_function.this"]
    env = upload["service_config__block1"]["environment_variables"]
    assert env["RESULTS_BASE_URL"] == "https://ocr.example.com"  # one base URL everywhere


def test_without_the_front_door_the_functions_keep_their_own_urls(tmp_path, archives):
    result = run_plan(tmp_path, archives, {**BASE_VARS, "front_door": False})
    assert result.returncode == 0, result.output[-4000:]
    planned = inputs(result)
    assert not any(k.startswith("google_compute_") for k in planned)
    upload = planned["module.upload.google_cloudfunctions2_function.this"]
    service = upload["service_config__block1"]
    assert service["ingress_settings"] == "ALLOW_ALL"
    assert service["environment_variables"]["TRUSTED_PROXY_HOPS"] == "1"
    assert not any("service_iam_member.invoker" in k for k in planned)  # IAM only


# --- the check fails where the first apply would ----------------------------------------


def said(result: terraform_offline.PlanResult) -> str:
    """Terraform's messages with its line wrapping undone."""
    return " ".join(result.output.split())


def _append(relative: str, text: str):
    def edit(source: Path) -> None:
        path = source / relative
        path.write_text(path.read_text() + text)

    return edit


def test_a_file_call_on_binary_content_fails_the_plan(tmp_path, archives):
    """What broke the first deploy: file() over the gzipped Swagger UI assets."""
    gz = next((ROOT / "ocr_core" / "http" / "assets").rglob("*.gz"))
    relative = os.path.relpath(gz, ROOT / "terraform")
    result = run_plan(
        tmp_path,
        archives,
        BASE_VARS,
        _append(
            "outputs.tf",
            f'\noutput "asset" {{\n  value = file("${{path.module}}/{relative}")\n}}\n',
        ),
    )
    assert result.returncode != 0
    assert "not valid UTF-8" in said(result)


def test_a_stale_manifest_fails_the_plan(tmp_path, archives):
    stale = tmp_path / "stale"
    shutil.copytree(archives, stale)
    manifest = json.loads((stale / packaging.MANIFEST).read_text())
    manifest["ocr"]["sha256"] = "0" * 64
    (stale / packaging.MANIFEST).write_text(json.dumps(manifest))
    result = run_plan(tmp_path / "run", stale, BASE_VARS)
    assert result.returncode != 0
    assert "run `make package` again" in said(result)


def test_a_missing_archive_fails_the_plan(tmp_path, archives):
    gone = tmp_path / "gone"
    shutil.copytree(archives, gone)
    manifest = json.loads((gone / packaging.MANIFEST).read_text())
    (gone / manifest["results"]["archive"]).unlink()
    result = run_plan(tmp_path / "run", gone, BASE_VARS)
    assert result.returncode != 0
    assert "run `make package` first" in said(result)


def test_a_type_error_fails_the_plan(tmp_path, archives):
    sizing = {
        "upload": {
            "memory": "1Gi",
            "cpu": "one",
            "timeout": 120,
            "concurrency": 8,
            "min_instances": 0,
            "max_instances": 10,
        },
        "ocr": {
            "memory": "2Gi",
            "cpu": "2",
            "timeout": 540,
            "concurrency": 4,
            "min_instances": 0,
            "max_instances": 10,
        },
        "results": {
            "memory": "512Mi",
            "cpu": "1",
            "timeout": 30,
            "concurrency": 40,
            "min_instances": 0,
            "max_instances": 10,
        },
    }
    result = run_plan(tmp_path, archives, {**BASE_VARS, "functions": sizing})
    assert result.returncode != 0
    assert "tonumber" in said(result) and '"one"' in said(result)


def test_a_front_door_without_api_keys_is_warned_about(tmp_path, archives):
    result = run_plan(tmp_path, archives, {"project_id": "offline-check"})
    assert result.returncode == 0, result.output[-4000:]
    assert "front_door without api_keys_secret" in said(result)
