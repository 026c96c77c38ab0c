"""Evaluate the Terraform configuration without the google provider (it cannot be
downloaded here), so that whatever Terraform can evaluate on its own is checked by a real
``terraform plan``: locals, variables and their validations, module inputs and outputs,
``for_each``/``count`` keys, ``file()``/``fileset()``/``filesha256()`` on real paths, the
arguments of every resource, ``check`` blocks and outputs.

How: a copy of ``terraform/`` in which every ``google_*`` resource or data source becomes a
built-in ``terraform_data`` resource (provider ``terraform.io/builtin/terraform``, no
download) with the same ``for_each``/``count``/``depends_on`` and, as its ``input``, an
object of all its arguments (blocks become objects, dynamic blocks for-expressions over
their ``for_each``). References are rewritten to match: an argument the configuration sets
reads the copy's ``input`` (known at plan, as with the real provider); any other attribute
(``.id``, ``.email``, ``.uri``: computed by Google) reads a companion resource whose value is
unknown until apply, as it would be in a real plan.

What this cannot check: the google provider's schema (argument names, their types, which
are required, block nesting) and anything the API decides. ``docs/deploy.md`` says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Resources and data sources of any provider that needs downloading (google, archive, ...).
_TOP_BLOCK = re.compile(
    r'^(resource|data) "((?!terraform_)[a-z][a-z0-9]*_[a-z0-9_]+)" "([A-Za-z0-9_-]+)" \{$', re.M
)
_HEADER = re.compile(r'^(\s*)([A-Za-z_][A-Za-z0-9_]*)((?: "[^"]*")*) \{$')
_REF = re.compile(
    r'(?<![\w."-])(data\.)?([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)'
    r"(\[[^\[\]]*\])?((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)"
)
_META = ("for_each", "count", "depends_on")
UNKNOWN = "terraform_data.offline_unknown.id"


@dataclass
class _Resource:
    mode: str  # "resource" | "data"
    rtype: str
    name: str
    text: str  # the whole block, header to closing brace
    args: set[str] = field(default_factory=set)
    computed: list[list[str]] = field(default_factory=list)

    @property
    def stub(self) -> str:
        prefix = "data__" if self.mode == "data" else ""
        return f"{prefix}{self.rtype}__{self.name}"


def _depth_change(line: str) -> int:
    """Net opening of brackets on a line, outside string literals (and the expressions
    interpolated into them) and comments."""
    depth = 0
    frames: list[str] = []  # "string", or "interp" (its own bracket depth follows)
    inner: list[int] = []
    i = 0
    while i < len(line):
        ch = line[i]
        top = frames[-1] if frames else None
        if top == "string":
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                frames.pop()
            elif line.startswith(("${", "%{"), i):
                frames.append("interp")
                inner.append(0)
                i += 2
                continue
        elif ch == '"':
            frames.append("string")
        elif not frames and (ch == "#" or line.startswith("//", i)):
            break
        elif ch in "{[(":
            if top == "interp":
                inner[-1] += 1
            else:
                depth += 1
        elif ch in "}])":
            if top == "interp":
                if ch == "}" and inner[-1] == 0:
                    frames.pop()
                    inner.pop()
                else:
                    inner[-1] -= 1
            else:
                depth -= 1
        i += 1
    return depth


def _blocks(text: str) -> list[tuple[int, int, re.Match[str]]]:
    """(start, end, header match) of each top-level google_* block; fmt'ed files close a
    top-level block with a '}' alone at column 0."""
    found = []
    for m in _TOP_BLOCK.finditer(text):
        end = text.index("\n}\n", m.end()) + 3 if "\n}\n" in text[m.end() :] else len(text)
        found.append((m.start(), end, m))
    return found


def _strip_provider_config(text: str) -> str:
    """Drop ``provider "google"`` blocks and ``required_providers``: nothing to download."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipping = 0
    for line in lines:
        stripped = line.strip()
        if not skipping and (
            re.match(r'^provider "google(-beta)?" \{$', stripped)
            or stripped == "required_providers {"
        ):
            skipping = _depth_change(line)
            continue
        if skipping:
            skipping += _depth_change(line)
            continue
        out.append(line)
    return "".join(out)


def _args(resource: _Resource, hcl2: Any) -> set[str]:
    try:
        doc = hcl2.loads(resource.text)
    except Exception:  # noqa: BLE001 - an unparsable block: every reference reads unknown
        return set()
    body = next(iter(next(iter(doc[resource.mode][0].values())).values()))
    return {
        k.strip('"')
        for k, v in body.items()
        if not k.startswith("__") and k not in _META and k != "dynamic" and not _is_block(v)
    }


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and (value[0].get("__is_block__") is True)
    )


