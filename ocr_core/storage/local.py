"""A bucket that is a folder: the embedded default, and what ``cp`` writes into locally.

Writes are atomic (a temporary file in the same folder, then ``os.replace``), so a reader
or the local event watcher never sees half a file written by us. The generation of an
object is ``generation_of(stat)``: the later of its modification and change times in
nanoseconds. The change time matters because ``mv`` and ``cp -p`` keep an old modification
time, and a replaced file must never look older than the one it replaced.

Temporary files live in a sibling folder (``.<bucket>.tmp/``, same file system, so the
rename stays atomic), never inside the bucket: no name a user may give a file is taken.
A symbolic link is not an object (it would let a file in the folder read anything on the
machine), nor is a file whose name no object can have (not UTF-8, control characters,
over 1,024 bytes): ``list`` skips both, with one log line each, and ``stat`` answers None.
"""

from __future__ import annotations

import contextlib
import fcntl
import mimetypes
import os
import secrets
import shutil
import stat as stat_mod
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .. import errors
from ..logs import get_logger
from ..names import is_valid_object_name, validate_object_name
from .base import ObjectInfo, PreconditionFailed, within_limit

TEMP_PREFIX = ".ocrtmp-"
#: A temporary file older than this was left by a process killed mid-write.
ABANDONED_TEMP_S = 3600
log = get_logger("storage.local")


def generation_of(st: os.stat_result) -> int:
    return max(st.st_mtime_ns, st.st_ctime_ns)


class LocalBucket:
    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.root = (root / name).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.temp_dir = self.root.parent / f".{name}.tmp"
        self._skipped: set[str] = set()  # files already logged as not objects
        self._remove_abandoned_temp_files()

    def _remove_abandoned_temp_files(self) -> None:
        """A process killed mid-write leaves its temporary file: gone after an hour."""
        cutoff = time.time() - ABANDONED_TEMP_S
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.temp_dir):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    def path_of(self, name: str) -> Path:
        validate_object_name(name)
        path = (self.root / name).resolve()
        # Belt and braces after validation: symlinks inside the folder must not lead out.
        if not path.is_relative_to(self.root):
            raise errors.InvalidObjectName("The object name leads outside its bucket")
        return path

    def _info(self, name: str, st: os.stat_result) -> ObjectInfo:
        updated = datetime.fromtimestamp(st.st_mtime, tz=UTC)
        return ObjectInfo(
            bucket=self.name,
            name=name,
            generation=generation_of(st),
            size=st.st_size,
            content_type=mimetypes.guess_type(name)[0],
            updated=updated.isoformat().replace("+00:00", "Z"),
        )

    def _object_path(self, name: str) -> Path | None:
        """The file of object ``name``; None for a link, or a path that leads out of the
        folder through one: not objects of this bucket."""
        validate_object_name(name)
        try:
            path = self.path_of(name)
        except errors.InvalidObjectName:
            return None
        return None if (self.root / name).is_symlink() else path

    def stat(self, name: str) -> ObjectInfo | None:
        try:
            path = self._object_path(name)
            if path is None:
                return None
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise errors.StorageError(f"Cannot stat object {name!r}") from exc
        return self._info(name, st) if _is_file(st) else None

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        path = self._object_path(name)
        if path is None:
            raise errors.NotFound(f"No object {name!r} in bucket {self.name!r}")
        try:
            with path.open("rb") as fh:
                data = fh.read(-1 if max_bytes is None else max_bytes + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise errors.NotFound(f"No object {name!r} in bucket {self.name!r}") from exc
        except OSError as exc:
            raise errors.StorageError(f"Cannot read object {name!r}") from exc
        return within_limit(data, max_bytes)

    def write(
        self, name: str, data: bytes, content_type: str, if_generation_match: int | None = None
    ) -> ObjectInfo:
        path = self.path_of(name)
        tmp = self.temp_dir / f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}"[:255]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.temp_dir.mkdir(exist_ok=True)
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with self._locked(path):
                if if_generation_match is not None:
                    current = self.stat(name)
                    current_gen = current.generation if current else 0
                    if current_gen != if_generation_match:
                        raise PreconditionFailed(
                            f"{name}: generation {current_gen}, expected {if_generation_match}"
                        )
                os.replace(tmp, path)
        except OSError as exc:
            raise errors.StorageError(f"Cannot write object {name!r}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return self._info(name, path.stat())

    def write_file(self, name: str, fh: BinaryIO, content_type: str) -> ObjectInfo:
        """Store a file object's contents without holding them in memory (atomic too)."""
        path = self.path_of(name)
        tmp = path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}"[:255])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                shutil.copyfileobj(fh, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise errors.StorageError(f"Cannot write object {name!r}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return self._info(name, path.stat())

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """Serialise conditional writes to one object across processes."""
        lock_path = self.root.parent / f".{self.name}.lock"
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for filename in sorted(filenames):
                full = Path(dirpath) / filename
                name = full.relative_to(self.root).as_posix()
                if not name.startswith(prefix) or not self._is_object(full, name):
                    continue
                try:
                    st = full.stat()
                except FileNotFoundError:
                    continue
                if _is_file(st):
                    yield self._info(name, st)

    def _is_object(self, full: Path, name: str) -> bool:
        """False for a link or a file no object name fits; logged once per file."""
        reason = None
        if full.is_symlink():
            reason = "a symbolic link is not an object"
        elif not is_valid_object_name(name):
            reason = "no object can have its name (not UTF-8, control characters, too long)"
        if reason is None:
            return True
        if name not in self._skipped:
            self._skipped.add(name)
            log.warning(
                "file in a bucket folder skipped: not an object",
                extra={"bucket": self.name, "file": ascii(name)[:300], "reason": reason},
            )
        return False


def _is_file(st: os.stat_result) -> bool:
    return stat_mod.S_ISREG(st.st_mode)
