"""What a Vision request names: its JSON body, features, language hints, image bytes and
``gs://`` URIs, each checked before any work.

Only objects of this service's own buckets are read or written: sources come from the input
bucket (the bucket the OCR function serves), output files go to the results bucket. An
``imageUri`` that is not ``gs://`` is refused: the service never fetches an arbitrary URL
(that would make it a proxy into whatever network it runs in).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import flask

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.engines import Engines
from ocr_core.engines.languages import TESSERACT_TO_BCP47
from ocr_core.http.forms import bound_body_reads
from ocr_core.jobs.layout import check_not_reserved, operations_prefix
from ocr_core.names import validate_object_name
from ocr_core.recognition.vision_messages import FEATURE_TYPES
from ocr_core.recognition.vision_wire import (
    TEXT_FEATURES,
    GcsUri,
    PermissionDenied,
    enum_name,
    parse_gs_uri,
)
from ocr_core.storage import open_bucket

BCP47_TO_TESSERACT = {v.lower(): k for k, v in TESSERACT_TO_BCP47.items()}


def read_json(request: flask.Request, limit: int, settings: Settings) -> dict[str, Any]:
    """The request's JSON object, read with the route's size limit (``Route.max_body``:
    base64 included) enforced while reading."""
    too_large = errors.FileTooLarge(
        f"Request payload size exceeds the limit: {limit} bytes", limit_bytes=limit
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    if request.mimetype not in ("application/json", ""):
        raise errors.InvalidRequest(
            f"Send the request as JSON (Content-Type: application/json), not {request.mimetype!r}"
        )
    bound_body_reads(request, settings.body_read_timeout_s)
    try:
        raw = request.stream.read(limit + 1)
    except (TimeoutError, OSError) as exc:
        raise errors.RequestTimeout("The request body stalled before it was complete") from exc
    if len(raw) > limit:
        raise too_large
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past any parser
        raise errors.InvalidRequest("Invalid JSON payload received") from exc
    if not isinstance(body, dict):
        raise errors.InvalidRequest("Invalid JSON payload received: expected an object")
    return body


def field(
    obj: Any, name: str, kind: type | tuple[type, ...], where: str, default: Any = None
) -> Any:
    """``obj[name]`` when it has the JSON type ``kind``; the default when absent or null."""
    if not isinstance(obj, dict):
        raise errors.InvalidRequest(f"{where} must be an object", parameter=where)
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise errors.InvalidRequest(
            f"Invalid value at '{where}.{name}': expected {getattr(kind, '__name__', 'a value')}",
            parameter=f"{where}.{name}",
        )
    return value


def features(request: dict[str, Any], where: str) -> list[str]:
    """The feature type names of one request, in order (ints or names accepted)."""
    names = []
    for i, feature in enumerate(field(request, "features", list, where, [])):
        raw = field(feature, "type", (int, str), f"{where}.features[{i}]", 0)
        names.append(enum_name(raw, FEATURE_TYPES, f"{where}.features[{i}].type"))
    return names


def unsupported(names: list[str]) -> errors.OcrError | None:
    """The error for features this service does not offer, or None when all are text."""
    if not names:
        return errors.InvalidRequest("No feature was requested; ask for TEXT_DETECTION")
    others = [n for n in names if n not in TEXT_FEATURES]
    if others:
        return errors.InvalidRequest(
            f"Feature(s) {', '.join(others)} are not served here; this service does "
            "TEXT_DETECTION and DOCUMENT_TEXT_DETECTION only",
            features=others,
        )
    return None


def lang(engines: Engines, request: dict[str, Any], where: str) -> str | None:
    """``imageContext.languageHints`` as the engines' language string (``eng+deu``).
    Hints are hints: codes the engines do not know are dropped, as Vision ignores them."""
    context = field(request, "imageContext", dict, where, {})
    hints = field(context, "languageHints", list, f"{where}.imageContext", [])
    codes: list[str] = []
    for hint in hints:
        if not isinstance(hint, str):
            raise errors.InvalidRequest("languageHints must be strings", parameter="languageHints")
        code = BCP47_TO_TESSERACT.get(hint.strip().lower().split("-")[0])
        if code and code not in codes:
            codes.append(code)
    if not codes:
        return None
    installed = _installed_languages(engines)
    return "+".join(c for c in codes if not installed or c in installed) or None


def _installed_languages(engines: Engines) -> list[str]:
    """What the engine reads (empty: it does not say, e.g. Vision detects by itself)."""
    try:
        return engines.get().supported_languages()
    except (ValueError, RuntimeError, OSError):
        return []  # an engine that cannot load fails the OCR itself, with its own error


def decode_content(value: Any, where: str) -> bytes:
    """Proto JSON bytes: standard or URL-safe base64, padding optional."""
    if not isinstance(value, str):
        raise errors.InvalidRequest(f"{where} must be a base64 string", parameter=where)
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidRequest(f"{where} is not valid base64", parameter=where) from exc
    if not data:
        raise errors.EmptyFile(f"{where} is empty")
    return data


def source_object(settings: Settings, uri: Any, where: str) -> GcsUri:
    """A gs:// source: an object of the input bucket with a safe name, or an OcrError."""
    gcs = parse_gs_uri(uri, where)
    if gcs.bucket != settings.input_bucket:
        raise PermissionDenied(
            f"The bucket {gcs.bucket!r} is not this service's: it reads gs://"
            f"{settings.input_bucket}/ only",
            bucket=gcs.bucket,
        )
    check_not_reserved(validate_object_name(gcs.name), settings)
    return gcs


