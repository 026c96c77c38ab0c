"""Object names: validation of names users send, and safe names for uploads we store.

Rules follow Cloud Storage's (1-1024 bytes of UTF-8, no control characters) plus what
keeps a name from escaping a bucket folder on disk: no ``.``/``..`` segments, no leading
``/``, no backslash, no empty segments.
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata

from . import errors

MAX_NAME_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def validate_object_name(name: str) -> str:
    """Return ``name`` if it is a safe object name, else raise InvalidObjectName."""
    if not name:
        raise errors.InvalidObjectName("The object name is empty")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise errors.InvalidObjectName("The object name is not valid UTF-8") from exc
    if len(encoded) > MAX_NAME_BYTES:
        raise errors.InvalidObjectName(f"The object name is longer than {MAX_NAME_BYTES} bytes")
    if _CONTROL.search(name):
        raise errors.InvalidObjectName("The object name contains control characters")
    if "\\" in name:
        raise errors.InvalidObjectName("The object name contains a backslash")
    if name.startswith("/"):
        raise errors.InvalidObjectName("The object name must not start with '/'")
    segments = name.split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        raise errors.InvalidObjectName("The object name has an empty, '.' or '..' segment")
    if segments[0] == ".well-known" and len(segments) > 1 and segments[1] == "acme-challenge":
        raise errors.InvalidObjectName("The object name is reserved")
    return name


def is_valid_object_name(name: str) -> bool:
    try:
        validate_object_name(name)
    except errors.InvalidObjectName:
        return False
    return True


def safe_upload_name(filename: str | None, extension: str) -> str:
    """A fresh, unguessable object name for an upload, keeping a readable stem.

    ``uploads/2026/11/22/<random>-<stem>.<ext>``: the date spreads objects over prefixes,
    the random part makes names unique and unguessable, the extension comes from the
    detected format rather than from the client.
    """
    stem = ""
    if filename:
        base = filename.replace("\\", "/").rsplit("/", 1)[-1]
        base = base.rsplit(".", 1)[0] if "." in base else base
        base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
        stem = _UNSAFE_CHARS.sub("-", base).strip("-._")[:60]
    token = secrets.token_hex(8)
    day = time.strftime("%Y/%m/%d", time.gmtime())
    leaf = f"{token}-{stem}" if stem else token
    return f"uploads/{day}/{leaf}.{extension}"
