"""Cloud Vision DOCUMENT_TEXT_DETECTION, mapped into the normalised ``OcrOutput``.

Vision's hierarchy is page -> block -> paragraph -> word -> symbol, with no lines: a line
ends where a symbol carries a line break (``EOL_SURE_SPACE``, ``LINE_BREAK`` or
``HYPHEN``, the hyphen itself not being a symbol). Boxes are polygons whose vertices omit
zero coordinates (proto3 leaves defaults out of JSON, so a missing ``x`` is 0); they become
axis-aligned boxes. Vision gives no page confidence: it is computed from the words, like
the other engines do.

``google-cloud-vision`` is imported when the engine is built, never at module load, so the
core package stays importable without it. The client is any object with Vision's
``batch_annotate_images``; tests hand in one that replays a recorded response.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from PIL import Image

from .. import errors
from ..logs import get_logger
from .base import Block, Box, Line, OcrOutput, Page, Word, mean_confidence
from .languages import bcp47

log = get_logger("engine.vision")

#: Vision accepts at most 16 images in one images:annotate request.
MAX_BATCH_IMAGES = 16
#: Vision's request size limit is 10 MiB (base64 on the JSON API); stay well under it.
MAX_BATCH_BYTES = 8 * 1024 * 1024
#: Larger lossless encodings are re-encoded as JPEG to fit the request size limit.
MAX_PNG_BYTES = 4 * 1024 * 1024

# google.rpc.Code values: retrying the same image cannot fix these.
_PERMANENT_CODES = {
    3: "INVALID_ARGUMENT",
    5: "NOT_FOUND",
    9: "FAILED_PRECONDITION",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
}
# ... while these pass (or are a deployment fault an operator fixes): retry.
_TRANSIENT_CODES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    4: "DEADLINE_EXCEEDED",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    10: "ABORTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}

# HTTP status -> google.rpc.Code, as Google's REST APIs map them.
_HTTP_TO_RPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 499: 1, 500: 13, 503: 14, 504: 4}

# TextAnnotation.DetectedBreak.BreakType
_SPACE, _SURE_SPACE, _EOL_SURE_SPACE, _HYPHEN, _LINE_BREAK = 1, 2, 3, 4, 5
_LINE_ENDS = {_EOL_SURE_SPACE, _HYPHEN, _LINE_BREAK}


def error_for_status(code: int, message: str) -> errors.OcrError:
    """The OcrError for a google.rpc.Status Vision put in a response (or raised)."""
    name = _PERMANENT_CODES.get(code) or _TRANSIENT_CODES.get(code) or f"code {code}"
    text = f"Cloud Vision: {name}: {message}".strip().rstrip(":")
    if code in _PERMANENT_CODES:
        return errors.EngineRejectedImage(text, vision_code=name)
    return errors.EngineError(text, vision_code=name)


def language_hints(lang: str | None) -> list[str]:
    """``eng+deu`` or ``en+de`` -> ``["en", "de"]``; None means let Vision detect."""
    if not lang:
        return []
    return [bcp47(code) for code in lang.split("+") if code]


def encode(image: Image.Image) -> bytes:
    """The upright image as PNG (lossless), or JPEG when PNG would be too large to send."""
    if image.mode not in ("RGB", "L", "1", "RGBA", "LA", "P"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    if buf.tell() <= MAX_PNG_BYTES:
        return buf.getvalue()
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=92)
    return buf.getvalue()


class VisionEngine:
    """Thread-safe: the Vision client is (gRPC channels are shared by threads)."""

    name = "vision"
    max_batch_images = MAX_BATCH_IMAGES
    cpu_bound = False  # calls wait on the network: not held to one per core (slots.py)

    def __init__(self, client: Any = None, *, endpoint: str = "", timeout_s: float = 60.0) -> None:
        from google.cloud import vision

        self._vision = vision
        self.version = f"v1/google-cloud-vision-{vision.__version__}"
        self._client = client
        self._endpoint = endpoint
        self._client_lock = threading.Lock()
        self._timeout_s = timeout_s

    @property
    def client(self) -> Any:
        """Built on first use, so that a process that never OCRs never needs credentials."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        vision, endpoint = self._vision, self._endpoint
        if not endpoint:
            return vision.ImageAnnotatorClient()
        if endpoint.startswith("http://"):
            # A plain-HTTP endpoint is a local stand-in (the replay server of the tests):
            # REST transport, no credentials to send.
            from google.auth.credentials import AnonymousCredentials

            return vision.ImageAnnotatorClient(
                transport="rest",
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": endpoint},
            )
        # A regional endpoint, e.g. eu-vision.googleapis.com, keeps images in that region.
        return vision.ImageAnnotatorClient(client_options={"api_endpoint": endpoint})

    def _retry(self) -> Any:
        """Retry passing faults within the engine's time budget (the library's default keeps
        retrying for 600 s, longer than any function timeout)."""
        from google.api_core import exceptions as api
        from google.api_core.retry import Retry, if_exception_type

        return Retry(
            initial=0.5,
            maximum=8.0,
            multiplier=2.0,
            timeout=self._timeout_s,
            predicate=if_exception_type(
                api.ServiceUnavailable, api.DeadlineExceeded, api.InternalServerError
            ),
        )

    def supported_languages(self) -> list[str]:
        # Vision detects the language itself; hints are optional. Nothing to enumerate.
        return []

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        result = self.recognize_many([image], lang=lang)[0]
        if isinstance(result, errors.OcrError):
            raise result
        return result

    def recognize_many(
        self, images: Sequence[Image.Image], lang: str | None = None
    ) -> list[OcrOutput | errors.OcrError]:
        """OCR several images in as few requests as Vision allows (16 images, ~8 MiB each).

        One entry per image, in order: an ``OcrOutput``, or the ``OcrError`` Vision reported
        for that image (others in the batch are unaffected). A failure of a whole request
        raises ``EngineError`` (transient) or ``EngineRejectedImage`` (permanent).
        """
        sizes = [im.size for im in images]
        encoded = [encode(im) for im in images]
        results: list[OcrOutput | errors.OcrError] = []
        for start, stop in _chunks([len(b) for b in encoded]):
            responses = self._annotate(encoded[start:stop], lang)
            for offset, response in enumerate(responses):
                results.append(self.parse_response(response, *sizes[start + offset]))
        return results

    def _annotate(self, contents: list[bytes], lang: str | None) -> list[Any]:
        vision = self._vision
        context = vision.ImageContext(language_hints=language_hints(lang))
        feature = vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)
        requests = [
            vision.AnnotateImageRequest(
                image=vision.Image(content=content), features=[feature], image_context=context
            )
            for content in contents
        ]
        try:
            batch = self.client.batch_annotate_images(
                requests=requests, retry=self._retry(), timeout=self._timeout_s
            )
        except errors.OcrError:
            raise
        except Exception as exc:
            raise _call_error(exc) from exc
        responses = list(batch.responses)
        if len(responses) != len(requests):
            raise errors.EngineError(
                f"Cloud Vision answered {len(responses)} responses for {len(requests)} images"
            )
        return responses

    def parse_response(
        self, response: Any, width: int = 0, height: int = 0
    ) -> OcrOutput | errors.OcrError:
        """One ``AnnotateImageResponse`` -> ``OcrOutput``, or the error it carries."""
        if response.error and response.error.code:
            log.warning(
                "Cloud Vision returned an error for an image",
                extra={"vision_code": response.error.code, "reason": response.error.message},
            )
            return error_for_status(response.error.code, response.error.message)
        return parse_annotation(response, width, height)