def destination(settings: Settings, uri: Any, where: str) -> GcsUri:
    """A gcsDestination prefix: in the results bucket, outside the service's own records."""
    gcs = parse_gs_uri(uri, where)
    if gcs.bucket != settings.results_bucket:
        raise PermissionDenied(
            f"The bucket {gcs.bucket!r} is not this service's: it writes output to gs://"
            f"{settings.results_bucket}/ only",
            bucket=gcs.bucket,
        )
    if gcs.name:
        validate_object_name(gcs.name.rstrip("/") or "x")
    # The results bucket also holds the operations store; when it is the input bucket too,
    # output outside the results prefix would trigger OCR of the output itself.
    if gcs.name.startswith(operations_prefix(settings)) or not gcs.name.startswith(
        settings.results_prefix
    ):
        raise PermissionDenied(
            f"Output may not be written under {str(gcs)!r}; use a prefix such as "
            f"gs://{settings.results_bucket}/{settings.results_prefix}vision/",
            bucket=gcs.bucket,
        )
    return gcs


def read_object(settings: Settings, gcs: GcsUri, max_bytes: int) -> tuple[bytes, int]:
    """The object's bytes and generation (NotFound when it is not there)."""
    bucket = open_bucket(settings, gcs.bucket)
    info = bucket.stat(gcs.name)
    if info is None:
        raise errors.NotFound(f"No object {str(gcs)!r}", object=gcs.name)
    if info.size > max_bytes:
        raise errors.FileTooLarge(
            f"{gcs} is {info.size} bytes; the limit is {max_bytes}", limit_bytes=max_bytes
        )
    return bucket.read(gcs.name, max_bytes=max_bytes), info.generation


def image_source(settings: Settings, image: Any, where: str) -> tuple[bytes | None, GcsUri | None]:
    """An ``Image``: its inline bytes, or the gs:// object it names (not read yet)."""
    if not isinstance(image, dict):
        raise errors.InvalidRequest(f"{where}.image is required", parameter=f"{where}.image")
    if image.get("content"):
        return decode_content(image["content"], f"{where}.image.content"), None
    source = field(image, "source", dict, f"{where}.image", {})
    uri = source.get("gcsImageUri") or source.get("imageUri")
    if not uri:
        raise errors.InvalidRequest(
            f"{where}.image needs content or source.gcsImageUri", parameter=f"{where}.image"
        )
    return None, source_object(settings, uri, f"{where}.image.source")
