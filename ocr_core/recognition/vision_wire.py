"""Cloud Vision's JSON, spoken from the normalised result document.

One direction only: a result document (or one page entry of a document) becomes Vision's
``TextAnnotation`` (pages -> blocks -> paragraphs -> words -> symbols) and
``EntityAnnotation`` list (``textAnnotations``: the whole text first, then one per word).

Each of our blocks is one Vision block holding one paragraph; each line's last word ends in
a line break (``EOL_SURE_SPACE`` within the block, ``LINE_BREAK`` at its end), so a reader
that splits lines at Vision's breaks (as ``engines.vision`` does) finds our lines again. The
engines report words, not characters: a word's symbols share its confidence and split its
box evenly.

Enums go out as names (Google's JSON), or as integers when the client asked for
``$alt=json;enum-encoding=int``; both parse with protobuf's JSON parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocr_core import errors

# The enums live with the messages (vision_messages, whose models the OpenAPI document is
# generated from); jobs.vision_operations and the tests read them here too. The builders
# below write plain dicts: one model object per character made a dense page's JSON 2.4x
# slower to build (0.45 s against 0.19 s for 20,000 characters), and the tests validate
# every answer against the generated schema, so the two cannot drift apart unseen.
from ocr_core.recognition.vision_messages import BLOCK_TYPES, BREAKS, RPC_CODES
from ocr_core.recognition.vision_messages import FEATURE_TYPES as FEATURE_TYPES
from ocr_core.recognition.vision_messages import STATES as STATES
from ocr_core.recognition.vision_messages import TYPE_PREFIX as TYPE_PREFIX

#: Our HTTP statuses -> the google.rpc status name Vision would use.
_STATUS_FOR_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
#: Errors Vision answers with another HTTP code than the service's own API does.
_HTTP_FOR_ERROR: dict[type[errors.OcrError], tuple[int, str]] = {
    # Google answers a missing or wrong API key with 403; a 401 would make Google's
    # clients try to refresh their credentials instead of reporting the error.
    errors.Unauthorized: (403, "PERMISSION_DENIED"),
    errors.OperationFinished: (400, "FAILED_PRECONDITION"),
    errors.MethodNotAllowed: (404, "NOT_FOUND"),
    errors.UnsupportedFormat: (400, "INVALID_ARGUMENT"),
    errors.EngineRejectedImage: (400, "INVALID_ARGUMENT"),
    errors.ResultFailed: (400, "INVALID_ARGUMENT"),
    errors.EncryptedDocument: (400, "INVALID_ARGUMENT"),
    errors.CorruptDocument: (400, "INVALID_ARGUMENT"),
}

TEXT_FEATURES = ("TEXT_DETECTION", "DOCUMENT_TEXT_DETECTION")


class PermissionDenied(errors.OcrError):
    """A gs:// URI outside the buckets this service is configured with."""

    code, status = "permission_denied", 403


