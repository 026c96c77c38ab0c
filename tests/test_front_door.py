"""The load balancer's URL map is the route table: terraform/routes.json is generated from
ocr_core.http.routes.ROUTES and up to date, the URL map's path rules are exactly that file's paths
(parsed with python-hcl2 and evaluated by a provider-free terraform plan), and every route of
the table, sent through those rules the way the balancer matches them, reaches the function
that serves it."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is not installed")
routes = pytest.importorskip(
    "ocr_core.http.routes", reason="the route table (issue 12) is not here"
)

TF = ROOT / "terraform"


def _script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _script("terraform_routes")


def sample_path(template: str) -> str:
    """A concrete request path for an OpenAPI template ("/results/{object}" -> a nested name)."""
    return re.sub(
        r"\{([^}=]+)(=[^}]*)?\}",
        lambda m: (
            f"scans/{m.group(1)}-1.pdf"
            if m.group(2) or m.group(1) in ("object", "asset")
            else f"{m.group(1)}1"
        ),
        template,
    )


def lb_match(rules: dict[str, list[str]], path: str) -> str | None:
    """The function a URL map path matcher picks for ``path``: an exact rule wins, else the
    longest ``/*`` prefix rule (Cloud Load Balancing's path rule semantics)."""
    best: tuple[int, str] | None = None
    for function, patterns in rules.items():
        for pattern in patterns:
            if pattern.endswith("/*"):
                if path.startswith(pattern[:-1]) and (best is None or len(pattern) > best[0]):
                    best = (len(pattern), function)
            elif pattern == path:
                return function
    return best[1] if best else None


def test_routes_json_is_generated_from_the_route_table_and_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "terraform_routes.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    on_disk = json.loads((TF / "routes.json").read_text())
    assert on_disk["paths"] == generator.route_paths()


def test_every_route_reaches_its_function_and_nothing_else_is_mapped() -> None:
    rules = json.loads((TF / "routes.json").read_text())["paths"]
    wanted = {generator.lb_path(route.path) for route in routes.ROUTES}
    mapped = {pattern for patterns in rules.values() for pattern in patterns}
    assert mapped == wanted  # every route covered, and no path rule no route asked for
    for route in routes.ROUTES:
        path = sample_path(route.path)
        served = routes.match(route.methods[0], path)  # the dispatch's own lookup
        assert served is not None and served.function == route.function, (route.path, path)
        assert lb_match(rules, path) == route.function, (route.path, path)
    # The table's own prefixes for a URL map (ocr_core.http.routes.path_prefixes) are all covered.
    for function, patterns in rules.items():
        for prefix in routes.path_prefixes(function):
            assert prefix in patterns or f"{prefix.rstrip('/')}/*" in patterns, prefix


def test_the_url_map_routes_the_generated_paths_to_each_functions_neg() -> None:
    """Structure: path rules come from routes.json only; each function's backend is its own
    serverless NEG, which names that function's Cloud Run service."""
    with (TF / "front_door.tf").open() as fh:
        doc = hcl2.load(fh)
    text = json.dumps(doc)
    resources: dict[str, dict[str, Any]] = {}
    for block in doc["resource"]:
        for rtype, named in block.items():
            for name, body in named.items():
                resources[f"{rtype.strip(chr(34))}.{name.strip(chr(34))}"] = body
    locals_ = {k: v for b in doc["locals"] for k, v in b.items()}
    assert locals_["routes"] == '${jsondecode(file("${path.module}/routes.json"))}'
    url_map = resources["google_compute_url_map.front"]
    matcher = url_map["path_matcher"][0]
    (dynamic,) = matcher["dynamic"]
    rule = dynamic['"path_rule"']
    assert rule["for_each"] == "${local.route_paths}"
    content = rule["content"][0]
    assert content["paths"] == "${path_rule.value}"
    assert content["service"] == "${google_compute_backend_service.fn[path_rule.key].id}"
    assert "path_rule" not in matcher  # no path rule written by hand
    backend = resources["google_compute_backend_service.fn"]
    assert backend["backend"][0]["group"] == (
        "${google_compute_region_network_endpoint_group.fn[each.key].id}"
    )
    assert backend["security_policy"] == "${google_compute_security_policy.edge[0].id}"
    neg = resources["google_compute_region_network_endpoint_group.fn"]
    assert neg["network_endpoint_type"] == '"SERVERLESS"'
    assert neg["cloud_run"][0]["service"] == "${local.function_names[each.key]}"
    assert "route_paths" in text


def test_the_planned_url_map_holds_the_table_paths(tmp_path: Path) -> None:
    """The same, evaluated: terraform plan (provider-free) of the real configuration."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    from . import terraform_offline
    from .test_terraform_plan import BASE_VARS, inputs, run_plan

    out = tmp_path / "package"
    assert _script("package_functions").main(["--out", str(out)]) == 0
    result = run_plan(tmp_path / "plan", out, BASE_VARS)
    assert result.returncode == 0, result.output[-4000:]
    planned = inputs(result)
    assert isinstance(result, terraform_offline.PlanResult)
    url_map = planned["google_compute_url_map.front[0]"]
    rules = url_map["path_matcher__block1"]["path_rule__dynamic1"]
    by_function = {rule["offline_key"]: rule["paths"] for rule in rules}
    assert by_function == generator.route_paths()
    for function in by_function:
        neg = planned[f'google_compute_region_network_endpoint_group.fn["{function}"]']
        assert neg["cloud_run__block1"]["service"] == f"ocr-{function}"
    # Nothing in the table is served by the OCR function: it has no backend at all.
    assert not any('fn["ocr"]' in key for key in planned if "backend_service" in key)
