"""Terraform and the code agree, checked without a cloud (and without the google provider,
which cannot be downloaded here: `terraform validate` does not run).

* `terraform fmt -check`;
* the .tf files parsed with python-hcl2: entry points exist in each function's main.py,
  environment variable names are settings the code reads, archives hold main.py,
  requirements.txt and the core package, the trigger is wired as the code expects;
* each function's archive built by scripts/package_functions.py (what Terraform deploys,
  through build/functions/manifest.json), unpacked, and its entry point imported and served
  in a fresh process with only the unpacked folder (and the installed dependencies) on
  sys.path (tests/test_terraform_plan.py evaluates the configuration with terraform plan);
* checkov (`--skip-download`) in its own virtual environment: no failed check.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ocr_core.config import STORAGE_BACKENDS, TASK_QUEUES, Settings
from ocr_core.engines import ENGINE_NAMES

from .conftest import ROOT

TF = ROOT / "terraform"
MODULE = TF / "modules" / "function"
FUNCTION_KINDS = {"upload": "http", "ocr": "cloud_event", "results": "http"}

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is not installed")


def _load_package_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "package_functions", ROOT / "scripts" / "package_functions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


packaging = _load_package_script()


def unq(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes around literal strings and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [unq(v) for v in value]
    if isinstance(value, dict):
        return {unq(k): unq(v) for k, v in value.items()}
    return value


def parse(folder: Path) -> dict[str, Any]:
    """All .tf files of a folder merged: {"locals": {..}, "resource": {type: {name: body}}, ..}."""
    merged: dict[str, Any] = {
        "locals": {},
        "resource": {},
        "data": {},
        "variable": {},
        "module": {},
        "output": {},
    }
    for path in sorted(folder.glob("*.tf")):
        with path.open() as fh:
            doc = unq(hcl2.load(fh))
        for block in doc.get("locals", []):
            merged["locals"].update({k: v for k, v in block.items() if not k.startswith("__")})
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    merged[kind].setdefault(rtype, {}).update(named)
        for kind in ("variable", "module", "output"):
            for block in doc.get(kind, []):
                merged[kind].update(block)
    return merged


@pytest.fixture(scope="module")
def root() -> dict[str, Any]:
    return parse(TF)


@pytest.fixture(scope="module")
def module() -> dict[str, Any]:
    return parse(MODULE)


#: Read by functions-framework itself (its gunicorn server), not by ocr_core/config.py,
#: and by ocr_core/logs.py (the project of Cloud Logging's trace field).
SERVER_ENV = {"WORKERS", "THREADS", "GOOGLE_CLOUD_PROJECT"}


def settings_env_names() -> set[str]:
    return {f.name.upper() for f in dataclasses.fields(Settings)}


def env_names(expression: str, root: dict[str, Any]) -> set[str]:
    """Variable names a function's environment expression yields: the locals it merges and
    inline maps like {RESULTS_BASE_URL = ...}."""
    names: set[str] = set()
    for local in re.findall(r"local\.(\w+)", expression):
        value = root["locals"].get(local)
        if isinstance(value, dict):
            names |= set(value)
        elif isinstance(value, str):  # a for-expression: the keys of the maps it builds
            names |= set(re.findall(r"[{,]\s*([A-Z][A-Z0-9_]*)\s*=", value))
    names |= set(re.findall(r"[{,]\s*([A-Z][A-Z0-9_]*)\s*=", expression))
    return names


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_entry_point_exists_with_its_signature(root, module) -> None:
    functions = root["locals"]["functions"]
    assert set(functions) == set(FUNCTION_KINDS) == set(root["module"])
    for name, spec in functions.items():
        main = ROOT / "functions" / name / "main.py"
        tree = ast.parse(main.read_text())
        defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        entry = spec["entry_point"]
        assert entry in defs, f"{main} has no function {entry!r}"
        decorators = {ast.unparse(d) for d in defs[entry].decorator_list}
        assert f"functions_framework.{FUNCTION_KINDS[name]}" in decorators
        # The module instance for this function points at that folder and entry point.
        instance = root["module"][name]
        assert instance["source"] == "./modules/function"
        assert instance["archive_path"] == (
            "${local.archives_dir}/${local.archives." + name + ".archive}"
        )
        assert instance["archive_sha256"] == "${local.archives." + name + ".sha256}"
        assert instance["entry_point"] == "${local.functions." + name + ".entry_point}"
        assert instance["environment"] == "${local.function_env." + name + "}"
    function = module["resource"]["google_cloudfunctions2_function"]["this"]
    assert function["build_config"][0]["entry_point"] == "${var.entry_point}"
    assert function["service_config"][0]["environment_variables"] == "${var.environment}"


def test_environment_variables_are_settings_the_code_reads(root) -> None:
    known = settings_env_names() | SERVER_ENV
    envs = {name: env_names(expr, root) for name, expr in root["locals"]["function_env"].items()}
    for name, found in envs.items():
        assert found, f"{name}: no environment found"
        assert found <= known, f"{name}: not read by ocr_core/config.py: {sorted(found - known)}"
        assert {"STORAGE_BACKEND", "INPUT_BUCKET", "RESULTS_BUCKET"} <= found
    assert {"OCR_ENGINE", "VISION_ENDPOINT", "TASK_QUEUE", "TASKS_TOPIC"} <= envs["upload"] & envs[
        "ocr"
    ]
    assert "RESULTS_BASE_URL" in envs["upload"]
    assert "OCR_ENGINE" not in envs["results"]  # no engine there
    # Workers follow each function's size: engine instances per vCPU, threads per request.
    assert "ENGINE_THREADS" in envs["upload"] & envs["ocr"]
    assert all("THREADS" in found for found in envs.values())
    sizing = root["locals"]["sizing_env"]
    assert "ceil(tonumber(size.cpu))" in sizing and "size.concurrency" in sizing
    common = root["locals"]["common_env"]
    assert common["STORAGE_BACKEND"] in STORAGE_BACKENDS and common["STORAGE_BACKEND"] == "gcs"
    engine = root["variable"]["ocr_engine"]
    assert engine["default"] == "vision" and engine["default"] in ENGINE_NAMES
    # extra_env's validation only lets through names the code reads.
    validation = json.dumps(root["variable"]["extra_env"]["validation"])
    allowed = set(re.findall(r'\\"([A-Z][A-Z0-9_]+)\\"', validation))
    assert allowed and allowed <= known | {"TESSDATA_PREFIX"}, sorted(allowed - known)
    assert {"ENGINE_PRELOAD", "WORKERS", "THREADS"} <= allowed


def test_api_keys_come_from_secret_manager_to_the_http_functions_only(root, module) -> None:
    """API keys must never be a plain variable (it would sit in the state) and only the HTTP
    functions, which check them, may read the secret."""
    http_secret = json.dumps(root["locals"]["http_secret_env"])
    assert "API_KEYS" in http_secret and "var.api_keys_secret" in http_secret
    validation = json.dumps(root["variable"]["extra_env"]["validation"])
    assert "API_KEYS" not in validation
    modules = root["module"]
    for name in ("upload", "results"):
        assert modules[name]["secret_environment"] == "${local.http_secret_env}"
        assert "google_secret_manager_secret_iam_member.api_keys" in json.dumps(
            modules[name]["depends_on"]
        )
    assert "secret_environment" not in modules["ocr"]
    access = root["resource"]["google_secret_manager_secret_iam_member"]["api_keys"]
    assert access["role"] == "roles/secretmanager.secretAccessor"
    assert '"upload", "results"' in json.dumps(access["for_each"]).replace("\\", "")
    dynamic = json.dumps(module["resource"]["google_cloudfunctions2_function"]["this"])
    assert "secret_environment_variables" in dynamic and "var.secret_environment" in dynamic
    assert "API_KEYS" in settings_env_names()


def test_terraform_deploys_the_archives_the_packaging_step_built(root, module) -> None:
    """One packaging step: Terraform reads build/functions/manifest.json (text) for each
    archive's file and sha256 and uploads the file itself; nothing reads binary content with
    file(), and nothing lists the archive's files a second time."""
    locals_ = root["locals"]
    assert locals_["archives_dir"] == "${path.module}/../build/functions"
    assert packaging.OUT_DIR == ROOT / "build" / "functions"
    assert locals_["archives"] == (
        '${jsondecode(file("${local.archives_dir}/' + packaging.MANIFEST + '"))}'
    )
    assert not module["data"], "the module builds no archive of its own"
    obj = module["resource"]["google_storage_bucket_object"]["source"]
    assert obj["source"] == "${var.archive_path}"
    assert obj["name"] == "${var.name}/${var.archive_sha256}.zip"  # named by content hash
    validation = json.dumps(module["variable"]["archive_sha256"]["validation"])
    assert "filesha256(var.archive_path) == var.archive_sha256" in validation
    for path in [*TF.rglob("*.tf")]:
        text = path.read_text()
        for call in re.findall(r"\bfile\(([^)]*)\)", text):
            assert "manifest.json" in call or "routes.json" in call, f"{path}: file({call})"
    # Every file of the core package is matched by the packaging globs (nothing left behind).
    on_disk = {
        p.relative_to(ROOT / "ocr_core").as_posix()
        for p in (ROOT / "ocr_core").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert set(packaging.core_files()) == on_disk


def test_manifest_names_each_archive_and_its_hash(tmp_path: Path) -> None:
    out = tmp_path / "functions"
    assert packaging.main(["--out", str(out)]) == 0
    manifest = json.loads((out / packaging.MANIFEST).read_text())
    assert set(manifest) == set(FUNCTION_KINDS)
    for function, entry in manifest.items():
        archive = out / entry["archive"]
        assert archive.name.startswith(f"{function}-") and archive.is_file()
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["sha256"].startswith(archive.stem.split("-", 1)[1])
    # Rebuilding one function keeps the others' entries; unchanged code, same hash.
    before = dict(manifest)
    assert packaging.main(["ocr", "--out", str(out)]) == 0
    assert json.loads((out / packaging.MANIFEST).read_text()) == before


def test_trigger_and_delivery_wiring(root) -> None:
    res = root["resource"]
    notification = res["google_storage_notification"]["input_finalized"]
    # What ocr_core/jobs/events.py parses: JSON_API_V1 payload, OBJECT_FINALIZE events.
    assert notification["payload_format"] == "JSON_API_V1"
    assert notification["event_types"] == ["OBJECT_FINALIZE"]
    assert notification["bucket"] == '${google_storage_bucket.data["input"].name}'
    push = res["google_pubsub_subscription"]["ocr_push"]
    assert push["for_each"] == "${local.ocr_pushes}"
    assert set(root["locals"]["ocr_pushes"]) == {"notifications", "tasks"}
    assert set(root["locals"]["ocr_pushes"]) <= set(root["locals"]["topics"])
    assert push["topic"] == "${google_pubsub_topic.topic[each.key].id}"
    assert push["push_config"][0]["push_endpoint"] == "${module.ocr.uri}"
    assert push["push_config"][0]["oidc_token"]
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert push["retry_policy"][0]["minimum_backoff"] == "${var.retry_minimum_backoff}"
    # The GCS service agent may publish the notifications.
    publisher = res["google_pubsub_topic_iam_member"]["gcs_publishes_notifications"]
    assert publisher["role"] == "roles/pubsub.publisher"
    assert "google_storage_project_service_account.gcs" in publisher["member"]
    # The functions that publish operation tasks (ocr_core/jobs/tasks.py) may, on that topic only.
    tasks = res["google_pubsub_topic_iam_member"]["task_publishers"]
    assert tasks["for_each"] == '${toset(["upload", "ocr"])}'
    assert tasks["topic"] == '${google_pubsub_topic.topic["tasks"].name}'
    assert root["locals"]["tasks_env"]["TASKS_TOPIC"] == '${google_pubsub_topic.topic["tasks"].id}'
    assert root["locals"]["tasks_env"]["TASK_QUEUE"] in TASK_QUEUES


def test_buckets_are_private_and_uniform(root) -> None:
    for name, bucket in root["resource"]["google_storage_bucket"].items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name
        assert bucket.get("lifecycle_rule") or bucket.get("dynamic"), name


def test_service_accounts_get_bucket_roles_only(root) -> None:
    grants = root["locals"]["bucket_grants"]
    roles = {(g["fn"], g["bucket"], g["role"]) for g in grants.values()}
    assert roles == {
        # async uploads create (never replace) objects; POST /operations lists them and
        # records the operation in the results bucket
        ("upload", "input", "roles/storage.objectCreator"),
        ("upload", "input", "roles/storage.objectViewer"),
        ("upload", "results", "roles/storage.objectUser"),
        # the OCR function never writes the input bucket (no re-trigger, no tampering)
        ("ocr", "input", "roles/storage.objectViewer"),
        ("ocr", "results", "roles/storage.objectUser"),
        # the results function only reads
        ("results", "input", "roles/storage.objectViewer"),
        ("results", "results", "roles/storage.objectViewer"),
    }
    project_members = root["resource"]["google_project_iam_member"]
    assert set(project_members) == {"build"}  # no function account has a project role


def test_sizing_variables_cover_every_function(root) -> None:
    sizing = root["variable"]["functions"]["default"]
    assert set(sizing) == set(FUNCTION_KINDS)
    for name, size in sizing.items():
        assert set(size) == {
            "memory",
            "cpu",
            "timeout",
            "concurrency",
            "min_instances",
            "max_instances",
        }
        if size["concurrency"] > 1:
            assert float(size["cpu"]) >= 1, f"{name}: concurrency above 1 needs a whole vCPU"
    for name, variable in root["variable"].items():
        assert variable.get("description"), f"variable {name} has no description"


# -- packaging: build, unpack, import in a fresh process ------------------------------------

IMPORT_CHECK = r"""
import json, sys
from pathlib import Path
here = Path.cwd().resolve()
sys.path.insert(0, str(here))
before = set(sys.modules)  # what the interpreter loaded by itself (.pth hooks and such)
import main, ocr_core
import functions_framework
entry = getattr(main, sys.argv[1])
app = functions_framework.create_app(target=sys.argv[1], source=str(here / "main.py"))
status = app.test_client().get("/healthz").status_code if sys.argv[2] == "http" else None
import sysconfig
site = Path(sysconfig.get_paths()["purelib"]).resolve()
third_party = sorted({
    name.split(".")[0] for name, mod in list(sys.modules.items())
    if name not in before and getattr(mod, "__file__", None)
    and site in Path(mod.__file__).resolve().parents
})
print(json.dumps({
    "third_party": third_party,
    "core": str(Path(ocr_core.__file__).resolve()),
    "callable": callable(entry),
    "healthz": status,
    "repo_on_path": any(Path(p or ".").resolve() == Path(sys.argv[3]) for p in sys.path[1:]),
}))
"""


@pytest.mark.parametrize("function", sorted(FUNCTION_KINDS))
def test_archive_builds_unpacks_and_imports_in_a_fresh_process(
    function: str, tmp_path: Path
) -> None:
    first = packaging.build(function, tmp_path / "a")
    again = packaging.build(function, tmp_path / "b")
    assert first.name == again.name and first.read_bytes() == again.read_bytes()  # reproducible
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "unpacked")
    assert {"main.py", "requirements.txt", "ocr_core/__init__.py", "ocr_core/config.py"} <= set(
        names
    )
    assert all(n in names for n in (f"ocr_core/{f}" for f in packaging.core_files()))
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    unpacked = tmp_path / "unpacked"
    assert (unpacked / "requirements.txt").read_bytes() == (
        ROOT / "functions" / function / "requirements.txt"
    ).read_bytes()
    entry = {"upload": "extract_text", "ocr": "on_object_finalized", "results": "get_result"}[
        function
    ]
    result = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_CHECK, entry, FUNCTION_KINDS[function], str(ROOT)],
        cwd=unpacked,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["core"].startswith(str(unpacked.resolve()))  # the archive's copy, not the repo's
    assert report["callable"] and not report["repo_on_path"]
    if FUNCTION_KINDS[function] == "http":
        assert report["healthz"] == 200
    # Everything it imported from site-packages is installed by its own requirements.txt.
    allowed = requirement_closure(unpacked / "requirements.txt")
    providers = importlib.metadata.packages_distributions()
    for top in report["third_party"]:
        dists = {canonical(d) for d in providers.get(top, [])}
        assert dists & allowed, f"{function} imports {top} ({dists}) not in its requirements"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(requirements: Path) -> set[str]:
    """Distributions a requirements file installs: the pinned ones and their dependencies."""
    pending = [
        canonical(re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0])
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue  # optional extras are not installed by the plain requirement
            pending.append(canonical(re.split(r"[=<>!~\[; (]", req.strip(), maxsplit=1)[0]))
    return seen


# -- checkov ---------------------------------------------------------------------------------


def test_checkov_finds_no_failed_check() -> None:
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("checkov is not installed in .venv-checkov (make checkov installs it)")
    result = subprocess.run(
        [
            str(checkov),
            "-d",
            str(TF),
            "--framework",
            "terraform",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 15  # it did look at the buckets, IAM and topics
    # Every skip carries its reason beside the resource.
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]
