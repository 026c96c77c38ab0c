"""Build each function's deploy archive: its main.py and requirements.txt at the root, the
core package beside them. ``make package`` -> build/functions/<function>-<sha256[:16]>.zip
and build/functions/manifest.json.

These archives are what Terraform deploys: terraform/functions.tf reads manifest.json
(text) and hands each module the archive's path and sha256; the module uploads the file
as it is (no ``file()`` over binary content) under its hash, and checks the hash with
``filesha256``. Archives are reproducible (sorted entries, fixed timestamps and modes), so
the name changes only with the code, which is what keeps Terraform from redeploying
unchanged functions. The same zip can be deployed by hand: ``gcloud functions deploy ...
--source build/functions/<zip>``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("upload", "ocr", "results")
FUNCTION_FILES = ("main.py", "requirements.txt")
CORE_PACKAGE = "ocr_core"
CORE_GLOBS = (
    "**/*.py",
    "**/*.json",
    "**/*.yaml",
    "**/*.html",
    "**/*.css",
    "**/*.js",
    "**/*.txt",
    "**/*.gz",
    "**/LICENSE",
    "**/NOTICE",
    "**/VERSION",
)
#: Where ``make package`` writes, and where terraform/functions.tf looks.
OUT_DIR = ROOT / "build" / "functions"
MANIFEST = "manifest.json"
#: The zip epoch: no timestamps from the checkout leak into the archive's bytes.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _matches(relative: str, pattern: str) -> bool:
    """Terraform's fileset() semantics for the patterns used here: ``**/`` is zero or more
    folders, ``*`` stays within one path segment."""
    if pattern.startswith("**/"):
        leaf = pattern[3:]
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], leaf) and "/" not in leaf
    return "/" not in relative and fnmatch.fnmatchcase(relative, pattern)


def core_files(root: Path = ROOT) -> list[str]:
    """Paths under the core package that go into every archive, sorted."""
    base = root / CORE_PACKAGE
    found = set()
    for path in base.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(base).as_posix()
        if any(_matches(relative, pattern) for pattern in CORE_GLOBS):
            found.add(relative)
    return sorted(found)


def archive_entries(function: str, root: Path = ROOT) -> list[tuple[str, Path]]:
    """(name in the archive, file on disk) for one function, in archive order."""
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}; one of {', '.join(FUNCTIONS)}")
    entries = [(name, root / "functions" / function / name) for name in FUNCTION_FILES]
    entries += [(f"{CORE_PACKAGE}/{rel}", root / CORE_PACKAGE / rel) for rel in core_files(root)]
    missing = [str(path) for _, path in entries if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"missing from the source tree: {', '.join(missing)}")
    return sorted(entries)


def build(function: str, out_dir: Path, root: Path = ROOT) -> Path:
    """Write ``<function>-<hash>.zip`` into ``out_dir`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{function}.zip.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in archive_entries(function, root):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o100644 << 16  # regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:16]
    target = out_dir / f"{function}-{digest}.zip"
    for old in out_dir.glob(f"{function}-*.zip"):
        if old != target:
            old.unlink()
    tmp.replace(target)
    return target


def write_manifest(archives: dict[str, Path], out_dir: Path) -> Path:
    """manifest.json: {function: {"archive": file name, "sha256": hex}} for Terraform.
    Written atomically and merged with the functions already listed (``make package ocr``
    rebuilds one), dropping entries whose archive is gone."""
    path = out_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        manifest = {}
    manifest = {
        fn: entry
        for fn, entry in manifest.items()
        if fn in FUNCTIONS
        and isinstance(entry, dict)
        and (out_dir / str(entry.get("archive"))).is_file()
    }
    for function, archive in archives.items():
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        manifest[function] = {"archive": archive.name, "sha256": digest}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("functions", nargs="*", help=f"some of {', '.join(FUNCTIONS)}; default all")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.functions) - set(FUNCTIONS))
    if unknown:
        parser.error(f"unknown function(s): {', '.join(unknown)}")
    built = {}
    for function in args.functions or FUNCTIONS:
        path = built[function] = build(function, args.out)
        with zipfile.ZipFile(path) as archive:
            count = len(archive.namelist())
        print(f"{_shown(path)}  ({count} files)")
    print(_shown(write_manifest(built, args.out)))
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


if __name__ == "__main__":
    sys.exit(main())