def parse_annotation(response: Any, width: int = 0, height: int = 0) -> OcrOutput:
    """Map a response's ``full_text_annotation`` into pages, blocks, lines and words."""
    annotation = response.full_text_annotation
    pages: list[Page] = []
    languages: list[tuple[str, float]] = []
    for vpage in annotation.pages:
        blocks = [b for b in (_block(vb) for vb in vpage.blocks) if b is not None]
        pairs = [(w.text, w.confidence) for b in blocks for ln in b.lines for w in ln.words]
        pages.append(
            Page(
                width=vpage.width or width,
                height=vpage.height or height,
                confidence=mean_confidence(pairs),  # Vision reports none for a page
                blocks=blocks,
            )
        )
        languages += [(d.language_code, d.confidence) for d in vpage.property.detected_languages]
    if not pages:
        pages = [Page(width=width, height=height, confidence=0.0, blocks=[])]
    words = [
        (w.text, w.confidence) for p in pages for b in p.blocks for ln in b.lines for w in ln.words
    ]
    text = "\n\n".join(b.text for p in pages for b in p.blocks)
    return OcrOutput(
        text=text,
        confidence=mean_confidence(words),
        language=_language(languages, response),
        pages=pages,
    )


def _language(detected: list[tuple[str, float]], response: Any) -> str | None:
    if detected:
        return max(detected, key=lambda item: item[1])[0] or None
    texts = list(response.text_annotations)
    return (texts[0].locale or None) if texts else None