def _body_to_object(body_lines: list[str]) -> tuple[list[str], list[str]]:
    """Turn a resource body into (meta-argument lines, object-constructor lines)."""
    meta: list[str] = []
    obj: list[str] = []
    stack: list[dict[str, Any]] = []  # open blocks: {"kind": block|dynamic|content, ...}
    expr = 0  # bracket depth of the attribute expression being read
    capture_meta = False
    skipping = 0  # bracket depth inside a dropped block
    counters: dict[str, int] = {}
    for line in body_lines:
        stripped = line.strip()
        if skipping:
            skipping += _depth_change(line)
            continue
        if expr == 0:
            header = _HEADER.match(line.rstrip("\n"))
            if stripped == "}" and stack:
                top = stack.pop()
                obj.append({"block": "}\n", "content": "}\n", "dynamic": "]\n"}[top["kind"]])
                continue
            if header and not stripped.startswith("#"):
                name, labels = header.group(2), header.group(3).strip()
                indent = header.group(1)
                if name == "dynamic":
                    label = labels.strip('"')
                    stack.append({"kind": "dynamic", "label": label, "iterator": label})
                    counters[label] = counters.get(label, 0) + 1
                    obj.append(f"{indent}{label}__dynamic{counters[label]} = ")
                    continue
                if name == "content" and stack and stack[-1]["kind"] == "dynamic":
                    dyn = stack[-1]
                    obj.append(
                        f"[for {dyn['iterator']} in [for k, v in ({dyn['for_each']}) :"
                        " { key = k, value = v }] : {\n"
                        f"{indent}  offline_key = {dyn['iterator']}.key\n"
                    )
                    stack.append({"kind": "content"})
                    continue
                if not stack and name in ("lifecycle", "provisioner", "connection"):
                    skipping = 1  # meta-blocks name attributes rather than give values
                    continue
                counters[name] = counters.get(name, 0) + 1
                obj.append(f"{indent}{name}__block{counters[name]} = {{\n")
                stack.append({"kind": "block"})
                continue
            if stack and stack[-1]["kind"] == "dynamic":
                key, _, value = stripped.partition("=")
                if key.strip() == "for_each":
                    stack[-1]["for_each"] = value.strip()
                    if _depth_change(line) != 0:
                        raise ValueError(f"multi-line dynamic for_each: {stripped}")
                    continue
                if key.strip() == "iterator":
                    stack[-1]["iterator"] = value.strip()
                    continue
            if not stack and stripped.split("=", 1)[0].strip() in _META:
                capture_meta = True
        (meta if capture_meta else obj).append(line)
        expr += _depth_change(line)
        if expr == 0:
            capture_meta = False
    return meta, obj