def enum_name(value: Any, table: dict[str, int], field: str) -> str:
    """An enum a client sent, as a name or an integer, by its name; InvalidRequest if not one."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        for name, number in table.items():
            if number == value:
                return name
    elif isinstance(value, str) and value in table:
        return value
    raise errors.InvalidRequest(f"Invalid value {value!r} for {field}", parameter=field)


def enum_value(name: str, table: dict[str, int], ints: bool) -> str | int:
    return table[name] if ints else name


def http_status(error: errors.OcrError) -> tuple[int, str]:
    """(HTTP status, google.rpc status name) for an error answered as a whole request."""
    for kind, answer in _HTTP_FOR_ERROR.items():
        if isinstance(error, kind):
            return answer
    status = error.status if error.status in _STATUS_FOR_HTTP else 500
    return status, _STATUS_FOR_HTTP[status]


def rpc_status(error: errors.OcrError) -> dict[str, Any]:
    """``google.rpc.Status`` for one image's or one file's error inside a response."""
    _, name = http_status(error)
    return {"code": RPC_CODES[name], "message": error.message}


def error_body(error: errors.OcrError) -> tuple[int, dict[str, Any]]:
    status, name = http_status(error)
    return status, {"error": {"code": status, "message": error.message, "status": name}}


# --- the result document as annotations -------------------------------------------------


def _vertices(box: dict[str, Any]) -> dict[str, Any]:
    x, y = int(box.get("x", 0)), int(box.get("y", 0))
    x1, y1 = x + int(box.get("width", 0)), y + int(box.get("height", 0))
    return {
        "vertices": [{"x": x, "y": y}, {"x": x1, "y": y}, {"x": x1, "y": y1}, {"x": x, "y": y1}]
    }


def _union(boxes: list[dict[str, Any]]) -> dict[str, Any]:
    if not boxes:
        return {"x": 0, "y": 0, "width": 0, "height": 0}
    x0 = min(b["x"] for b in boxes)
    y0 = min(b["y"] for b in boxes)
    x1 = max(b["x"] + b["width"] for b in boxes)
    y1 = max(b["y"] + b["height"] for b in boxes)
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def _languages(language: str | None, confidence: float | None = None) -> list[dict[str, Any]]:
    if not language:
        return []
    entry: dict[str, Any] = {"languageCode": language}
    if confidence is not None:
        entry["confidence"] = confidence
    return [entry]


def _symbols(
    word: dict[str, Any], brk: str | None, language: str | None, ints: bool
) -> list[dict[str, Any]]:
    text, box = word.get("text", ""), word.get("box") or {}
    chars = list(text)
    width = int(box.get("width", 0))
    x, y, height = int(box.get("x", 0)), int(box.get("y", 0)), int(box.get("height", 0))
    symbols = []
    for i, char in enumerate(chars):
        left = x + width * i // len(chars)
        right = x + width * (i + 1) // len(chars)
        prop: dict[str, Any] = {}
        if language:
            prop["detectedLanguages"] = _languages(language)
        if brk and i == len(chars) - 1:
            prop["detectedBreak"] = {"type": enum_value(brk, BREAKS, ints)}
        symbols.append(
            {
                "property": prop,
                "boundingBox": _vertices(
                    {"x": left, "y": y, "width": right - left, "height": height}
                ),
                "text": char,
                "confidence": float(word.get("confidence", 0.0)),
            }
        )
    return symbols


def _block(
    block: dict[str, Any], language: str | None, ints: bool
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
    """One Vision block, its words (for textAnnotations) and its text; None when empty."""
    lines = [ln for ln in block.get("lines") or [] if any(w.get("text") for w in ln["words"])]
    vwords: list[dict[str, Any]] = []
    flat: list[dict[str, Any]] = []
    text = ""
    for li, line in enumerate(lines):
        words = [w for w in line["words"] if w.get("text")]
        for wi, word in enumerate(words):
            if wi < len(words) - 1:
                brk = "SPACE"
            else:
                brk = "LINE_BREAK" if li == len(lines) - 1 else "EOL_SURE_SPACE"
            prop = {"detectedLanguages": _languages(language)} if language else {}
            vwords.append(
                {
                    "property": prop,
                    "boundingBox": _vertices(word["box"]),
                    "symbols": _symbols(word, brk, language, ints),
                    "confidence": float(word.get("confidence", 0.0)),
                }
            )
            flat.append(word)
            text += word["text"] + (" " if brk == "SPACE" else "\n")
    if not vwords:
        return None, [], ""
    box = block.get("box") or _union([w["box"] for w in flat])
    prop = {"detectedLanguages": _languages(language)} if language else {}
    confidence = float(block.get("confidence", 0.0))
    paragraph = {
        "property": prop,
        "boundingBox": _vertices(box),
        "words": vwords,
        "confidence": confidence,
    }
    vblock = {
        "property": prop,
        "boundingBox": _vertices(box),
        "paragraphs": [paragraph],
        "blockType": enum_value("TEXT", BLOCK_TYPES, ints),
        "confidence": confidence,
    }
    return vblock, flat, text


def _page(page: dict[str, Any], language: str | None, ints: bool) -> tuple[dict, list, str]:
    blocks, words, text = [], [], ""
    for block in page.get("blocks") or []:
        vblock, flat, block_text = _block(block, language, ints)
        if vblock is not None:
            blocks.append(vblock)
            words += flat
            text += block_text
    vpage = {
        "property": {"detectedLanguages": _languages(language, 1.0 if words else None)}
        if language and words
        else {},
        "width": int(page.get("width", 0)),
        "height": int(page.get("height", 0)),
        "blocks": blocks,
        "confidence": float(page.get("confidence", 0.0)),
    }
    return vpage, words, text


def annotate(
    pages: list[dict[str, Any]], language: str | None, features: list[str], ints: bool
) -> dict[str, Any]:
    """The fields of an ``AnnotateImageResponse`` for these result pages.

    ``fullTextAnnotation`` for either text feature; ``textAnnotations`` too, as Vision gives
    both for both features. An image without text gets neither field, as from Vision.
    """
    vpages, words, text = [], [], ""
    for page in pages:
        vpage, page_words, page_text = _page(page, language, ints)
        vpages.append(vpage)
        words += page_words
        text += page_text
    response: dict[str, Any] = {}
    if not words or not any(f in TEXT_FEATURES for f in features):
        return response
    whole: dict[str, Any] = {
        "description": text,
        "boundingPoly": _vertices(_union([w["box"] for w in words])),
    }
    if language:
        whole = {"locale": language, **whole}
    response["textAnnotations"] = [whole] + [
        {"description": w["text"], "boundingPoly": _vertices(w["box"])} for w in words
    ]
    response["fullTextAnnotation"] = {"pages": vpages, "text": text}
    return response


def document_annotation(
    document: dict[str, Any], features: list[str], ints: bool
) -> dict[str, Any]:
    """An ``AnnotateImageResponse`` for one image's result document."""
    return annotate(document.get("pages") or [], document.get("language"), features, ints)


def page_annotation(page: dict[str, Any], features: list[str], ints: bool) -> dict[str, Any]:
    """An ``AnnotateImageResponse`` for one page entry of a multi-page document."""
    return annotate([page], page.get("language"), features, ints)


@dataclass(frozen=True)
class GcsUri:
    bucket: str
    name: str

    def __str__(self) -> str:
        return f"gs://{self.bucket}/{self.name}"


def parse_gs_uri(uri: Any, where: str) -> GcsUri:
    if not isinstance(uri, str) or not uri:
        raise errors.InvalidRequest(f"{where} must be a gs:// URI", parameter=where)
    if not uri.startswith("gs://"):
        raise errors.InvalidRequest(
            f"{where} must be a gs:// URI of this service's input bucket; it does not fetch "
            "other URLs",
            parameter=where,
        )
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not bucket:
        raise errors.InvalidRequest(f"{where} names no bucket", parameter=where)
    return GcsUri(bucket, name)
