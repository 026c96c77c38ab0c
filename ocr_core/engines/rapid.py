"""RapidOCR (PP-OCRv4 detection + recognition on onnxruntime), models bundled in its wheel.

It reads camera photos, scene text and faint receipts that Tesseract gives up on, but it
returns text boxes in detection order and cannot read pages turned by 90 degrees, so its
boxes are rebuilt into reading-order lines here (``layout.py``) and the default engine
(``auto.py``) only calls it where Tesseract is unsure. Its recogniser knows Latin letters
without accents and Chinese, so it stands in for English only.
"""

from __future__ import annotations

import threading
from importlib import metadata

from PIL import Image

from .base import Box, OcrOutput, Page, Word, mean_confidence
from .layout import build_blocks

#: Languages whose text the bundled recogniser reads (Tesseract's codes).
LANGUAGES = ("eng",)
#: Longest side (px) of the image the text detector sees.
DETECTION_MAX_SIDE = 960


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self) -> None:
        # Imported here: loading onnxruntime and OpenCV costs a second and ~150 MB, paid
        # only by processes that use this engine.
        import numpy
        from rapidocr_onnxruntime import RapidOCR

        self._np = numpy
        self.version = metadata.version("rapidocr-onnxruntime")
        # Detection on the image shrunk to 960 px on its longer side: as accurate on the
        # corpus as the default (shorter side raised to 736 px) and two to three times
        # faster on receipts and wide crops, which the default blows up.
        self._ocr = RapidOCR(det_limit_type="max", det_limit_side_len=DETECTION_MAX_SIDE)
        _cap_detection_side(self._ocr, DETECTION_MAX_SIDE)
        # RapidOCR keeps per-call state on the object; onnxruntime already uses every core
        # for one image, so requests take turns rather than each building its own models.
        self._lock = threading.Lock()

    def supported_languages(self) -> list[str]:
        return list(LANGUAGES)

    def _bgr(self, image: Image.Image) -> object:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return self._np.ascontiguousarray(self._np.asarray(rgb)[:, :, ::-1])

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        with self._lock:
            found, _ = self._ocr(self._bgr(image))
        words: list[Word] = []
        for points, text, score in found or []:
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            words.extend(_split_words(str(text), float(score), min(xs), min(ys), max(xs), max(ys)))
        return self._output(image, words)

    def recognize_line(self, image: Image.Image) -> OcrOutput:
        """Read an image that is one cropped word or line, without text detection.

        The detector finds nothing on crops a few dozen pixels high (a logo, a stamp, a
        handwritten word); the recogniser reads them whole.
        """
        with self._lock:
            found, _ = self._ocr(self._bgr(image), use_det=False, use_cls=False)
        words: list[Word] = []
        for text, score in found or []:
            words.extend(_split_words(str(text), float(score), 0, 0, image.width, image.height))
        return self._output(image, words)

    def detect(self, image: Image.Image) -> list[Box]:
        """Boxes of the text lines the detector finds (on the image shrunk to 960 px)."""
        with self._lock:
            found, _ = self._ocr(self._bgr(image), use_rec=False, use_cls=False)
        boxes: list[Box] = []
        for points in found or []:
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            boxes.append(Box.from_corners(min(xs), min(ys), max(xs), max(ys)))
        return boxes

    def _output(self, image: Image.Image, words: list[Word]) -> OcrOutput:
        blocks = build_blocks(words)
        pairs = [(w.text, w.confidence) for b in blocks for ln in b.lines for w in ln.words]
        confidence = mean_confidence(pairs)
        page = Page(width=image.width, height=image.height, confidence=confidence, blocks=blocks)
        return OcrOutput(
            text="\n\n".join(b.text for b in blocks),
            confidence=confidence,
            language="en",
            pages=[page],
        )


def _split_words(text: str, score: float, x0: float, y0: float, x1: float, y1: float) -> list[Word]:
    """RapidOCR boxes a run of text; give each word its share of the box by characters."""
    parts = text.split()
    if not parts:
        return []
    span = max(1, len(text))
    per_char = (x1 - x0) / span
    words: list[Word] = []
    cursor = 0
    for part in parts:
        start = text.index(part, cursor)
        cursor = start + len(part)
        box = Box.from_corners(x0 + start * per_char, y0, x0 + cursor * per_char, y1)
        words.append(Word(text=part, confidence=round(max(0.0, min(1.0, score)), 4), box=box))
    return words


def _cap_detection_side(ocr: object, side: int) -> None:
    """Make the detector really see at most ``side`` px on the longer side.

    rapidocr-onnxruntime 1.4.4 ignores ``det_limit_side_len`` with ``limit_type="max"``: it
    picks 960, 1500 or 2000 px by the image's own size, so a 2000 px page was detected at
    full size (about 0.6 GiB of activations and seconds of CPU). Recognition still reads
    the text crops from the full-resolution image.
    """
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    detector = ocr.text_det  # type: ignore[attr-defined]
    mean, std = detector.mean, detector.std
    detector.get_preprocess = lambda _longest: DetPreProcess(side, "max", mean, std)