def _render(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_render(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return UNKNOWN


def _computed_value(paths: list[list[str]]) -> dict[str, Any]:
    """A nested object holding the unknown value at each referenced path."""
    root: dict[str, Any] = {}
    for path in paths:
        node: Any = root
        for i, step in enumerate(path):
            last = i == len(path) - 1
            nxt = None if last else path[i + 1]
            fresh: Any = None if last else ([] if nxt and nxt.startswith("[") else {})
            if step.startswith("["):
                index = int(step[1:-1])
                while len(node) <= index:
                    node.append({} if fresh is None else fresh)
                if last:
                    node[index] = "unknown"
                elif not isinstance(node[index], type(fresh)):
                    node[index] = fresh
                node = node[index]
            else:
                key = step[1:]
                if last:
                    node[key] = "unknown"
                else:
                    node = node.setdefault(key, fresh)
    return root


def _split_path(path: str) -> list[str]:
    return re.findall(r"\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", path)


def _convert_folder(folder: Path, hcl2: Any) -> None:
    files = {p: _strip_provider_config(p.read_text()) for p in sorted(folder.glob("*.tf"))}
    resources: dict[tuple[str, str, str], _Resource] = {}
    for text in files.values():
        for start, end, m in _blocks(text):
            res = _Resource(m.group(1), m.group(2), m.group(3), text[start:end])
            resources[(res.mode, res.rtype, res.name)] = res
    for res in resources.values():
        res.args = _args(res, hcl2)

    def rewrite(text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            mode = "data" if m.group(1) else "resource"
            res = resources.get((mode, m.group(2), m.group(3)))
            if res is None:
                return m.group(0)
            index, path = m.group(4) or "", m.group(5) or ""
            steps = _split_path(path)
            if not steps:
                return f"terraform_data.{res.stub}{index}"
            if len(steps) == 1 and steps[0][1:] in res.args:
                return f"terraform_data.{res.stub}{index}.input{path}"
            if steps not in res.computed:
                res.computed.append(steps)
            return f"terraform_data.{res.stub}__computed{index}.input{path}"

        return _REF.sub(sub, text)

    converted: dict[Path, str] = {}
    for path, text in files.items():
        out, last = [], 0
        for start, end, m in _blocks(text):
            out.append(text[last:start])
            res = resources[(m.group(1), m.group(2), m.group(3))]
            body = res.text.splitlines(keepends=True)[1:-1]
            meta, obj = _body_to_object(body)
            out.append(
                f'resource "terraform_data" "{res.stub}" {{\n'
                + "".join(meta)
                + "  input = {\n"
                + "".join(obj)
                + "  }\n}\n"
                + f"@@COMPUTED {res.mode} {res.rtype} {res.name}@@\n"
            )
            last = end
        out.append(text[last:])
        converted[path] = rewrite("".join(out))
    for path, text in converted.items():

        def computed(m: re.Match[str]) -> str:
            res = resources[(m.group(1), m.group(2), m.group(3))]
            meta = "".join(
                line + "\n"
                for line in res.text.splitlines()[1:]
                if re.match(r"^  (for_each|count)\s*=", line)
            )
            value = _render(_computed_value(res.computed)) if res.computed else "{}"
            return (
                f'resource "terraform_data" "{res.stub}__computed" {{\n'
                + rewrite(meta)
                + f"  input = {value}\n}}\n"
            )

        text = re.sub(r"@@COMPUTED (\w+) (\w+) ([\w-]+)@@\n", computed, text)
        path.write_text(text)
    (folder / "offline_unknown.tf").write_text(
        "# Stands for values Google computes (ids, URLs): unknown until apply.\n"
        'resource "terraform_data" "offline_unknown" {}\n'
    )


def stripped_copy(terraform_dir: Path, dest: Path, hcl2: Any) -> Path:
    """Copy ``terraform_dir`` (and its modules) to ``dest`` with google_* made provider-free.
    Returns the copy's root folder. Paths the configuration reads relative to
    ``path.module`` (``../build``, ``routes.json``) must exist relative to ``dest``."""
    shutil.copytree(
        terraform_dir,
        dest,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"),
    )
    for folder in sorted({p.parent for p in dest.rglob("*.tf")}):
        _convert_folder(folder, hcl2)
    return dest


def terraform_env(workdir: Path) -> dict[str, str]:
    """No CLI configuration (no mirrors, no credentials helpers) and no network checks."""
    config = workdir / "terraformrc"
    config.write_text("")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_DATA_DIR": str(workdir / ".terraform-data"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


@dataclass
class PlanResult:
    returncode: int
    output: str
    plan: dict[str, Any] | None

    def resources(self) -> dict[str, dict[str, Any]]:
        """Planned resources by address (module resources included), their ``values``."""
        found: dict[str, dict[str, Any]] = {}

        def walk(module: dict[str, Any]) -> None:
            for res in module.get("resources", []):
                found[res["address"]] = res.get("values", {})
            for child in module.get("child_modules", []):
                walk(child)

        if self.plan:
            walk(self.plan["planned_values"]["root_module"])
        return found


def plan(terraform: str, config_dir: Path, workdir: Path, variables: dict[str, Any]) -> PlanResult:
    """``terraform init`` + ``plan`` + ``show -json`` in ``config_dir`` (a stripped copy)."""
    env = terraform_env(workdir)
    init = subprocess.run(
        [terraform, "init", "-input=false", "-no-color"],
        cwd=config_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode != 0:
        return PlanResult(init.returncode, init.stdout + init.stderr, None)
    var_file = workdir / "offline.tfvars.json"
    var_file.write_text(json.dumps(variables))
    planned = subprocess.run(
        [
            terraform,
            "plan",
            "-input=false",
            "-no-color",
            "-refresh=false",
            "-lock=false",
            f"-var-file={var_file}",
            "-out=offline.tfplan",
        ],
        cwd=config_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if planned.returncode != 0:
        return PlanResult(planned.returncode, planned.stdout + planned.stderr, None)
    shown = subprocess.run(
        [terraform, "show", "-json", "offline.tfplan"],
        cwd=config_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if shown.returncode != 0:
        return PlanResult(shown.returncode, shown.stdout + shown.stderr, None)
    return PlanResult(0, planned.stdout, json.loads(shown.stdout))