def _block(vblock: Any) -> Block | None:
    lines: list[Line] = []
    for paragraph in vblock.paragraphs:
        lines += _lines(paragraph.words)
    if not lines:
        return None
    pairs = [(w.text, w.confidence) for ln in lines for w in ln.words]
    return Block(
        text="\n".join(ln.text for ln in lines),
        confidence=round(vblock.confidence, 4) if vblock.confidence else mean_confidence(pairs),
        box=box_of(vblock.bounding_box),
        lines=lines,
    )


def _lines(vwords: Iterable[Any]) -> list[Line]:
    """Split a paragraph's words into lines at the breaks Vision detected."""
    lines: list[Line] = []
    words: list[Word] = []
    parts: list[str] = []

    def close() -> None:
        if words:
            boxes = [w.box for w in words]
            lines.append(
                Line(
                    text="".join(parts).rstrip(),
                    confidence=mean_confidence([(w.text, w.confidence) for w in words]),
                    box=union(boxes),
                    words=list(words),
                )
            )
        words.clear()
        parts.clear()

    for vword in vwords:
        text = "".join(s.text for s in vword.symbols)
        last_break = vword.symbols[-1].property.detected_break.type_ if vword.symbols else 0
        if last_break == _HYPHEN:
            text += "-"  # Vision drops the hyphen from the symbols; keep it in the text
        if not text:
            continue
        words.append(
            Word(text=text, confidence=round(vword.confidence, 4), box=box_of(vword.bounding_box))
        )
        parts.append(text)
        if last_break in (_SPACE, _SURE_SPACE):
            parts.append(" ")
        if last_break in _LINE_ENDS:
            close()
    close()
    return lines


def box_of(poly: Any) -> Box:
    """Axis-aligned box around a BoundingPoly (missing coordinates are 0, never negative)."""
    vertices = list(poly.vertices)
    if not vertices:
        return Box(0, 0, 0, 0)
    xs = [max(0, v.x) for v in vertices]
    ys = [max(0, v.y) for v in vertices]
    return Box.from_corners(min(xs), min(ys), max(xs), max(ys))


def union(boxes: list[Box]) -> Box:
    x0 = min(b.x for b in boxes)
    y0 = min(b.y for b in boxes)
    x1 = max(b.x + b.width for b in boxes)
    y1 = max(b.y + b.height for b in boxes)
    return Box.from_corners(x0, y0, x1, y1)


def _chunks(sizes: list[int]) -> list[tuple[int, int]]:
    """[start, stop) ranges of at most 16 images and ~8 MiB of image bytes each."""
    ranges: list[tuple[int, int]] = []
    start, total = 0, 0
    for index, size in enumerate(sizes):
        count = index - start
        if count and (count >= MAX_BATCH_IMAGES or total + size > MAX_BATCH_BYTES):
            ranges.append((start, index))
            start, total = index, 0
        total += size
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def _call_error(exc: Exception) -> errors.OcrError:
    """An exception from the client call (google.api_core) -> OcrError by its gRPC code."""
    last = getattr(exc, "cause", None)  # RetryError: the retries ran out; judge the last one
    if isinstance(last, Exception):
        exc = last
    grpc_code = getattr(exc, "grpc_status_code", None)
    code = getattr(grpc_code, "value", None)
    if isinstance(code, tuple):  # grpc.StatusCode values are (int, name)
        code = code[0]
    if not isinstance(code, int):
        # Over REST, google.api_core names the HTTP status rather than the RPC code.
        code = _HTTP_TO_RPC.get(getattr(exc, "code", None))  # type: ignore[arg-type]
    if isinstance(code, int):
        return error_for_status(code, getattr(exc, "message", str(exc)))
    return errors.EngineError(f"Cloud Vision could not be reached: {type(exc).__name__}")
