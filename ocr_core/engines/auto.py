"""The default engine: Tesseract on a cleaned-up page, RapidOCR where Tesseract is unsure.

Per image (each step measured on ../shared/ocr-samples by ``bench/accuracy.py``):

1. Clean: grey, light-on-dark pages inverted, contrast stretched (``preprocess.clean``).
2. Orientation: Tesseract's OSD proposes 90/180/270; applied only above a confidence gate,
   since OSD guesses on pages with little text (it calls a faint receipt upside down at
   confidence 5).
3. Tesseract reads the page. Where its words are small (median height under 20 px) the
   page is read again upscaled to ~32 px text, and the more confident reading is kept.
4. Where Tesseract's confidence is still low (photos, scene text, faint or crumpled
   receipts), or the page is light text on a dark background (slides: Tesseract's global
   threshold loses what stands in the light margins, RapidOCR's detector does not care
   about polarity), and the language is one RapidOCR reads, RapidOCR reads the upright
   original colour image and its result is kept when it is more confident. An image no higher than
   a line of text (a cropped word) goes to its recogniser alone, without detection.

Boxes always refer to the image the engine was given (after EXIF rotation).
"""

from __future__ import annotations

import threading

from PIL import Image

from .. import preprocess
from ..logs import get_logger
from .base import OcrOutput
from .tesseract import TesseractEngine

log = get_logger("engine.auto")

#: OSD confidence needed to turn a page (Tesseract's own default margin is 7).
ORIENTATION_MIN_CONFIDENCE = 7.0
#: Below this Tesseract confidence, RapidOCR gets a turn.
FALLBACK_BELOW = 0.60
#: Images at most this high are one cropped word or line for RapidOCR.
LINE_CROP_MAX_HEIGHT = 96


class AutoEngine:
    name = "auto"

    def __init__(self, tesseract: TesseractEngine, *, use_rapidocr: bool = True) -> None:
        self._tesseract = tesseract
        self.version = f"tesseract {tesseract.version}"
        self._use_rapidocr = use_rapidocr
        self._rapid: object | None = None
        self._rapid_failed = False
        self._rapid_lock = threading.Lock()
        if use_rapidocr and self._rapidocr() is not None:
            rapid_version = getattr(self._rapid, "version", "?")
            self.version = f"tesseract {tesseract.version} + rapidocr {rapid_version}"

    def supported_languages(self) -> list[str]:
        return self._tesseract.supported_languages()

    def _rapidocr(self) -> object | None:
        """RapidOCR, built once per process; None where it cannot load (logged once)."""
        if self._rapid is None and not self._rapid_failed:
            with self._rapid_lock:
                if self._rapid is None and not self._rapid_failed:
                    try:
                        from .rapid import RapidOcrEngine

                        self._rapid = RapidOcrEngine()
                    except Exception:  # e.g. OpenCV without libGL: go on without RapidOCR
                        self._rapid_failed = True
                        log.exception("RapidOCR unavailable; Tesseract alone reads every image")
        return self._rapid

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        lang = self._tesseract.check_lang(lang)
        page, inverted = preprocess.clean(image)
        rotation = self._orientation(page)
        page = preprocess.rotate(page, rotation)
        geometry = preprocess.Geometry(image.width, image.height, rotation)
        best = self._tesseract.recognize(page, lang)

        factor = preprocess.upscale_factor(
            preprocess.median_word_height(best), page.width, page.height
        )
        if factor > 1.0:
            larger = self._tesseract.recognize(preprocess.upscale(page, factor), lang)
            if larger.confidence > best.confidence:
                best, geometry = (
                    larger,
                    preprocess.Geometry(image.width, image.height, rotation, factor),
                )
        result = geometry.map_output(best)

        unsure = best.confidence < FALLBACK_BELOW or inverted
        if unsure and self._rapid_reads(lang):
            rapid = self._rapidocr()
            if rapid is not None:
                other = self._second_opinion(rapid, preprocess.rotate(image, rotation), lang)
                if other and other.text.strip() and other.confidence > best.confidence:
                    result = preprocess.Geometry(image.width, image.height, rotation).map_output(
                        other
                    )
        return result

    def _second_opinion(self, rapid: object, upright: Image.Image, lang: str) -> OcrOutput | None:
        """RapidOCR's reading, or None if it fails: Tesseract's answer still stands."""
        try:
            if upright.height <= LINE_CROP_MAX_HEIGHT:
                return rapid.recognize_line(upright)  # type: ignore[attr-defined,no-any-return]
            return rapid.recognize(upright, lang)  # type: ignore[attr-defined,no-any-return]
        except Exception:  # a fault in the second opinion must not fail the request
            log.exception("RapidOCR failed on an image; keeping Tesseract's reading")
            return None

    def _orientation(self, page: Image.Image) -> int:
        found = self._tesseract.detect_orientation(page)
        if found is None:
            return 0
        degrees, confidence = found
        return degrees if confidence >= ORIENTATION_MIN_CONFIDENCE else 0

    def _rapid_reads(self, lang: str) -> bool:
        from .rapid import LANGUAGES

        return self._use_rapidocr and all(code in LANGUAGES for code in lang.split("+"))
